#include "coordinator/restore.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/checkpoint_layout.h"
#include "common/status_macros.h"
#include "store/checkpoint_store.h"

namespace sluice {
namespace {

bool IsMetadataKey(absl::string_view key) {
  return absl::EndsWith(key, absl::StrCat("/", kMetadataFile));
}

// "name" for savepoints/<name>/_metadata, "JOB:N" for <job>/chk-<n>/_metadata.
std::string Describe(absl::string_view key) {
  std::vector<absl::string_view> parts = absl::StrSplit(key, '/');
  if (parts.size() == 3 && parts[0] == kSavepointsDir) return std::string(parts[1]);
  if (parts.size() == 3 && absl::StartsWith(parts[1], "chk-")) {
    return absl::StrCat(parts[0], ":", parts[1].substr(4));
  }
  return std::string(key);
}

absl::Status NotFound(ObjectStore& store, absl::string_view spec) {
  std::vector<std::string> savepoints, checkpoints;
  absl::StatusOr<std::vector<ObjectInfo>> all = store.List("");
  if (all.ok()) {
    for (const auto& o : *all) {
      if (!IsMetadataKey(o.key)) continue;
      (absl::StartsWith(o.key, kSavepointsDir) ? savepoints : checkpoints)
          .push_back(Describe(o.key));
    }
  }
  if (checkpoints.size() > 20) {
    checkpoints.erase(checkpoints.begin(), checkpoints.end() - 20);
    checkpoints.insert(checkpoints.begin(), "...");
  }
  return absl::NotFoundError(absl::StrCat(
      "nothing to restore named '", spec, "' in ", store.uri(),
      ". Savepoints: ", savepoints.empty() ? "none" : absl::StrJoin(savepoints, ", "),
      ". Checkpoints: ", checkpoints.empty() ? "none" : absl::StrJoin(checkpoints, ", ")));
}

}  // namespace

absl::Status VerifySnapshotFiles(ObjectStore& store, const proto::CheckpointMetadata& metadata) {
  const std::string what = metadata.kind() == proto::SAVEPOINT
                               ? absl::StrCat("savepoint '", metadata.name(), "'")
                               : absl::StrCat("checkpoint ", metadata.checkpoint_id());
  std::error_code ec;
  const std::filesystem::path tmp =
      std::filesystem::temp_directory_path(ec) /
      absl::StrCat("sluice-verify-", getpid(), "-", reinterpret_cast<uintptr_t>(&metadata));
  std::set<std::string> seen;
  absl::Status result;
  for (const auto& s : metadata.subtasks()) {
    for (const auto& op : s.operators()) {
      for (const auto& f : op.files()) {
        if (!result.ok() || !seen.insert(f.key()).second) continue;
        absl::Status got = store.GetFile(f.key(), tmp.string());
        if (!got.ok()) {
          result =
              absl::DataLossError(absl::StrCat(what, " cannot be restored: its file ", store.uri(),
                                               "/", f.key(), " cannot be read: ", got.message()));
          continue;
        }
        const auto size = static_cast<int64_t>(std::filesystem::file_size(tmp, ec));
        absl::StatusOr<std::string> sha = Sha256OfFile(tmp.string());
        if (ec || !sha.ok() || size != f.size() || *sha != f.sha256()) {
          result = absl::DataLossError(
              absl::StrCat(what, " cannot be restored: its file ", store.uri(), "/", f.key(),
                           " has ", size, " bytes with SHA-256 ", sha.ok() ? *sha : "?",
                           "; the checkpoint lists ", f.size(), " bytes with ", f.sha256()));
        }
      }
    }
  }
  std::filesystem::remove(tmp, ec);
  return result;
}

absl::StatusOr<proto::CheckpointMetadata> ReadMetadata(ObjectStore& store, const std::string& key) {
  ASSIGN_OR_RETURN(std::string bytes, store.Get(key));
  proto::CheckpointMetadata m;
  if (!m.ParseFromString(bytes)) {
    return absl::DataLossError(absl::StrCat(store.uri(), "/", key, " is not checkpoint metadata"));
  }
  m.set_location(absl::StrCat(store.uri(), "/", key));
  return m;
}

absl::StatusOr<proto::CheckpointMetadata> ResolveRestore(ObjectStore& store,
                                                         const std::string& spec_text) {
  const absl::string_view spec = absl::StripAsciiWhitespace(spec_text);
  std::string key;
  int64_t n = 0;
  if (spec.find("://") != absl::string_view::npos) {
    const std::string root = absl::StrCat(store.uri(), "/");
    if (!absl::StartsWith(spec, root)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot restore from ", spec, ": it is not in the job's checkpoint store ", store.uri()));
    }
    key = std::string(spec.substr(root.size()));
    while (absl::EndsWith(key, "/")) key.pop_back();
    if (!IsMetadataKey(key)) key = absl::StrCat(key, "/", kMetadataFile);
  } else if (absl::SimpleAtoi(spec, &n)) {
    std::vector<std::string> matches;
    ASSIGN_OR_RETURN(std::vector<ObjectInfo> all, store.List(""));
    const std::string suffix = absl::StrCat("/chk-", n, "/", kMetadataFile);
    for (const auto& o : all) {
      if (absl::EndsWith(o.key, suffix)) matches.push_back(o.key);
    }
    if (matches.size() > 1) {
      std::vector<std::string> named;
      for (const auto& m : matches) named.push_back(Describe(m));
      return absl::InvalidArgumentError(absl::StrCat("checkpoint ", n, " exists for several jobs (",
                                                     absl::StrJoin(named, ", "),
                                                     "): name one as JOB_ID:", n));
    }
    if (matches.empty()) return NotFound(store, spec);
    key = matches[0];
  } else if (std::pair<std::string, std::string> p = absl::StrSplit(spec, absl::MaxSplits(':', 1));
             !p.second.empty() && absl::SimpleAtoi(p.second, &n)) {
    key = absl::StrCat(CheckpointDir(p.first, n), kMetadataFile);
  } else {
    RETURN_IF_ERROR(ValidateSavepointName(std::string(spec)));
    key = absl::StrCat(SavepointDir(std::string(spec)), kMetadataFile);
  }
  absl::StatusOr<proto::CheckpointMetadata> m = ReadMetadata(store, key);
  if (absl::IsNotFound(m.status())) return NotFound(store, spec);
  return m;
}

absl::Status CheckRestoreFits(const proto::ExecutionPlan& plan,
                              const proto::CheckpointMetadata& metadata) {
  const std::string what =
      absl::StrCat(metadata.kind() == proto::SAVEPOINT ? "savepoint '" : "checkpoint '",
                   metadata.kind() == proto::SAVEPOINT
                       ? metadata.name()
                       : absl::StrCat(metadata.job_id(), ":", metadata.checkpoint_id()),
                   "'");
  if (metadata.graph().max_parallelism() != plan.graph().max_parallelism()) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, " has max_parallelism ", metadata.graph().max_parallelism(), ", the job ",
        plan.graph().max_parallelism(), ": key groups must stay the same"));
  }
  std::map<int, std::set<int>> seen;
  for (const auto& s : metadata.subtasks()) {
    if (s.task() < 0 || s.task() >= plan.tasks_size()) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, " has state for task ", s.task(), ", which this job does not have"));
    }
    const proto::TaskSpec& t = plan.tasks(s.task());
    for (const auto& op : s.operators()) {
      if (std::find(t.operator_ids().begin(), t.operator_ids().end(), op.operator_id()) ==
          t.operator_ids().end()) {
        return absl::FailedPreconditionError(absl::StrCat(
            what, " has state for operator '", op.operator_id(), "' in task ", s.task(),
            ", which this job does not have there: restore into the same job graph"));
      }
    }
    seen[s.task()].insert(s.subtask());
  }
  for (const auto& t : plan.tasks()) {
    const size_t n = seen[t.index()].size();
    if (n != static_cast<size_t>(t.parallelism())) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, " has ", n, " subtasks of task ",
                       absl::StrJoin(t.operator_ids(), "->"), ", the job ", t.parallelism(),
                       ": restoring at another parallelism is not supported yet"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<StoredCheckpoints> FindCheckpoints(ObjectStore& store, const std::string& job_id) {
  StoredCheckpoints out;
  ASSIGN_OR_RETURN(std::vector<ObjectInfo> files, store.List(absl::StrCat(job_id, "/chk-")));
  std::set<int64_t> complete;
  for (const auto& f : files) {
    std::optional<int64_t> id = CheckpointIdOfKey(job_id, f.key);
    if (!id.has_value()) continue;
    out.max_seen_id = std::max(out.max_seen_id, *id);
    if (f.key == absl::StrCat(CheckpointDir(job_id, *id), kMetadataFile)) complete.insert(*id);
  }
  for (int64_t id : complete) {
    absl::StatusOr<proto::CheckpointMetadata> m =
        ReadMetadata(store, absl::StrCat(CheckpointDir(job_id, id), kMetadataFile));
    if (absl::IsNotFound(m.status())) continue;  // deleted meanwhile by retention
    if (absl::IsDataLoss(m.status())) {
      out.unreadable.push_back(std::string(m.status().message()));
      continue;
    }
    if (!m.ok()) return m.status();
    out.completed.push_back(*std::move(m));
  }
  return out;
}

}  // namespace sluice
