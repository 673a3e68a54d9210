#include "worker/output_channel.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/clock.h"
#include "common/grpc_util.h"
#include "worker/credit.h"
#include "worker/remote_exchange.h"

namespace sluice {
namespace {

// A data frame's bytes besides its batch (the other fields, framing).
constexpr size_t kMessageOverheadBytes = 1024;

}  // namespace

OutputChannel::OutputChannel(ChannelAddress to, std::shared_ptr<Mailbox> mailbox)
    : to_(std::move(to)), mailbox_(std::move(mailbox)) {}

absl::Status OutputChannel::Send(StreamElement element) {
  Frame frame;
  frame.element = std::move(element);
  const size_t rows =
      frame.element.kind == StreamElement::Kind::kBatch ? frame.element.batch.num_rows() : 0;
  Prepare(frame);
  if (frame.element.kind == StreamElement::Kind::kBatch) {
    // The record writer cuts batches to frames far smaller than this; only
    // a single huge record gets here. The receiver would end the stream
    // with no word of why, so say it here.
    if (frame.encoded.size() + kMessageOverheadBytes > kMaxMessageBytes) {
      return absl::ResourceExhaustedError(absl::StrFormat(
          "a batch of %d record(s) is %.1f MiB encoded, more than the %d MiB a message between "
          "workers may carry (gRPC's limit): a single record this large cannot be sent to "
          "another worker",
          rows, static_cast<double>(frame.encoded.size()) / (1 << 20), kMaxMessageBytes >> 20));
    }
    frame.credits = CreditsFor(frame.bytes, to_.capacity);
  }
  {
    absl::MutexLock lock(&mu_);
    if (!error_.ok()) return error_;
    if (frame.element.kind == StreamElement::Kind::kWatermark && !queue_.empty() &&
        queue_.back().element.kind == StreamElement::Kind::kWatermark &&
        frame.element.watermark != kIdleWatermark &&
        queue_.back().element.watermark != kIdleWatermark) {
      // Nothing between them: the later watermark says all the earlier one
      // did, so a batch waiting for credit does not pile watermarks up.
      queue_.back().element.watermark =
          std::max(queue_.back().element.watermark, frame.element.watermark);
    } else {
      queued_bytes_.fetch_add(static_cast<int64_t>(frame.bytes), std::memory_order_relaxed);
      queue_.push_back(std::move(frame));
    }
  }
  Pump();
  return absl::OkStatus();
}

void OutputChannel::Pump() {
  {
    absl::MutexLock lock(&mu_);
    while (error_.ok() && connected_ && !queue_.empty() && queue_.front().credits <= credits_) {
      Frame frame = std::move(queue_.front());
      queue_.pop_front();
      credits_ -= frame.credits;
      TransmitLocked(std::move(frame), static_cast<int>(queue_.size()));
    }
  }
  AfterPump();
}

void OutputChannel::OnCredit(int credits) {
  {
    absl::MutexLock lock(&mu_);
    credits_ += credits;
  }
  Pump();
  Wake();
}

void OutputChannel::OnGateClosed(const absl::Status& reason) {
  {
    absl::MutexLock lock(&mu_);
    if (!finished_) {
      FailLocked(LostChannel(absl::StrCat("the receiver ended: ", std::string(reason.message()))));
    }
  }
  Wake();
}

absl::Status OutputChannel::status() const {
  if (!failed_.load(std::memory_order_acquire)) return absl::OkStatus();
  absl::MutexLock lock(&mu_);
  return error_;
}

bool OutputChannel::finished() const {
  absl::MutexLock lock(&mu_);
  return finished_;
}

int OutputChannel::available_credits() const {
  absl::MutexLock lock(&mu_);
  return credits_;
}

void OutputChannel::FailLocked(absl::Status reason) {
  if (!error_.ok()) return;
  error_ = std::move(reason);
  failed_.store(true, std::memory_order_release);
  int64_t dropped = 0;
  for (const Frame& f : queue_) dropped += static_cast<int64_t>(f.bytes);
  queue_.clear();
  queued_bytes_.fetch_sub(dropped, std::memory_order_relaxed);
}

absl::Status OutputChannel::LostChannel(const std::string& why) const {
  return absl::UnavailableError(absl::StrCat("lost data channel to worker ", to_.worker_id, " (",
                                             to_.worker_address, ") for task ", to_.to.task,
                                             " subtask ", to_.to.subtask, ": ", why));
}

void LocalOutputChannel::Start() {
  std::weak_ptr<OutputChannel> weak = weak_from_this();
  ExchangeRegistry::Get().WhenGateReady(
      to_.to, Clock::Steady().NowMs() + kGateWaitMs,
      [weak](absl::StatusOr<std::shared_ptr<InputGate>> gate) {
        if (auto self = weak.lock()) static_cast<LocalOutputChannel*>(self.get())->OnGate(gate);
      });
}

void LocalOutputChannel::OnGate(absl::StatusOr<std::shared_ptr<InputGate>> gate) {
  if (!gate.ok()) {
    {
      absl::MutexLock lock(&mu_);
      FailLocked(LostChannel(std::string(gate.status().message())));
    }
    Wake();
    return;
  }
  absl::StatusOr<int> credits = (*gate)->Attach(to_.channel, shared_from_this());
  {
    absl::MutexLock lock(&mu_);
    if (!credits.ok()) {
      FailLocked(LostChannel(std::string(credits.status().message())));
    } else {
      gate_ = *gate;
      connected_ = true;
    }
  }
  if (credits.ok()) {
    OnCredit(*credits);
  } else {
    Wake();
  }
}

void LocalOutputChannel::Prepare(Frame& frame) {
  frame.bytes =
      frame.element.kind == StreamElement::Kind::kBatch ? frame.element.batch.ByteSize() : 0;
}

void LocalOutputChannel::TransmitLocked(Frame frame, int /*backlog*/) {
  const bool eos = frame.element.kind == StreamElement::Kind::kEndOfStream;
  absl::Status s = gate_->Deliver(to_.channel, std::move(frame.element), frame.credits);
  queued_bytes_.fetch_sub(static_cast<int64_t>(frame.bytes), std::memory_order_relaxed);
  if (!s.ok()) {
    FailLocked(LostChannel(std::string(s.message())));
    return;
  }
  if (eos) finished_ = true;
}

void LocalOutputChannel::Cancel() {
  std::shared_ptr<InputGate> gate;
  {
    absl::MutexLock lock(&mu_);
    FailLocked(absl::CancelledError("task canceled"));
    if (!finished_) gate = gate_;
  }
  // As a remote stream's end would: the receiver hears that its input is gone.
  if (gate != nullptr) {
    gate->Fail(absl::UnavailableError(absl::StrCat(
        "lost input from task ", to_.from_task, " subtask ", to_.from_subtask, " on worker ",
        to_.from_worker_id, " (", to_.from_address, "): the sender was canceled")));
  }
}

std::shared_ptr<OutputChannel> MakeOutputChannel(const ChannelAddress& to,
                                                 std::shared_ptr<Mailbox> mailbox,
                                                 bool allow_local) {
  if (allow_local && ExchangeRegistry::Get().IsLocalWorker(to.worker_address)) {
    return std::make_shared<LocalOutputChannel>(to, std::move(mailbox));
  }
  return std::make_shared<RemoteOutputChannel>(to, std::move(mailbox));
}

}  // namespace sluice
