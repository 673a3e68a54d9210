#include "worker/operators/keyed_state_context.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace sluice {

PrivateStateDir::~PrivateStateDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

absl::StatusOr<KeyedStateOptions> KeyedStateOptionsFor(const OperatorContext& ctx,
                                                       PrivateStateDir* private_dir) {
  std::string dir = ctx.state_dir;
  if (dir.empty()) {
    ASSIGN_OR_RETURN(private_dir->path_, MakeTemporaryStateDir());
    dir = private_dir->path_;
  }
  KeyedStateOptions options;
  options.dir = (std::filesystem::path(dir) / "keyed").string();
  options.max_parallelism = std::max(1, ctx.max_parallelism);  // as routing does
  options.key_group_start = ctx.key_group_start;
  options.key_group_end = ctx.key_group_end;
  options.memory_budget = ctx.state_memory_budget;
  if (ctx.restore != nullptr) options.restore_dir = ctx.restore->keyed_dir;
  return options;
}

absl::Status InOperator(const OperatorContext& ctx, const absl::Status& status) {
  if (status.ok() || ctx.spec == nullptr) return status;
  return absl::Status(status.code(),
                      absl::StrCat("operator '", ctx.spec->id(), "': ", status.message()));
}

}  // namespace sluice
