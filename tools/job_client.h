#pragma once

// Client-side helpers over CoordinatorService shared by the CLI commands.

#include <iosfwd>
#include <string>

#include "absl/status/statusor.h"
#include "proto/sluice.grpc.pb.h"

namespace sluice {

// `restore`: a savepoint name, checkpoint (JOB_ID:N or N) or _metadata URI
// to start from; empty: a fresh start.
absl::StatusOr<std::string> SubmitJob(proto::CoordinatorService::Stub& stub,
                                      const proto::JobGraph& graph,
                                      const std::string& restore = "");
// `wait_for_ready`: wait up to 10 s for a coordinator that is not reachable
// yet (starting); otherwise fail within 2 s.
absl::StatusOr<proto::JobStatus> DescribeJob(proto::CoordinatorService::Stub& stub,
                                             const std::string& job_id, bool wait_for_ready = true);
// How long WaitForJob waits for a coordinator that stopped answering.
inline constexpr int64_t kLostCoordinatorMs = 5'000;
// Polls until the job reaches a terminal state; `interrupted` (may be null)
// is checked between polls and cancels the job when set. Unavailable when
// the coordinator has not answered for kLostCoordinatorMs.
absl::StatusOr<proto::JobStatus> WaitForJob(proto::CoordinatorService::Stub& stub,
                                            const std::string& job_id,
                                            const volatile bool* interrupted);

// Human-readable status: state, failure, bottleneck, and per operator and
// subtask its worker, state, record counts and load (busy and backpressured
// ms per second, with backpressured subtasks marked).
void PrintJobStatus(const proto::JobStatus& status, std::ostream& out);

bool IsTerminalJobState(proto::JobState s);

}  // namespace sluice
