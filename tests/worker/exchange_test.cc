// The remote data path in one process: real gRPC streams over loopback TCP
// between output channels and gates.

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/batch_codec.h"
#include "common/grpc_util.h"
#include "gtest/gtest.h"
#include "proto/sluice.grpc.pb.h"
#include "worker/exchange_registry.h"
#include "worker/remote_exchange.h"

namespace sluice {
namespace {

// Serves only WorkerService.Exchange.
class ExchangeOnly
    : public proto::WorkerService::WithCallbackMethod_Exchange<proto::WorkerService::Service> {
 public:
  grpc::ServerBidiReactor<proto::DataFrame, proto::ExchangeCredit>* Exchange(
      grpc::CallbackServerContext* context) override {
    return ExchangeReceiver::Start(context);
  }
};

Batch Rows(int first, int n) {
  auto schema = std::make_shared<const Schema>(
      std::vector<Field>{{"x", FieldType::kInt64}, {"pad", FieldType::kString}});
  BatchBuilder b(schema);
  const std::string pad(500, 'p');
  for (int i = first; i < first + n; ++i) {
    b.SetInt(0, i);
    b.SetString(1, pad);
    b.FinishRow(i);
  }
  return b.Take();
}

class ExchangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = StartServer("127.0.0.1:0", &service_, &address_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  void TearDown() override { StopServer(server_.get(), address_); }

  GateKey Key(int subtask) {
    return GateKey{::testing::UnitTest::GetInstance()->current_test_info()->name(), 1, 1, subtask};
  }

  std::shared_ptr<OutputChannel> Sender(int subtask, int capacity,
                                        std::shared_ptr<Mailbox> mailbox) {
    ChannelAddress to;
    to.to = Key(subtask);
    to.channel = 0;
    to.capacity = capacity;
    to.worker_id = "receiver";
    to.worker_address = address_;
    to.from_worker_id = "sender";
    to.from_address = "test";
    return MakeOutputChannel(to, std::move(mailbox), /*allow_local=*/false);
  }

  // Takes everything from `gate` until end of input; returns the x values.
  static std::vector<int64_t> Drain(InputGate& gate, Mailbox& mailbox) {
    std::vector<int64_t> xs;
    while (true) {
      auto ev = gate.Poll();
      EXPECT_TRUE(ev.ok()) << ev.status();
      if (!ev.ok()) return xs;
      if (!ev->has_value()) {
        mailbox.WaitUntil(Clock::Steady().NowMs() + 100);
        continue;
      }
      if ((*ev)->kind == InputGate::Event::Kind::kEnd) return xs;
      if ((*ev)->kind == InputGate::Event::Kind::kBatch) {
        for (int64_t x : (*ev)->batch.column(0).ints) xs.push_back(x);
      }
    }
  }

  // A registered gate of one channel for Key(subtask), closed and withdrawn
  // when the receiver goes.
  struct Receiver {
    GateKey key;
    std::shared_ptr<Mailbox> mail = std::make_shared<Mailbox>();
    std::shared_ptr<InputGate> gate;
    ~Receiver() {
      gate->Close(absl::CancelledError("test over"));
      ExchangeRegistry::Get().UnregisterGate(key);
    }
  };
  std::unique_ptr<Receiver> Receive(int subtask, int capacity) {
    auto r = std::make_unique<Receiver>();
    r->key = Key(subtask);
    r->gate = std::make_shared<InputGate>(1, capacity, r->mail);
    ExchangeRegistry::Get().RegisterGate(r->key, r->gate);
    return r;
  }

  // Opens a raw Exchange stream (as RemoteOutputChannel would) and sends the
  // header of channel 0 of Key(0), from `sender_worker`.
  std::unique_ptr<grpc::ClientReaderWriter<proto::DataFrame, proto::ExchangeCredit>> RawStream(
      proto::WorkerService::Stub& stub, grpc::ClientContext* ctx,
      const std::string& sender_worker = "sender") {
    auto stream = stub.Exchange(ctx);
    proto::DataFrame header;
    proto::ChannelHeader* h = header.mutable_header();
    h->set_job_id(Key(0).job_id);
    h->set_attempt(Key(0).attempt);
    h->set_target_task(Key(0).task);
    h->set_target_subtask(Key(0).subtask);
    h->set_sender_worker_id(sender_worker);
    EXPECT_TRUE(stream->Write(header));
    return stream;
  }

  // Polls `gate` until it reports a failure (or 100 polls pass).
  static absl::Status FailureOf(InputGate& gate, Mailbox& mailbox) {
    for (int i = 0; i < 100; ++i) {
      auto ev = gate.Poll();
      if (!ev.ok()) return ev.status();
      mailbox.WaitUntil(Clock::Steady().NowMs() + 50);
    }
    return absl::OkStatus();
  }

  ExchangeOnly service_;
  std::string address_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(ExchangeTest, ABlockedReceiverDoesNotStallAnotherChannelBetweenTheSameWorkers) {
  constexpr int kCapacity = 4;  // credits (32 KiB buffers) per channel
  auto a = Receive(0, kCapacity), b = Receive(1, kCapacity);
  auto &gate_a = a->gate, &gate_b = b->gate;
  auto &in_mail_a = a->mail, &in_mail_b = b->mail;

  auto out_mail = std::make_shared<Mailbox>();
  auto to_a = Sender(0, kCapacity, out_mail), to_b = Sender(1, kCapacity, out_mail);
  to_a->Start();
  to_b->Start();
  // 200 batches of 64 rows of ~520 bytes (about 33 KiB, 2 credits each) on each channel.
  constexpr int kBatches = 200, kRows = 64;
  for (int i = 0; i < kBatches; ++i) {
    ASSERT_TRUE(to_a->Send(StreamElement::Records(Rows(i * kRows, kRows))).ok());
    ASSERT_TRUE(to_b->Send(StreamElement::Records(Rows(i * kRows, kRows))).ok());
  }
  ASSERT_TRUE(to_a->Send(StreamElement::EndOfStream()).ok());
  ASSERT_TRUE(to_b->Send(StreamElement::EndOfStream()).ok());

  // Nobody reads A. B's receiver reads everything, through the same two
  // endpoints and the same TCP connection.
  std::vector<int64_t> got_b = Drain(*gate_b, *in_mail_b);
  ASSERT_EQ(got_b.size(), static_cast<size_t>(kBatches * kRows));
  for (size_t i = 0; i < got_b.size(); ++i) ASSERT_EQ(got_b[i], static_cast<int64_t>(i));

  // A holds no more than its credit; the rest waits at the sender.
  EXPECT_LE(gate_a->QueuedCredits(), kCapacity);
  EXPECT_GT(gate_a->QueuedCredits(), 0);
  EXPECT_GT(to_a->queued_bytes(), 100 * 32 * 1024);
  EXPECT_FALSE(to_a->finished());

  // Once A's receiver reads, A completes in order too.
  std::vector<int64_t> got_a = Drain(*gate_a, *in_mail_a);
  ASSERT_EQ(got_a.size(), static_cast<size_t>(kBatches * kRows));
  for (size_t i = 0; i < got_a.size(); ++i) ASSERT_EQ(got_a[i], static_cast<int64_t>(i));
  for (int i = 0; i < 200 && !(to_a->finished() && to_b->finished()); ++i) {
    out_mail->WaitUntil(Clock::Steady().NowMs() + 50);
  }
  EXPECT_TRUE(to_a->finished()) << to_a->status();
  EXPECT_TRUE(to_b->finished()) << to_b->status();
  EXPECT_EQ(to_a->queued_bytes(), 0);
}

TEST_F(ExchangeTest, AReceiverThatEndsFailsItsSenderNamingTheWorker) {
  auto receiver = Receive(0, 2);
  auto& gate = receiver->gate;
  auto& in_mail = receiver->mail;
  auto out_mail = std::make_shared<Mailbox>();
  auto sender = Sender(0, 2, out_mail);
  sender->Start();
  ASSERT_TRUE(sender->Send(StreamElement::Records(Rows(0, 10))).ok());
  while (gate->QueuedCredits() == 0) in_mail->WaitUntil(Clock::Steady().NowMs() + 50);
  gate->Close(absl::CancelledError("task canceled"));
  ExchangeRegistry::Get().UnregisterGate(Key(0));
  for (int i = 0; i < 100 && sender->status().ok(); ++i) {
    out_mail->WaitUntil(Clock::Steady().NowMs() + 50);
  }
  absl::Status s = sender->status();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("lost data channel to worker receiver"), std::string::npos) << s;
  EXPECT_NE(s.message().find("task canceled"), std::string::npos) << s;
}

TEST_F(ExchangeTest, ASenderThatVanishesFailsTheReceiverNamingTheSender) {
  auto receiver = Receive(0, 2);
  auto& gate = receiver->gate;
  auto& in_mail = receiver->mail;
  {
    auto out_mail = std::make_shared<Mailbox>();
    auto sender = Sender(0, 2, out_mail);
    sender->Start();
    ASSERT_TRUE(sender->Send(StreamElement::Records(Rows(0, 10))).ok());
    while (gate->QueuedCredits() == 0) in_mail->WaitUntil(Clock::Steady().NowMs() + 50);
    sender->Cancel();  // dies before end of stream
  }
  const absl::Status failure = FailureOf(*gate, *in_mail);
  EXPECT_NE(failure.message().find("lost input from task 0 subtask 0 on worker sender"),
            std::string::npos)
      << failure;
}

TEST_F(ExchangeTest, ASenderIgnoringItsCreditFailsTheReceiverNamingIt) {
  auto receiver = Receive(0, 2);
  auto& gate = receiver->gate;
  auto& in_mail = receiver->mail;
  // A hand-written client: sends frames without waiting for credit.
  auto stub = proto::WorkerService::NewStub(ChannelTo(address_));
  grpc::ClientContext ctx;
  auto stream = RawStream(*stub, &ctx, "rogue");
  proto::ExchangeCredit credit;
  ASSERT_TRUE(stream->Read(&credit));
  EXPECT_EQ(credit.credits(), 2);
  proto::DataFrame data;
  EncodeBatch(Rows(0, 200), data.mutable_batch());  // ~100 KB: the channel's whole credit
  for (int i = 0; i < 3; ++i) stream->Write(data);
  stream->WritesDone();
  grpc::Status finished = stream->Finish();
  EXPECT_FALSE(finished.ok());
  const absl::Status failure = FailureOf(*gate, *in_mail);
  EXPECT_NE(failure.message().find("bad input from task 0 subtask 0 on worker rogue"),
            std::string::npos)
      << failure;
  EXPECT_NE(failure.message().find("exceeded its credit"), std::string::npos) << failure;
  EXPECT_LE(gate->QueuedCredits(), 2);
}

TEST_F(ExchangeTest, ASenderWaitsForAReceiverThatDeploysLater) {
  auto out_mail = std::make_shared<Mailbox>();
  auto sender = Sender(0, 2, out_mail);
  sender->Start();
  ASSERT_TRUE(sender->Send(StreamElement::Records(Rows(0, 10))).ok());
  ASSERT_TRUE(sender->Send(StreamElement::EndOfStream()).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto receiver = Receive(0, 2);
  auto& gate = receiver->gate;
  auto& in_mail = receiver->mail;
  EXPECT_EQ(Drain(*gate, *in_mail).size(), 10u);
}

// A receiving task ends as soon as every input channel delivered end of
// stream (Task::Run closes its gate). The sender's half-close may reach
// the receiver only after that: its write of end of stream has to complete
// first. The stream carried everything, so it must still end cleanly;
// otherwise RemoteOutputChannel::OnDone turns the status into a lost
// channel and the sending task fails at the very end of a successful job.
TEST_F(ExchangeTest, AReceiverThatEndsRightAfterEndOfStreamFinishesTheStreamCleanly) {
  auto receiver = Receive(0, 2);
  auto& gate = receiver->gate;
  auto& in_mail = receiver->mail;

  // The sending side, step by step (what RemoteOutputChannel does).
  auto stub = proto::WorkerService::NewStub(ChannelTo(address_));
  grpc::ClientContext ctx;
  auto stream = RawStream(*stub, &ctx);
  proto::ExchangeCredit credit;
  ASSERT_TRUE(stream->Read(&credit));
  EXPECT_EQ(credit.credits(), 2);
  proto::DataFrame eos;
  eos.set_end_of_stream(true);
  ASSERT_TRUE(stream->Write(eos));

  // The receiving task sees the end of its input and ends.
  EXPECT_TRUE(Drain(*gate, *in_mail).empty());
  gate->Close(absl::CancelledError("task ended"));
  ExchangeRegistry::Get().UnregisterGate(Key(0));

  // Only now does the sender half-close.
  stream->WritesDone();
  while (stream->Read(&credit)) {
  }
  grpc::Status s = stream->Finish();
  EXPECT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message();
}

// The same race through RemoteOutputChannel: the receiver closes its gate
// the moment it sees end of stream, as a sink task does.
TEST_F(ExchangeTest, ASenderIsFinishedWhenItsReceiverEndsRightAfterEndOfStream) {
  constexpr int kRounds = 30;
  int failed = 0;
  std::string first_failure;
  for (int round = 0; round < kRounds; ++round) {
    const GateKey key{absl::StrCat(Key(0).job_id, "-", round), 1, 1, 0};
    auto in_mail = std::make_shared<Mailbox>();
    auto gate = std::make_shared<InputGate>(1, 2, in_mail);
    ExchangeRegistry::Get().RegisterGate(key, gate);
    ChannelAddress to;
    to.to = key;
    to.capacity = 2;
    to.worker_id = "receiver";
    to.worker_address = address_;
    to.from_worker_id = "sender";
    auto out_mail = std::make_shared<Mailbox>();
    auto sender = MakeOutputChannel(to, out_mail, /*allow_local=*/false);
    sender->Start();
    ASSERT_TRUE(sender->Send(StreamElement::Records(Rows(0, 10))).ok());
    ASSERT_TRUE(sender->Send(StreamElement::EndOfStream()).ok());
    EXPECT_EQ(Drain(*gate, *in_mail).size(), 10u);
    gate->Close(absl::CancelledError("task ended"));
    ExchangeRegistry::Get().UnregisterGate(key);
    for (int i = 0; i < 200 && !sender->finished() && sender->status().ok(); ++i) {
      out_mail->WaitUntil(Clock::Steady().NowMs() + 10);
    }
    if (!sender->finished()) {
      ++failed;
      if (first_failure.empty()) first_failure = sender->status().ToString();
    }
  }
  EXPECT_EQ(failed, 0) << "of " << kRounds << " rounds; first: " << first_failure;
}

// A stream may outlive the task that made its channel (remote_exchange.h):
// then OnDone drops the last reference to the RemoteOutputChannel, on a gRPC
// callback thread, and with it the channel's stub and grpc::Channel. When no
// gRPC server is left in the process (a worker after Stop, a client process),
// that grpc::Channel holds the last reference to gRPC's shared callback
// completion queue, which is then shut down and deleted from one of its own
// polling threads: a double free (seen under ASan in ExchangeTest repeats).
TEST(RemoteOutputChannelLifetimeTest, TheStreamMayDropTheLastReferenceWhenNoServerIsLeft) {
  // An address nobody listens on any more.
  std::string address;
  {
    ExchangeOnly service;
    auto server = StartServer("127.0.0.1:0", &service, &address);
    ASSERT_TRUE(server.ok()) << server.status();
    StopServer(server->get(), address);
  }
  std::weak_ptr<OutputChannel> weak;
  {
    ChannelAddress to;
    to.to = GateKey{"lifetime", 1, 1, 0};
    to.worker_id = "gone";
    to.worker_address = address;
    auto sender = MakeOutputChannel(to, std::make_shared<Mailbox>(), /*allow_local=*/false);
    weak = sender;
    sender->Start();
  }  // the task is gone; the stream keeps the channel alive until OnDone
  for (int i = 0; i < 200 && !weak.expired(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(weak.expired());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let gRPC's threads run on
}

}  // namespace
}  // namespace sluice
