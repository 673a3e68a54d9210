#include "worker/checkpointing/checkpoint_reporter.h"

#include <algorithm>
#include <cstdio>

#include "absl/time/clock.h"
#include "common/clock.h"
#include "common/grpc_util.h"

namespace sluice {
namespace {

constexpr int64_t kCallDeadlineMs = 5000;

const std::string& JobOf(const proto::CheckpointAck& a) { return a.job_id(); }
const std::string& JobOf(const proto::CheckpointDecline& d) { return d.job_id(); }

}  // namespace

struct GrpcCheckpointReporter::Call {
  grpc::ClientContext ctx;
  proto::CheckpointReply reply;
  Waiting waiting;
};

GrpcCheckpointReporter::GrpcCheckpointReporter(proto::CoordinatorService::Stub* stub, LiveFn live,
                                               int64_t retry_for_ms)
    : stub_(*stub), live_(std::move(live)), retry_for_ms_(retry_for_ms) {
  thread_ = std::thread([this] { RetryLoop(); });
}

GrpcCheckpointReporter::~GrpcCheckpointReporter() {
  std::vector<std::shared_ptr<Call>> calls;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    calls = calls_;
  }
  for (auto& c : calls) c->ctx.TryCancel();
  calls.clear();
  thread_.join();
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return in_flight_ == 0; };
  mu_.Await(absl::Condition(&idle));
}

void GrpcCheckpointReporter::Ack(proto::CheckpointAck ack) {
  Send(Waiting{std::move(ack), Clock::Steady().NowMs(), 0, 0});
}

void GrpcCheckpointReporter::Decline(proto::CheckpointDecline decline) {
  Send(Waiting{std::move(decline), Clock::Steady().NowMs(), 0, 0});
}

void GrpcCheckpointReporter::Send(Waiting w) {
  auto call = std::make_shared<Call>();
  call->waiting = std::move(w);
  ++call->waiting.tries;
  SetDeadlineMs(&call->ctx, kCallDeadlineMs);
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    ++in_flight_;
    calls_.push_back(call);
  }
  auto done = [this, call](grpc::Status s) {
    {
      absl::MutexLock lock(&mu_);
      calls_.erase(std::find(calls_.begin(), calls_.end(), call));
    }
    Done(std::move(call->waiting), s.ok(), s.error_message());
    absl::MutexLock lock(&mu_);
    --in_flight_;
  };
  if (const auto* ack = std::get_if<proto::CheckpointAck>(&call->waiting.report)) {
    stub_.async()->AcknowledgeCheckpoint(&call->ctx, ack, &call->reply, std::move(done));
  } else {
    const auto& d = std::get<proto::CheckpointDecline>(call->waiting.report);
    stub_.async()->DeclineCheckpoint(&call->ctx, &d, &call->reply, std::move(done));
  }
}

void GrpcCheckpointReporter::Done(Waiting w, bool ok, const std::string& error) {
  if (ok) return;
  const int64_t now = Clock::Steady().NowMs();
  const bool is_ack = std::holds_alternative<proto::CheckpointAck>(w.report);
  const std::string job = std::visit([](const auto& r) { return JobOf(r); }, w.report);
  const int64_t attempt = std::visit([](const auto& r) { return r.attempt(); }, w.report);
  const int64_t id = std::visit([](const auto& r) { return r.checkpoint_id(); }, w.report);
  if (now - w.first_ms >= retry_for_ms_ || (live_ && !live_(job, attempt))) {
    std::fprintf(stderr, "sluice worker: could not %s checkpoint %lld of job %s: %s\n",
                 is_ack ? "acknowledge" : "decline", static_cast<long long>(id), job.c_str(),
                 error.c_str());
    return;
  }
  w.due_ms = now + std::min<int64_t>(int64_t{200} << std::min(w.tries - 1, 4), 2000);
  absl::MutexLock lock(&mu_);
  if (!stopping_) retry_.push_back(std::move(w));
}

void GrpcCheckpointReporter::RetryLoop() {
  while (true) {
    std::vector<Waiting> due;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(50));
      if (stopping_) return;
      const int64_t now = Clock::Steady().NowMs();
      auto split = std::partition(retry_.begin(), retry_.end(),
                                  [now](const Waiting& w) { return w.due_ms > now; });
      std::move(split, retry_.end(), std::back_inserter(due));
      retry_.erase(split, retry_.end());
    }
    for (Waiting& w : due) Send(std::move(w));
  }
}

}  // namespace sluice
