#pragma once

// The sending end of one data channel (sender subtask -> receiver
// subtask), with credit-based flow control.
//
// Send() queues an element; it leaves the queue only against credit the
// receiver granted (worker/credit.h), in order. A local channel hands
// frames straight to the receiver's InputGate; a remote one writes them to
// a gRPC stream (worker/remote_exchange.h). queued_bytes() counts what is
// queued or still in flight, which is what a task's output budget bounds.
// Each frame tells the receiver the sender's backlog (frames still queued).
//
// Threads: Start/Send/Cancel on the owning task thread; credit, write
// completions and failures arrive on other threads, and each wakes the
// task's mailbox. Instances are shared_ptr-managed: the receiving gate or a
// gRPC stream may outlive the task that created them.

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "worker/credit.h"
#include "worker/exchange_registry.h"
#include "worker/input_gate.h"
#include "worker/mailbox.h"
#include "worker/stream_element.h"

namespace sluice {

struct ChannelAddress {
  GateKey to;                            // the receiver's gate
  int channel = 0;                       // index of this sender at the receiver's gate
  int capacity = kMinCreditsPerChannel;  // credits of that channel
  std::string worker_id;                 // the receiver's worker, for messages
  std::string worker_address;
  std::string from_worker_id;  // the sender, named in errors on either side
  std::string from_address;
  int from_task = 0;
  int from_subtask = 0;
};

class OutputChannel : public CreditListener, public std::enable_shared_from_this<OutputChannel> {
 public:
  OutputChannel(ChannelAddress to, std::shared_ptr<Mailbox> mailbox);
  ~OutputChannel() override = default;

  // Connects to the receiver (never blocks).
  virtual void Start() = 0;
  // Queues `element`; fails once the channel broke.
  absl::Status Send(StreamElement element);
  // Stops the channel: nothing more is sent, pending streams are canceled.
  virtual void Cancel() = 0;

  // The channel's failure, if it broke. Any thread.
  absl::Status status() const;
  // End of stream reached the receiver (and, remotely, the stream closed
  // cleanly). Any thread.
  bool finished() const;
  int64_t queued_bytes() const { return queued_bytes_.load(std::memory_order_relaxed); }
  int available_credits() const;
  const ChannelAddress& address() const { return to_; }

  void OnCredit(int credits) override;
  void OnGateClosed(const absl::Status& reason) override;

 protected:
  struct Frame {
    StreamElement element;
    std::string encoded;  // remote channels encode on the task thread
    int credits = 0;
    size_t bytes = 0;
  };

  // Fills frame.bytes (and frame.encoded for remote channels). Task thread.
  virtual void Prepare(Frame& frame) = 0;
  // Sends a frame the credit covers. Called in order, with mu_ held.
  virtual void TransmitLocked(Frame frame, int backlog) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;
  // Runs after a Pump released mu_ (remote: start a write).
  virtual void AfterPump() {}

  // Moves queued frames out while credit allows.
  void Pump();
  void FailLocked(absl::Status reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Wake() { mailbox_->Wake(); }
  // "lost data channel to worker W (ADDR) for task T subtask S: why"
  absl::Status LostChannel(const std::string& why) const;

  const ChannelAddress to_;
  const std::shared_ptr<Mailbox> mailbox_;
  mutable absl::Mutex mu_;
  std::deque<Frame> queue_ ABSL_GUARDED_BY(mu_);
  int credits_ ABSL_GUARDED_BY(mu_) = 0;
  bool connected_ ABSL_GUARDED_BY(mu_) = false;  // frames may go out
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<int64_t> queued_bytes_{0};
  // error_ is set: lets status() skip the lock on the task's hot path.
  std::atomic<bool> failed_{false};
};

// A channel to a gate in this process.
class LocalOutputChannel : public OutputChannel {
 public:
  using OutputChannel::OutputChannel;
  void Start() override;
  void Cancel() override;

 private:
  void Prepare(Frame& frame) override;
  void TransmitLocked(Frame frame, int backlog) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnGate(absl::StatusOr<std::shared_ptr<InputGate>> gate);

  std::shared_ptr<InputGate> gate_ ABSL_GUARDED_BY(mu_);
};

// The channel for `to`: local when its worker lives in this process (and
// `allow_local`), else remote.
std::shared_ptr<OutputChannel> MakeOutputChannel(const ChannelAddress& to,
                                                 std::shared_ptr<Mailbox> mailbox,
                                                 bool allow_local = true);

}  // namespace sluice
