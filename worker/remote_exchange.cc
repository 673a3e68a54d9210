#include "worker/remote_exchange.h"

#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/grpc_util.h"

namespace sluice {
namespace {

// Drops the references handed to it on a thread of its own.
//
// A stream may outlive its task (remote_exchange.h); then OnDone holds the
// last reference to its RemoteOutputChannel. Dropping it there, on a gRPC
// callback thread, destroys the stub and its grpc::Channel on that thread.
// When no gRPC server is left in the process (a worker after Stop, tests),
// that grpc::Channel may hold the last reference to gRPC's shared callback
// completion queue, and gRPC (1.51) then shuts the queue down and frees it
// from one of the queue's own polling threads: a double free.
class Reaper {
 public:
  static void Drop(std::shared_ptr<OutputChannel> channel) {
    static Reaper* const reaper = new Reaper;  // and its thread: for the life of the process
    absl::MutexLock lock(&reaper->mu_);
    reaper->queue_.push_back(std::move(channel));
  }

 private:
  Reaper() {
    std::thread([this] { Run(); }).detach();
  }

  void Run() {
    while (true) {
      std::vector<std::shared_ptr<OutputChannel>> drop;
      {
        absl::MutexLock lock(&mu_);
        auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty(); };
        mu_.Await(absl::Condition(&ready));
        drop.swap(queue_);
      }
      drop.clear();
    }
  }

  absl::Mutex mu_;
  std::vector<std::shared_ptr<OutputChannel>> queue_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

// ---------------------------------------------------------------------------
// Sender.
// ---------------------------------------------------------------------------

RemoteOutputChannel::RemoteOutputChannel(ChannelAddress to, std::shared_ptr<Mailbox> mailbox)
    : OutputChannel(std::move(to), std::move(mailbox)) {}

void RemoteOutputChannel::Start() {
  stub_ = proto::WorkerService::NewStub(ChannelTo(to_.worker_address));
  const proto::DataFrame* header;
  {
    absl::MutexLock lock(&mu_);
    self_ = shared_from_this();
    proto::DataFrame& f = writes_.emplace_back();
    proto::ChannelHeader* h = f.mutable_header();
    h->set_job_id(to_.to.job_id);
    h->set_attempt(to_.to.attempt);
    h->set_target_task(to_.to.task);
    h->set_target_subtask(to_.to.subtask);
    h->set_channel(to_.channel);
    h->set_sender_worker_id(to_.from_worker_id);
    h->set_sender_address(to_.from_address);
    h->set_sender_task(to_.from_task);
    h->set_sender_subtask(to_.from_subtask);
    write_bytes_.push_back(0);
    writing_ = true;
    hold_ = true;
    header = &f;
  }
  stub_->async()->Exchange(&context_, this);
  StartWrite(header);
  StartRead(&credit_msg_);
  AddHold();
  StartCall();
}

void RemoteOutputChannel::Prepare(Frame& frame) {
  if (frame.element.kind == StreamElement::Kind::kBatch) {
    EncodeBatch(frame.element.batch, &frame.encoded);
    frame.element.batch = Batch();
    frame.bytes = frame.encoded.size();
  }
}

void RemoteOutputChannel::TransmitLocked(Frame frame, int backlog) {
  proto::DataFrame& f = writes_.emplace_back();
  switch (frame.element.kind) {
    case StreamElement::Kind::kBatch:
      f.set_batch(std::move(frame.encoded));
      break;
    case StreamElement::Kind::kWatermark:
      f.set_watermark(frame.element.watermark);
      break;
    case StreamElement::Kind::kBarrier: {
      const CheckpointBarrier& b = frame.element.barrier;
      proto::Barrier* pb = f.mutable_barrier();
      pb->set_checkpoint_id(b.id);
      pb->set_timestamp_ms(b.timestamp_ms);
      pb->set_kind(b.kind);
      pb->set_savepoint_name(b.savepoint_name);
      break;
    }
    case StreamElement::Kind::kEndOfStream:
      f.set_end_of_stream(true);
      break;
  }
  f.set_backlog(backlog);
  write_bytes_.push_back(frame.bytes);
}

void RemoteOutputChannel::AfterPump() {
  const proto::DataFrame* next = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (writing_ || writes_.empty() || !hold_) return;
    writing_ = true;
    next = &writes_.front();
  }
  StartWrite(next);
}

void RemoteOutputChannel::OnWriteDone(bool ok) {
  const proto::DataFrame* next = nullptr;
  bool writes_done = false;
  bool release_hold = false;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (ok) {
      const bool eos = writes_.front().element_case() == proto::DataFrame::kEndOfStream;
      queued_bytes_.fetch_sub(static_cast<int64_t>(write_bytes_.front()),
                              std::memory_order_relaxed);
      writes_.pop_front();
      write_bytes_.pop_front();
      if (eos) eos_written_ = true;
      if (!writes_.empty()) {
        writing_ = true;
        next = &writes_.front();
      } else if (eos_written_) {
        writes_done = true;
      }
    }
    // No more writes from outside reactions (the stream broke, or all is
    // written): give up the hold in the same step that clears writing_, so
    // AfterPump on the task thread cannot start a write in between, with
    // the hold about to go and OnDone free to run.
    if ((writes_done || !ok) && hold_) {
      hold_ = false;
      release_hold = true;
    }
  }
  if (next != nullptr) {
    StartWrite(next);
  } else if (writes_done) {
    StartWritesDone();
  }
  if (release_hold) RemoveHold();  // after !ok, OnDone says how the stream broke
  Wake();
}

