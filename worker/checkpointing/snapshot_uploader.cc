#include "worker/checkpointing/snapshot_uploader.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/checkpoint_layout.h"
#include "common/clock.h"
#include "common/status_macros.h"
#include "store/checkpoint_store.h"

namespace sluice {
namespace fs = std::filesystem;

void SubtaskFiles::Seed(const proto::SubtaskSnapshot& restored) {
  absl::MutexLock lock(&mu_);
  for (const auto& op : restored.operators()) {
    auto& files = files_[op.operator_id()];
    for (const auto& f : op.files()) {
      if (absl::EndsWith(f.name(), ".sst")) files[f.name()] = f;
    }
  }
}

std::optional<proto::StateFile> SubtaskFiles::Find(const std::string& operator_id,
                                                   const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto op = files_.find(operator_id);
  if (op == files_.end()) return std::nullopt;
  auto f = op->second.find(name);
  if (f == op->second.end()) return std::nullopt;
  return f->second;
}

std::optional<proto::StateFile> SubtaskFiles::FindContents(const std::string& operator_id,
                                                           int64_t size,
                                                           const std::string& sha256) const {
  absl::MutexLock lock(&mu_);
  auto op = files_.find(operator_id);
  if (op == files_.end()) return std::nullopt;
  for (const auto& [name, f] : op->second) {
    if (f.size() == size && f.sha256() == sha256) return f;
  }
  return std::nullopt;
}

void SubtaskFiles::Replace(const std::string& operator_id,
                           const std::vector<proto::StateFile>& files) {
  absl::MutexLock lock(&mu_);
  auto& m = files_[operator_id];
  m.clear();
  for (const auto& f : files) m[f.name()] = f;
}

namespace {

// RocksDB names its table files by number; it never reuses a number within
// an instance, nor below the numbers of the checkpoint it was restored
// from, so such a name and size identify the contents. Other names (delta
// files) may recur with other contents after a restore.
bool IsNumberedTableFile(const std::string& name) {
  const size_t dot = name.size() - 4;
  return name.size() > 4 && name.compare(dot, 4, ".sst") == 0 &&
         name.find_first_not_of("0123456789") == dot;
}

// Regular files of `dir`, sorted by name.
absl::StatusOr<std::vector<fs::path>> FilesOf(const std::string& dir) {
  std::error_code ec;
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file()) files.push_back(it->path());
  }
  if (ec) return absl::InternalError(absl::StrCat("cannot list ", dir, ": ", ec.message()));
  std::sort(files.begin(), files.end());
  return files;
}

// Describes the local file `path` as stored: a file `known` holds (by name
// or contents; null: none can be shared), or else uploaded as `key`.
absl::StatusOr<proto::StateFile> StoreFile(ObjectStore& store, const SubtaskFiles* known,
                                           const std::string& operator_id, const fs::path& path,
                                           const std::string& key, int64_t* uploaded) {
  const std::string name = path.filename().string();
  std::error_code ec;
  const auto size = static_cast<int64_t>(fs::file_size(path, ec));
  if (ec) return absl::InternalError(absl::StrCat("cannot stat ", path.string()));
  if (known != nullptr && IsNumberedTableFile(name)) {
    std::optional<proto::StateFile> stored = known->Find(operator_id, name);
    if (stored.has_value() && stored->size() == size) return *stored;
  }
  ASSIGN_OR_RETURN(std::string sha, Sha256OfFile(path.string()));
  if (known != nullptr) {
    std::optional<proto::StateFile> stored = known->FindContents(operator_id, size, sha);
    if (stored.has_value()) {
      stored->set_name(name);  // the same contents under another name
      return *stored;
    }
  }
  proto::StateFile f;
  f.set_name(name);
  f.set_size(size);
  f.set_sha256(std::move(sha));
  f.set_key(key);
  RETURN_IF_ERROR(store.PutFile(f.key(), path.string()));
  *uploaded += size;
  return f;
}

}  // namespace

void WaitForSnapshotFiles(const LocalSnapshot& snapshot) {
  for (const auto& op : snapshot.operators) {
    if (op.complete_files) op.complete_files().IgnoreError();  // only waiting here
  }
}

