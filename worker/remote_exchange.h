#pragma once

// Data channels between workers: one gRPC bidi stream (WorkerService.
// Exchange) per channel, on gRPC's callback API, so no thread is pinned to
// a channel and a stalled channel holds no thread at all.
//
// Sender -> receiver: a header frame, then data frames, each sent only
// against credit. Receiver -> sender: credit, first the channel's whole
// capacity once the receiving gate exists, then what the task frees.
// Because the receiver never holds more than it granted, it reads its
// stream eagerly: gRPC's own flow-control windows never become an
// unbounded buffer, and one channel waiting for credit never stalls
// another channel between the same two workers.
//
// Both ends are shared_ptr-managed and keep themselves alive until gRPC
// calls OnDone. They never call into gRPC while holding their own lock
// (gRPC may run reactions inline).

#include <deque>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/batch_codec.h"
#include "grpcpp/grpcpp.h"
#include "proto/sluice.grpc.pb.h"
#include "worker/output_channel.h"

namespace sluice {

class RemoteOutputChannel
    : public OutputChannel,
      public grpc::ClientBidiReactor<proto::DataFrame, proto::ExchangeCredit> {
 public:
  RemoteOutputChannel(ChannelAddress to, std::shared_ptr<Mailbox> mailbox);

  void Start() override;
  void Cancel() override;

  void OnWriteDone(bool ok) override;
  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  void Prepare(Frame& frame) override;
  void TransmitLocked(Frame frame, int backlog) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AfterPump() override;
  void ReleaseHold();

  std::unique_ptr<proto::WorkerService::Stub> stub_;
  grpc::ClientContext context_;
  proto::ExchangeCredit credit_msg_;  // read target; one read at a time
  // Frames handed to gRPC in order; the front one is being written when
  // writing_. References stay valid while other frames are appended.
  std::deque<proto::DataFrame> writes_ ABSL_GUARDED_BY(mu_);
  std::deque<size_t> write_bytes_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool hold_ ABSL_GUARDED_BY(mu_) = false;  // writes may start outside reactions
  bool eos_written_ ABSL_GUARDED_BY(mu_) = false;
  bool canceled_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<OutputChannel> self_ ABSL_GUARDED_BY(mu_);  // alive until OnDone
};

// The receiving end of one stream: feeds frames into the gate named by the
// header, and grants the gate's credit back to the sender.
class ExchangeReceiver : public grpc::ServerBidiReactor<proto::DataFrame, proto::ExchangeCredit>,
                         public CreditListener,
                         public std::enable_shared_from_this<ExchangeReceiver> {
 public:
  // Creates a receiver for a new Exchange call (the callback method handler).
  static grpc::ServerBidiReactor<proto::DataFrame, proto::ExchangeCredit>* Start(
      grpc::CallbackServerContext* context);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  void OnCredit(int credits) override;
  void OnGateClosed(const absl::Status& reason) override;

 private:
  void OnHeader();
  void OnGate(absl::StatusOr<std::shared_ptr<InputGate>> gate);
  void OnFrame();
  // Op bracketing: no op starts after Finish, and Finish waits for ops
  // being started and for the write in flight.
  bool BeginOp();
  void EndOp();
  void FinishOnce(grpc::Status status);
  void StartReadOp();
  void FailInput(const std::string& why);
  // The sender broke the protocol: the receiving task fails, naming it.
  void FailOnProtocolError(std::shared_ptr<InputGate> gate, absl::Status error);

  proto::DataFrame frame_;  // read target; reads are sequential
  BatchDecoder decoder_;    // used by reactions that follow one another
  GateKey key_;
  int channel_ = -1;
  std::string sender_;

  absl::Mutex mu_;
  std::shared_ptr<InputGate> gate_ ABSL_GUARDED_BY(mu_);
  proto::ExchangeCredit credit_msg_ ABSL_GUARDED_BY(mu_);
  int pending_credits_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  int starting_ ABSL_GUARDED_BY(mu_) = 0;
  bool finish_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status finish_status_ ABSL_GUARDED_BY(mu_);
  bool eos_ ABSL_GUARDED_BY(mu_) = false;  // the gate took end of stream
  bool delivering_eos_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_while_delivering_eos_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<ExchangeReceiver> self_ ABSL_GUARDED_BY(mu_);  // alive until OnDone
};

}  // namespace sluice
