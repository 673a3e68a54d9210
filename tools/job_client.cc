#include "tools/job_client.h"

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <map>
#include <ostream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/grpc_util.h"

namespace sluice {

bool IsTerminalJobState(proto::JobState s) {
  return s == proto::FINISHED || s == proto::FAILED || s == proto::CANCELED;
}

absl::StatusOr<std::string> SubmitJob(proto::CoordinatorService::Stub& stub,
                                      const proto::JobGraph& graph, const std::string& restore) {
  proto::SubmitJobRequest req;
  *req.mutable_graph() = graph;
  req.set_restore(restore);
  proto::SubmitJobResponse resp;
  grpc::ClientContext ctx;
  SetDeadlineMs(&ctx, 30'000);
  ctx.set_wait_for_ready(true);  // a coordinator still starting is waited for, not failed
  absl::Status s = FromGrpcStatus(stub.SubmitJob(&ctx, req, &resp), "submit");
  if (!s.ok()) return s;
  return resp.job_id();
}

absl::StatusOr<proto::JobStatus> DescribeJob(proto::CoordinatorService::Stub& stub,
                                             const std::string& job_id, bool wait_for_ready) {
  proto::DescribeJobRequest req;
  req.set_job_id(job_id);
  proto::JobStatus resp;
  grpc::ClientContext ctx;
  SetDeadlineMs(&ctx, wait_for_ready ? 10'000 : 2'000);
  ctx.set_wait_for_ready(wait_for_ready);
  absl::Status s = FromGrpcStatus(stub.DescribeJob(&ctx, req, &resp), "status");
  if (!s.ok()) return s;
  return resp;
}

namespace {

bool AllSubtasksEnded(const proto::JobStatus& status) {
  for (const auto& s : status.subtasks()) {
    if (s.state() != proto::TASK_FINISHED && s.state() != proto::TASK_FAILED &&
        s.state() != proto::TASK_CANCELED) {
      return false;
    }
  }
  return true;
}

// A job is declared FAILED or CANCELED before its other subtasks have
// reported how they ended; wait briefly for their final states and counts.
proto::JobStatus SettleSubtasks(proto::CoordinatorService::Stub& stub, proto::JobStatus status) {
  for (int i = 0; i < 30 && !AllSubtasksEnded(status); ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    auto again = DescribeJob(stub, status.job_id(), /*wait_for_ready=*/true);
    if (!again.ok()) break;
    status = *std::move(again);
  }
  return status;
}

}  // namespace

absl::StatusOr<proto::JobStatus> WaitForJob(proto::CoordinatorService::Stub& stub,
                                            const std::string& job_id,
                                            const volatile bool* interrupted) {
  bool cancel_sent = false;
  int64_t unanswered_since_ms = -1;
  while (true) {
    if (interrupted != nullptr && *interrupted && !cancel_sent) {
      proto::CancelJobRequest req;
      req.set_job_id(job_id);
      proto::CancelJobResponse resp;
      grpc::ClientContext ctx;
      SetDeadlineMs(&ctx, 10'000);
      ctx.set_wait_for_ready(true);
      stub.CancelJob(&ctx, req, &resp);
      cancel_sent = true;
    }
    // Polls fail fast: a coordinator that went away is reported within
    // kLostCoordinatorMs, not after every retry has waited for it.
    const auto steady_ms = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now().time_since_epoch())
          .count();
    };
    const int64_t asked = steady_ms();
    auto st = DescribeJob(stub, job_id, /*wait_for_ready=*/false);
    const int64_t now = steady_ms();
    if (st.ok()) {
      unanswered_since_ms = -1;
      if (IsTerminalJobState(st->state())) return SettleSubtasks(stub, *std::move(st));
    } else if (!absl::IsUnavailable(st.status()) && !absl::IsDeadlineExceeded(st.status()) &&
               !absl::IsUnknown(st.status()) && !absl::IsInternal(st.status())) {
      return st.status();  // an answer: the job is unknown, say
    } else if (unanswered_since_ms < 0) {
      unanswered_since_ms = asked;  // a coordinator that dies mid-call says UNKNOWN or INTERNAL
    }
    if (unanswered_since_ms >= 0 && now - unanswered_since_ms >= kLostCoordinatorMs) {
      return absl::UnavailableError(absl::StrCat(
          "no answer for ", kLostCoordinatorMs / 1000, " s while waiting for job ", job_id, " (",
          st.status().message(),
          "); the job may still run if the coordinator comes back: see `sluice status ", job_id,
          "`"));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
}

void PrintJobStatus(const proto::JobStatus& status, std::ostream& out) {
  out << "job " << status.job_id() << " (" << status.name()
      << "): " << proto::JobState_Name(status.state()) << "\n";
  if (!status.failure().empty()) out << "  failure: " << status.failure() << "\n";
  if ((status.state() == proto::CREATED || status.state() == proto::RESTARTING) &&
      !status.pending_reason().empty()) {
    out << "  " << status.pending_reason() << "\n";
  }
  if (status.attempt() > 1 || status.restarts() > 0) {
    out << "  attempt " << status.attempt() << ", " << status.restarts() << " restart(s)";
    if (!status.last_restart_reason().empty()) {
      out << "; last restart: " << status.last_restart_reason();
    }
    out << "\n";
  }
  if (!status.restored_from().empty()) out << "  restored from " << status.restored_from() << "\n";
  if (status.last_checkpoint_id() > 0) {
    out << "  last completed checkpoint: " << status.last_checkpoint_id() << "\n";
  }
  if (!status.bottleneck().empty()) out << "  bottleneck: " << status.bottleneck() << "\n";
  if (status.end_time_ms() > 0 && status.submit_time_ms() > 0) {
    out << "  duration: " << (status.end_time_ms() - status.submit_time_ms()) / 1000.0 << " s\n";
  }
  struct Row {
    int subtask;
    std::string worker, state;
    proto::OperatorMetrics m;
    const proto::SubtaskStatus* st;
  };
  std::map<std::string, std::vector<Row>> rows;
  bool any_load = false;
  for (const auto& st : status.subtasks()) {
    std::string state = proto::TaskState_Name(st.state());
    if (state.starts_with("TASK_")) state = state.substr(5);
    if (st.state() == proto::TASK_RUNNING && st.finishing()) state = "FINISHING";
    any_load = any_load || (st.state() == proto::TASK_RUNNING && st.has_load());
    for (const auto& m : st.operators())
      rows[m.operator_id()].push_back({st.subtask(), st.worker_id(), state, m, &st});
  }
  if (rows.empty()) return;
  // Load (ms per second) of a running subtask, "-" when there is none.
  auto load = [](const proto::SubtaskStatus& st, double ms) {
    if (st.state() != proto::TASK_RUNNING || !st.has_load()) return std::string("-");
    return std::to_string(static_cast<int64_t>(ms + 0.5));
  };
  // Wide enough for every id (a side output's sink is named op:port).
  int id_width = 16;
  for (const auto& op : status.operator_ids()) {
    id_width = std::max(id_width, static_cast<int>(op.size()) + 2);
  }
  out << std::left << std::setw(id_width) << "operator" << std::setw(9) << "subtask"
      << std::setw(11) << "worker" << std::setw(11) << "state" << std::right << std::setw(12)
      << "records_in" << std::setw(13) << "records_out" << std::setw(13) << "dead_letter"
      << std::setw(10) << "on_time" << std::setw(9) << "updated" << std::setw(8) << "late"
      << std::setw(7) << "busy" << std::setw(7) << "bp"
      << "\n";
  for (const auto& op : status.operator_ids()) {
    auto& list = rows[op];
    std::sort(list.begin(), list.end(),
              [](const Row& a, const Row& b) { return a.subtask < b.subtask; });
    for (const Row& r : list) {
      out << std::left << std::setw(id_width) << op << std::setw(9) << r.subtask << std::setw(11)
          << r.worker << std::setw(11) << r.state << std::right << std::setw(12) << r.m.records_in()
          << std::setw(13) << r.m.records_out() << std::setw(13) << r.m.dead_letter()
          << std::setw(10) << r.m.on_time() << std::setw(9) << r.m.updated() << std::setw(8)
          << r.m.late() << std::setw(7) << load(*r.st, r.st->load().busy_ms_per_s()) << std::setw(7)
          << load(*r.st, r.st->load().backpressured_ms_per_s())
          << (r.st->backpressured() ? "  backpressured" : "") << "\n";
    }
  }
  if (any_load) {
    out << "busy, bp: ms per second processing, and waiting for output buffers (backpressured "
           "from 500)\n";
  }
  for (const auto& op : status.operator_ids()) {
    int64_t duplicates = 0;
    for (const Row& r : rows[op]) duplicates += r.m.duplicates();
    if (duplicates > 0) out << op << ": " << duplicates << " duplicate(s) dropped\n";
  }
}

}  // namespace sluice
