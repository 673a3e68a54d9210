#pragma once

// Backpressure and the bottleneck of a running job, from the task loads
// (proto::TaskLoad) that workers send with their heartbeats.
//
// A subtask is backpressured when it spends at least kBackpressuredMsPerS
// of each second waiting for free output buffers: something downstream is
// slower than it. The bottleneck is where that slowness comes from: a
// running subtask that is not backpressured itself, has a backpressured
// upstream subtask (over a plan edge; a forward edge counts only the
// subtask with the same index), and is busy: at least kBusyMsPerS, or else
// the busiest such candidate. When several tasks qualify, the busiest is
// named. Pure functions; thread-compatible.

#include "proto/sluice.pb.h"

namespace sluice {

inline constexpr double kBackpressuredMsPerS = 500;
inline constexpr double kBusyMsPerS = 500;

// Sets SubtaskStatus.backpressured on the running subtasks of `status`
// (clearing it on the others) and JobStatus.bottleneck to a readable
// description such as "slow->out subtask 1 (busy 990 ms/s), under
// backpressured src", or to "" when there is none.
void AnnotateLoad(const proto::ExecutionPlan& plan, proto::JobStatus* status);

}  // namespace sluice