void RemoteOutputChannel::OnReadDone(bool ok) {
  if (!ok) {
    ReleaseHold();  // the receiver closed its side; OnDone follows
    return;
  }
  const int credits = credit_msg_.credits();
  {
    absl::MutexLock lock(&mu_);
    connected_ = true;
  }
  StartRead(&credit_msg_);
  OnCredit(credits);
}

void RemoteOutputChannel::ReleaseHold() {
  {
    absl::MutexLock lock(&mu_);
    if (!hold_) return;
    hold_ = false;
  }
  RemoveHold();
}

void RemoteOutputChannel::OnDone(const grpc::Status& status) {
  std::shared_ptr<OutputChannel> keep;
  {
    absl::MutexLock lock(&mu_);
    if (status.ok() && eos_written_) {
      finished_ = true;
    } else if (canceled_) {
      FailLocked(absl::CancelledError("task canceled"));
    } else {
      FailLocked(LostChannel(status.ok() ? "the receiver closed the stream before end of stream"
                                         : status.error_message()));
    }
    int64_t unwritten = 0;
    for (size_t bytes : write_bytes_) unwritten += static_cast<int64_t>(bytes);
    queued_bytes_.fetch_sub(unwritten, std::memory_order_relaxed);
    writes_.clear();
    write_bytes_.clear();
    keep.swap(self_);
  }
  Wake();
  // `keep` may be the last reference: it goes to the reaper, and nothing
  // touches members after this.
  Reaper::Drop(std::move(keep));
}

void RemoteOutputChannel::Cancel() {
  bool started;
  {
    absl::MutexLock lock(&mu_);
    canceled_ = true;
    FailLocked(absl::CancelledError("task canceled"));
    started = self_ != nullptr;
  }
  if (started) context_.TryCancel();
}

// ---------------------------------------------------------------------------
// Receiver.
// ---------------------------------------------------------------------------

grpc::ServerBidiReactor<proto::DataFrame, proto::ExchangeCredit>* ExchangeReceiver::Start(
    grpc::CallbackServerContext* /*context*/) {
  auto r = std::make_shared<ExchangeReceiver>();
  {
    absl::MutexLock lock(&r->mu_);
    r->self_ = r;
  }
  r->StartRead(&r->frame_);
  return r.get();
}

bool ExchangeReceiver::BeginOp() {
  absl::MutexLock lock(&mu_);
  if (finish_requested_) return false;
  ++starting_;
  return true;
}

void ExchangeReceiver::EndOp() {
  grpc::Status status;
  {
    absl::MutexLock lock(&mu_);
    --starting_;
    if (!finish_requested_ || finish_called_ || starting_ > 0 || writing_) return;
    finish_called_ = true;
    status = finish_status_;
  }
  Finish(status);
}

