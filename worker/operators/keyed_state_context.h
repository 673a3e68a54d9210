#pragma once

// What the stateful operators share: their keyed state's options from the
// operator's context, and errors that name the operator.

#include <string>

#include "absl/status/statusor.h"
#include "catalog/operator.h"
#include "state/keyed_state.h"

namespace sluice {

// The directory an operator's keyed state lives in when its task gives it
// none (tests): a temporary one, removed by the destructor. Declare it
// before the state, so the state closes first.
class PrivateStateDir {
 public:
  PrivateStateDir() = default;
  PrivateStateDir(const PrivateStateDir&) = delete;
  PrivateStateDir& operator=(const PrivateStateDir&) = delete;
  ~PrivateStateDir();

 private:
  friend absl::StatusOr<KeyedStateOptions> KeyedStateOptionsFor(const OperatorContext& ctx,
                                                                PrivateStateDir* private_dir);
  std::string path_;
};

// Options for the subtask's keyed state: `<state dir>/keyed`, its key
// groups, max parallelism and memory budget, and the restored files (when
// ctx.restore has them). The caller sets value_width and on_new_group.
absl::StatusOr<KeyedStateOptions> KeyedStateOptionsFor(const OperatorContext& ctx,
                                                       PrivateStateDir* private_dir);

// `status` with "operator '<id>': " before its message (OK stays OK).
absl::Status InOperator(const OperatorContext& ctx, const absl::Status& status);

}  // namespace sluice
