#include "worker/exchange.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/batch_codec.h"
#include "common/grpc_util.h"
#include "common/status_macros.h"

namespace sluice {
namespace {

std::string GateKey(const std::string& job_id, int task, int subtask) {
  return absl::StrCat(job_id, "/", task, "/", subtask);
}

class LocalChannelWriter : public ChannelWriter {
 public:
  LocalChannelWriter(ChannelAddress to, std::stop_token stop) : to_(std::move(to)), stop_(stop) {}

  absl::Status Send(StreamElement element) override {
    if (gate_ == nullptr) {
      ASSIGN_OR_RETURN(gate_, ExchangeRegistry::Get().WaitForGate(to_.job_id, to_.task, to_.subtask,
                                                                  kGateWaitMs, stop_));
    }
    return gate_->Push(to_.channel, std::move(element));
  }
  absl::Status Close() override { return absl::OkStatus(); }
  void Cancel() override {}  // the receiving gate is closed by its own task

 private:
  ChannelAddress to_;
  std::stop_token stop_;
  std::shared_ptr<InputGate> gate_;
};

class RemoteChannelWriter : public ChannelWriter {
 public:
  explicit RemoteChannelWriter(ChannelAddress to) : to_(std::move(to)) {}

  ~RemoteChannelWriter() override {
    if (writer_ != nullptr) {
      context_.TryCancel();
      writer_->Finish().IgnoreError();
    }
  }

  absl::Status Send(StreamElement element) override {
    if (writer_ == nullptr) {
      stub_ = proto::WorkerService::NewStub(ChannelTo(to_.worker_address));
      writer_ = stub_->Exchange(&context_);
      proto::ChannelHeader* h = frame_.mutable_header();
      h->set_job_id(to_.job_id);
      h->set_target_task(to_.task);
      h->set_target_subtask(to_.subtask);
      h->set_channel(to_.channel);
      h->set_sender_worker_id(to_.from_worker_id);
      h->set_sender_address(to_.from_address);
      h->set_sender_task(to_.from_task);
      h->set_sender_subtask(to_.from_subtask);
    }
    switch (element.kind) {
      case StreamElement::Kind::kBatch:
        EncodeBatch(element.batch, frame_.mutable_batch());
        break;
      case StreamElement::Kind::kWatermark:
        frame_.set_watermark(element.watermark);
        break;
      case StreamElement::Kind::kEndOfStream:
        frame_.set_end_of_stream(true);
        break;
    }
    bool ok = writer_->Write(frame_);
    frame_.Clear();  // the header travels only in the first frame
    if (!ok) return Broken();
    return absl::OkStatus();
  }

  absl::Status Close() override {
    if (writer_ == nullptr) return absl::OkStatus();
    writer_->WritesDone();
    grpc::Status s = writer_->Finish();
    writer_.reset();
    if (!s.ok()) return Failure(s);
    return absl::OkStatus();
  }

  void Cancel() override { context_.TryCancel(); }

 private:
  absl::Status Broken() {
    grpc::Status s = writer_->Finish();
    writer_.reset();
    return Failure(s);
  }
  absl::Status Failure(const grpc::Status& s) {
    return absl::UnavailableError(absl::StrCat("lost data channel to worker ", to_.worker_id, " (",
                                               to_.worker_address, ") for task ", to_.task,
                                               " subtask ", to_.subtask, ": ", s.error_message()));
  }

