#include "common/checkpoint_layout.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace sluice {

std::string CheckpointDir(const std::string& job_id, int64_t checkpoint_id) {
  return absl::StrCat(job_id, "/chk-", checkpoint_id, "/");
}

std::string SavepointDir(const std::string& name) {
  return absl::StrCat(kSavepointsDir, "/", name, "/");
}

std::string PrivateFilePrefix(const std::string& job_id, int64_t checkpoint_id,
                              proto::CheckpointKind kind, const std::string& savepoint_name,
                              const std::string& operator_id, int subtask) {
  const std::string dir = kind == proto::SAVEPOINT ? SavepointDir(savepoint_name)
                                                   : CheckpointDir(job_id, checkpoint_id);
  return absl::StrCat(dir, operator_id, "-", subtask, "/");
}

std::string SharedFileKey(const std::string& job_id, const std::string& operator_id, int subtask,
                          int64_t attempt, const std::string& file) {
  return absl::StrCat(job_id, "/shared/", operator_id, "-", subtask, "/a", attempt, "-", file);
}

std::optional<int64_t> CheckpointIdOfKey(const std::string& job_id, const std::string& full_key) {
  const std::string prefix = absl::StrCat(job_id, "/chk-");
  if (!absl::StartsWith(full_key, prefix)) return std::nullopt;
  absl::string_view key(full_key);
  key.remove_prefix(prefix.size());
  const size_t slash = key.find('/');
  if (slash == absl::string_view::npos) return std::nullopt;
  int64_t id = 0;
  if (!absl::SimpleAtoi(key.substr(0, slash), &id) || id <= 0) return std::nullopt;
  return id;
}

std::optional<int64_t> AttemptOfSharedKey(const std::string& job_id, const std::string& full_key) {
  const std::string prefix = absl::StrCat(job_id, "/shared/");
  if (!absl::StartsWith(full_key, prefix)) return std::nullopt;
  absl::string_view key(full_key);
  key.remove_prefix(prefix.size());
  const size_t slash = key.find('/');
  if (slash == absl::string_view::npos || key.substr(slash + 1, 1) != "a") return std::nullopt;
  key.remove_prefix(slash + 2);
  const size_t dash = key.find('-');
  int64_t attempt = 0;
  if (dash == absl::string_view::npos || !absl::SimpleAtoi(key.substr(0, dash), &attempt)) {
    return std::nullopt;
  }
  return attempt;
}

absl::Status ValidateSavepointName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 128 && name[0] != '.';
  for (char c : name) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '-');
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "savepoint name '", name, "' is not valid: use 1 to 128 letters, digits, '.', '_' or '-'"));
}

}  // namespace sluice