void ExchangeReceiver::FinishOnce(grpc::Status status) {
  {
    absl::MutexLock lock(&mu_);
    if (finish_requested_) return;
    finish_requested_ = true;
    finish_status_ = std::move(status);
    if (starting_ > 0 || writing_) return;  // EndOp/OnWriteDone finish
    finish_called_ = true;
    status = finish_status_;
  }
  Finish(status);
}

void ExchangeReceiver::StartReadOp() {
  if (!BeginOp()) return;
  StartRead(&frame_);
  EndOp();
}

void ExchangeReceiver::FailInput(const std::string& why) {
  std::shared_ptr<InputGate> gate;
  {
    absl::MutexLock lock(&mu_);
    if (eos_ || delivering_eos_) return;
    gate = gate_;
  }
  if (gate != nullptr) {
    gate->Fail(absl::UnavailableError(absl::StrCat("lost input from ", sender_, ": ", why)));
  }
}

void ExchangeReceiver::OnReadDone(bool ok) {
  if (!ok) {
    // The sender closed its side: after end of stream that is the end;
    // before it, the sender died or gave up.
    FailInput("the stream ended before end of stream (sender canceled or connection lost)");
    FinishOnce(grpc::Status::OK);
    return;
  }
  if (channel_ < 0) {
    OnHeader();
  } else {
    OnFrame();
  }
}

void ExchangeReceiver::OnHeader() {
  if (!frame_.has_header()) {
    FinishOnce(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "the first frame of a data channel must carry its header"));
    return;
  }
  const proto::ChannelHeader& h = frame_.header();
  key_ = GateKey{h.job_id(), h.attempt(), h.target_task(), h.target_subtask()};
  channel_ = h.channel();
  sender_ = absl::StrCat("task ", h.sender_task(), " subtask ", h.sender_subtask(), " on worker ",
                         h.sender_worker_id(), " (", h.sender_address(), ")");
  std::weak_ptr<ExchangeReceiver> weak = weak_from_this();
  ExchangeRegistry::Get().WhenGateReady(key_, Clock::Steady().NowMs() + kGateWaitMs,
                                        [weak](absl::StatusOr<std::shared_ptr<InputGate>> gate) {
                                          if (auto self = weak.lock())
                                            self->OnGate(std::move(gate));
                                        });
}

void ExchangeReceiver::OnGate(absl::StatusOr<std::shared_ptr<InputGate>> gate) {
  if (!gate.ok()) {
    FinishOnce(ToGrpcStatus(gate.status()));
    return;
  }
  absl::StatusOr<int> credits = (*gate)->Attach(channel_, shared_from_this());
  if (!credits.ok()) {
    FinishOnce(ToGrpcStatus(credits.status()));
    return;
  }
  bool gone;
  {
    absl::MutexLock lock(&mu_);
    // The stream may have ended while it waited for the gate (the sender
    // died or gave up): then no data will ever come on this channel.
    gone = finish_requested_;
    if (!gone) gate_ = *gate;
  }
  if (gone) {
    (*gate)->Fail(absl::UnavailableError(absl::StrCat(
        "lost input from ", sender_, ": the stream ended before its receiver started")));
    return;
  }
  StartReadOp();
  OnCredit(*credits);
}

void ExchangeReceiver::FailOnProtocolError(std::shared_ptr<InputGate> gate, absl::Status error) {
  gate->Fail(absl::InternalError(
      absl::StrCat("bad input from ", sender_, ": ", std::string(error.message()))));
  FinishOnce(ToGrpcStatus(error));
}

