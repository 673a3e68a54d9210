#include "tests/store/s3_test_server.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

extern char** environ;

namespace sluice::testing {
namespace {

class ServerProcess {
 public:
  ~ServerProcess() { Stop(); }

  // Without --dir, the server makes a temp directory and removes it when it
  // exits, even if this process dies first.
  absl::Status Start() {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
      return absl::InternalError("pipe2 failed");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    std::string python = "/usr/bin/python3", script = SLUICE_S3_SERVER_SCRIPT;
    char* argv[] = {python.data(), script.data(), nullptr};
    const int rc = ::posix_spawn(&pid_, python.c_str(), &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    if (rc != 0) {
      pid_ = -1;
      return absl::InternalError(absl::StrCat("cannot run ", python, ": ", strerror(rc)));
    }
    // Wait for the one JSON line that says it is ready.
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (line.find('\n') == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{stdout_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        return absl::DeadlineExceededError("s3_server.py did not get ready within 30 s");
      }
      char buffer[4096];
      const ssize_t n = ::read(stdout_, buffer, sizeof(buffer));
      if (n <= 0) {
        return absl::FailedPreconditionError(
            "s3_server.py exited before it was ready (see its message above; is s3rver "
            "installed? run tools/install-deps.sh)");
      }
      line.append(buffer, static_cast<size_t>(n));
    }
    const nlohmann::json j = nlohmann::json::parse(line.substr(0, line.find('\n')));
    info_.endpoint = j.at("endpoint");
    info_.bucket = j.at("bucket");
    info_.access_key = j.at("access_key");
    info_.secret_key = j.at("secret_key");
    info_.region = j.at("region");
    return absl::OkStatus();
  }

  void Stop() {
    if (stdin_ >= 0) ::close(stdin_);  // the server stops when its stdin closes...
    stdin_ = -1;
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);  // ...or on SIGTERM, whichever it sees first
      int status = 0;
      for (int i = 0; i < 100 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (i == 99) {
          ::kill(pid_, SIGKILL);
          ::waitpid(pid_, &status, 0);
        }
      }
      pid_ = -1;
    }
    if (stdout_ >= 0) ::close(stdout_);
    stdout_ = -1;
  }

  const S3ServerInfo& info() const { return info_; }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  S3ServerInfo info_;
};

std::mutex server_mu;
ServerProcess* server = nullptr;  // guarded by server_mu
absl::Status server_status;       // guarded by server_mu

class StopServerEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    std::lock_guard<std::mutex> lock(server_mu);
    delete server;
    server = nullptr;
  }
};

[[maybe_unused]] ::testing::Environment* const kStopServer =
    ::testing::AddGlobalTestEnvironment(new StopServerEnvironment);

size_t AppendBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

absl::StatusOr<std::string> Control(const std::string& method, const std::string& path) {
  absl::StatusOr<S3ServerInfo> info = SharedS3Server();
  if (!info.ok()) return info.status();
  CURL* curl = curl_easy_init();
  std::string body;
  const std::string url = info->endpoint + path;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  const CURLcode code = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  if (code != CURLE_OK || status != 200) {
    return absl::InternalError(absl::StrCat("proxy control ", path, " failed: HTTP ", status));
  }
  return body;
}

}  // namespace

absl::StatusOr<S3ServerInfo> SharedS3Server() {
  std::lock_guard<std::mutex> lock(server_mu);
  if (server == nullptr && server_status.ok()) {
    auto process = std::make_unique<ServerProcess>();
    server_status = process->Start();
    if (server_status.ok()) server = process.release();
  }
  if (!server_status.ok()) return server_status;
  return server->info();
}

absl::Status InjectS3Failures(const std::string& method, int status, int count) {
  std::string path = absl::StrCat("/__control/fail?status=", status, "&count=", count);
  if (!method.empty()) absl::StrAppend(&path, "&method=", method);
  return Control("POST", path).status();
}

absl::StatusOr<int> S3RequestCount(const std::string& method) {
  absl::StatusOr<std::string> body = Control("GET", "/__control/stats");
  if (!body.ok()) return body.status();
  const nlohmann::json stats = nlohmann::json::parse(*body);
  if (method == "rejected") return stats.at("rejected").get<int>();
  return stats.at("requests").value(method, 0);
}

}  // namespace sluice::testing