  ChannelAddress to_;
  std::unique_ptr<proto::WorkerService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<proto::DataFrame, proto::ExchangeCredit>> writer_;
  proto::DataFrame frame_;
};

}  // namespace

ExchangeRegistry& ExchangeRegistry::Get() {
  static auto* registry = new ExchangeRegistry;
  return *registry;
}

void ExchangeRegistry::RegisterGate(const std::string& job_id, int task, int subtask,
                                    std::shared_ptr<InputGate> gate) {
  absl::MutexLock lock(&mu_);
  gates_[GateKey(job_id, task, subtask)] = std::move(gate);
}

void ExchangeRegistry::UnregisterGate(const std::string& job_id, int task, int subtask) {
  absl::MutexLock lock(&mu_);
  gates_.erase(GateKey(job_id, task, subtask));
}

absl::StatusOr<std::shared_ptr<InputGate>> ExchangeRegistry::WaitForGate(const std::string& job_id,
                                                                         int task, int subtask,
                                                                         int64_t timeout_ms,
                                                                         std::stop_token stop) {
  const std::string key = GateKey(job_id, task, subtask);
  const absl::Time deadline = absl::Now() + absl::Milliseconds(timeout_ms);
  absl::MutexLock lock(&mu_);
  while (true) {
    auto it = gates_.find(key);
    if (it != gates_.end()) return it->second;
    if (stop.stop_requested()) return absl::CancelledError("task canceled");
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("receiver task ", task, " subtask ", subtask,
                                                      " of job ", job_id, " did not start within ",
                                                      timeout_ms, " ms"));
    }
    auto registered = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return gates_.contains(key); };
    // Wakes on registration; the timeout re-checks cancellation and the deadline.
    mu_.AwaitWithTimeout(absl::Condition(&registered), absl::Milliseconds(50));
  }
}

void ExchangeRegistry::AddLocalWorker(const std::string& address) {
  absl::MutexLock lock(&mu_);
  local_workers_.insert(address);
}

void ExchangeRegistry::RemoveLocalWorker(const std::string& address) {
  absl::MutexLock lock(&mu_);
  local_workers_.erase(address);
}

bool ExchangeRegistry::IsLocalWorker(const std::string& address) {
  absl::MutexLock lock(&mu_);
  return local_workers_.contains(address);
}

std::unique_ptr<ChannelWriter> MakeChannelWriter(const ChannelAddress& to, std::stop_token stop) {
  if (ExchangeRegistry::Get().IsLocalWorker(to.worker_address)) {
    return std::make_unique<LocalChannelWriter>(to, stop);
  }
  return std::make_unique<RemoteChannelWriter>(to);
}

grpc::Status ServeExchange(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<proto::ExchangeCredit, proto::DataFrame>* reader) {
  proto::DataFrame frame;
  if (!reader->Read(&frame)) return grpc::Status::OK;  // sender went away before sending
  const proto::ChannelHeader h = frame.header();
  const std::string job_id = h.job_id();
  const int task = h.target_task(), subtask = h.target_subtask(), channel = h.channel();
  const std::string sender =
      absl::StrCat("task ", h.sender_task(), " subtask ", h.sender_subtask(), " on worker ",
                   h.sender_worker_id(), " (", h.sender_address(), ")");
  std::stop_source never;
  auto gate_or =
      ExchangeRegistry::Get().WaitForGate(job_id, task, subtask, kGateWaitMs, never.get_token());
  if (!gate_or.ok()) return ToGrpcStatus(gate_or.status());
  std::shared_ptr<InputGate> gate = *gate_or;
  BatchDecoder decoder;
  bool ended = false;
  do {
    absl::Status s;
    if (frame.end_of_stream()) {
      s = gate->Push(channel, StreamElement::EndOfStream());
      ended = true;
    } else if (frame.element_case() == proto::DataFrame::kWatermark) {
      s = gate->Push(channel, StreamElement::Watermark(frame.watermark()));
    } else {
      auto batch = decoder.Decode(frame.batch());
      if (!batch.ok()) {
        gate->Fail(batch.status());
        return ToGrpcStatus(batch.status());
      }
      s = gate->Push(channel, StreamElement::Records(std::move(*batch)));
    }
    if (!s.ok()) return ToGrpcStatus(s);  // the receiving task ended or was canceled
  } while (reader->Read(&frame));
  if (!ended) {
    gate->Fail(absl::UnavailableError(
        absl::StrCat("lost input from ", sender, ": the stream ended before end of stream",
                     context->IsCancelled() ? " (canceled or connection lost)" : "")));
  }
  return grpc::Status::OK;
}

}  // namespace sluice