void ExchangeReceiver::OnFrame() {
  std::shared_ptr<InputGate> gate;
  {
    absl::MutexLock lock(&mu_);
    gate = gate_;
  }
  StreamElement element;
  switch (frame_.element_case()) {
    case proto::DataFrame::kBatch: {
      absl::StatusOr<Batch> batch = decoder_.Decode(frame_.batch());
      if (!batch.ok()) {
        FailOnProtocolError(gate, batch.status());
        return;
      }
      element = StreamElement::Records(std::move(*batch));
      break;
    }
    case proto::DataFrame::kWatermark:
      element = StreamElement::Watermark(frame_.watermark());
      break;
    case proto::DataFrame::kBarrier: {
      const proto::Barrier& b = frame_.barrier();
      element = StreamElement::Barrier(
          {b.checkpoint_id(), b.timestamp_ms(), b.kind(), b.savepoint_name()});
      break;
    }
    case proto::DataFrame::kEndOfStream: {
      element = StreamElement::EndOfStream();
      absl::MutexLock lock(&mu_);
      delivering_eos_ = true;
      break;
    }
    default:
      FailOnProtocolError(gate, absl::InvalidArgumentError("empty data frame"));
      return;
  }
  // What a frame costs is the receiver's to say, from what arrived: a
  // sender cannot get around the bound by claiming less.
  const int credits = frame_.element_case() == proto::DataFrame::kBatch
                          ? CreditsFor(frame_.batch().size(), gate->credits_per_channel())
                          : 0;
  const bool eos = element.kind == StreamElement::Kind::kEndOfStream;
  absl::Status s = gate->Deliver(channel_, std::move(element), credits);
  bool closed = false;
  if (eos) {
    absl::MutexLock lock(&mu_);
    delivering_eos_ = false;
    eos_ = s.ok();
    closed = closed_while_delivering_eos_;
  }
  if (!s.ok()) {
    if (absl::IsResourceExhausted(s)) {
      FailOnProtocolError(gate, s);  // the sender exceeded its credit
    } else {
      FinishOnce(ToGrpcStatus(s));  // the receiving task ended
    }
    return;
  }
  if (closed) {
    FinishOnce(grpc::Status::OK);  // the gate took end of stream before it closed
    return;
  }
  StartReadOp();
}

void ExchangeReceiver::OnCredit(int credits) {
  {
    absl::MutexLock lock(&mu_);
    if (finish_requested_) return;
    pending_credits_ += credits;
    if (writing_) return;  // OnWriteDone sends the rest
    writing_ = true;
    credit_msg_.set_credits(pending_credits_);
    pending_credits_ = 0;
    ++starting_;
  }
  StartWrite(&credit_msg_);
  EndOp();
}

void ExchangeReceiver::OnWriteDone(bool ok) {
  bool again = false;
  grpc::Status finish;
  bool do_finish = false;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (ok && !finish_requested_ && pending_credits_ > 0) {
      writing_ = true;
      credit_msg_.set_credits(pending_credits_);
      pending_credits_ = 0;
      ++starting_;
      again = true;
    } else if (finish_requested_ && !finish_called_ && starting_ == 0) {
      finish_called_ = true;
      finish = finish_status_;
      do_finish = true;
    }
  }
  if (again) {
    StartWrite(&credit_msg_);
    EndOp();
  } else if (do_finish) {
    Finish(finish);
  }
}

void ExchangeReceiver::OnGateClosed(const absl::Status& reason) {
  bool eos;
  {
    absl::MutexLock lock(&mu_);
    if (delivering_eos_) {
      // Whether the gate took end of stream before it closed: OnFrame knows
      // once Deliver returns, and finishes the stream.
      closed_while_delivering_eos_ = true;
      return;
    }
    eos = eos_;
  }
  if (eos) {
    // The gate took everything this stream carries. A task ends as soon as
    // all its inputs ended, which may be before the sender's half-close
    // arrives: the stream succeeded.
    FinishOnce(grpc::Status::OK);
    return;
  }
  FinishOnce(
      grpc::Status(grpc::StatusCode::UNAVAILABLE,
                   absl::StrCat("receiver ", key_.Describe(), " ended: ", reason.message())));
}

void ExchangeReceiver::OnCancel() {
  FailInput("the stream was canceled (sender canceled or connection lost)");
  FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "canceled"));
}

void ExchangeReceiver::OnDone() {
  std::shared_ptr<ExchangeReceiver> keep;
  {
    absl::MutexLock lock(&mu_);
    gate_ = nullptr;
    keep.swap(self_);
  }
  // `keep` may be the last reference (the gate may still hold one).
}

}  // namespace sluice