absl::StatusOr<proto::SubtaskSnapshot> UploadSnapshot(ObjectStore& store,
                                                      const LocalSnapshot& snapshot,
                                                      SubtaskFiles& known) {
  const int64_t start = Clock::Steady().NowMs();
  const CheckpointBarrier& b = snapshot.barrier;
  const bool savepoint = b.kind == proto::SAVEPOINT;
  proto::SubtaskSnapshot out;
  out.set_task(snapshot.task);
  out.set_subtask(snapshot.subtask);
  out.set_key_group_start(snapshot.key_group_start);
  out.set_key_group_end(snapshot.key_group_end);
  if (snapshot.position.has_value()) out.set_source_position(*snapshot.position);
  out.set_sync_ms(snapshot.sync_ms);
  out.set_alignment_ms(snapshot.alignment_ms);
  out.set_finished(snapshot.finished);
  int64_t state_bytes = 0, uploaded = 0;
  for (const auto& op : snapshot.operators) {
    proto::OperatorState* state = out.add_operators();
    state->set_operator_id(op.operator_id);
    state->set_small_state(op.small_state);
    state_bytes += static_cast<int64_t>(op.small_state.size());
    if (op.keyed_dir.empty()) continue;
    if (op.complete_files) {
      absl::Status complete = op.complete_files();
      if (!complete.ok()) {
        return absl::Status(complete.code(),
                            absl::StrCat("snapshot of ", op.operator_id, " subtask ",
                                         snapshot.subtask, ": ", complete.message()));
      }
    }
    ASSIGN_OR_RETURN(std::vector<fs::path> files, FilesOf(op.keyed_dir));
    const std::string private_prefix = PrivateFilePrefix(
        snapshot.job_id, b.id, b.kind, b.savepoint_name, op.operator_id, snapshot.subtask);
    std::vector<proto::StateFile> shared;
    for (const fs::path& path : files) {
      const std::string name = path.filename().string();
      const bool sst = !savepoint && absl::EndsWith(name, ".sst");
      const std::string key = sst ? SharedFileKey(snapshot.job_id, op.operator_id, snapshot.subtask,
                                                  snapshot.attempt, name)
                                  : private_prefix + name;
      absl::StatusOr<proto::StateFile> f =
          StoreFile(store, sst ? &known : nullptr, op.operator_id, path, key, &uploaded);
      if (!f.ok()) {
        return absl::Status(f.status().code(),
                            absl::StrCat("uploading state of ", op.operator_id, " subtask ",
                                         snapshot.subtask, ": ", f.status().message()));
      }
      state_bytes += f->size();
      if (sst) shared.push_back(*f);
      *state->add_files() = *std::move(f);
    }
    if (!savepoint) known.Replace(op.operator_id, shared);
  }
  out.set_state_bytes(state_bytes);
  out.set_uploaded_bytes(uploaded);
  out.set_async_ms(Clock::Steady().NowMs() - start);
  return out;
}

absl::Status DownloadOperatorState(ObjectStore& store, const proto::OperatorState& state,
                                   const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  for (const auto& f : state.files()) {
    if (f.name().empty() || f.name().find('/') != std::string::npos || f.name()[0] == '.') {
      return absl::DataLossError(absl::StrCat("checkpoint lists a bad file name '", f.name(), "'"));
    }
    const std::string path = absl::StrCat(dir, "/", f.name());
    absl::Status got = store.GetFile(f.key(), path);
    if (!got.ok()) {
      return absl::Status(got.code(), absl::StrCat("restoring state of ", state.operator_id(), ": ",
                                                   got.message()));
    }
    const auto size = static_cast<int64_t>(fs::file_size(path, ec));
    ASSIGN_OR_RETURN(std::string sha, Sha256OfFile(path));
    if (ec || size != f.size() || sha != f.sha256()) {
      return absl::DataLossError(
          absl::StrCat("state file ", store.uri(), "/", f.key(), " of operator ",
                       state.operator_id(), " is corrupt: expected ", f.size(),
                       " bytes with SHA-256 ", f.sha256(), ", got ", size, " bytes with ", sha));
    }
  }
  return absl::OkStatus();
}

SnapshotUploader::SnapshotUploader() : thread_([this] { Run(); }) {}

SnapshotUploader::~SnapshotUploader() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    queue_.clear();
  }
  thread_.join();
}

void SnapshotUploader::Submit(absl::AnyInvocable<void()> work) {
  absl::MutexLock lock(&mu_);
  if (!stopping_) queue_.push_back(std::move(work));
}

void SnapshotUploader::Run() {
  while (true) {
    absl::AnyInvocable<void()> work;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](SnapshotUploader* u)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(u->mu_) { return u->stopping_ || !u->queue_.empty(); },
          this));
      if (stopping_) return;
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    work();
  }
}

}  // namespace sluice
