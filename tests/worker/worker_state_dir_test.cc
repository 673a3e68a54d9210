// A worker's local state directory under the system's temporary directory:
// a worker killed with -9 cannot remove it, so the next worker does.

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "worker/worker.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

// The id of a process that has exited.
pid_t DeadPid() {
  const pid_t child = fork();
  if (child == 0) _exit(0);
  int status = 0;
  waitpid(child, &status, 0);
  return child;
}

TEST(WorkerStateDirTest, AStartingWorkerRemovesTheDirectoriesOfGoneWorkers) {
  const fs::path tmp = fs::temp_directory_path();
  const fs::path gone = tmp / absl::StrCat("sluice-worker-", DeadPid(), "-1");
  const fs::path alive = tmp / absl::StrCat("sluice-worker-", getppid(), "-1");
  const fs::path other = tmp / absl::StrCat("sluice-workers-", DeadPid());
  for (const fs::path& d : {gone, alive, other}) {
    fs::create_directories(d / "db");
  }
  {
    Worker worker(WorkerOptions{});
    EXPECT_FALSE(fs::exists(gone));
    EXPECT_TRUE(fs::exists(alive));  // its process runs
    EXPECT_TRUE(fs::exists(other));  // not a worker's
  }
  fs::remove_all(alive);
  fs::remove_all(other);
}

}  // namespace
}  // namespace sluice
