#include "worker/input_gate.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "gtest/gtest.h"

namespace sluice {
namespace {

Batch Rows(int n) {
  auto schema = std::make_shared<const Schema>(std::vector<Field>{{"x", FieldType::kInt64}});
  BatchBuilder b(schema);
  for (int i = 0; i < n; ++i) {
    b.SetInt(0, i);
    b.FinishRow(i);
  }
  return b.Take();
}

// Records the credit a gate hands back.
class RecordingSender : public CreditListener {
 public:
  void OnCredit(int credits) override { returned += credits; }
  void OnGateClosed(const absl::Status& reason) override { closed = reason; }
  int returned = 0;
  absl::Status closed;
};

// A gate of two channels of 8 credits, a sender attached to each.
struct TwoChannelGate {
  TwoChannelGate() {
    EXPECT_EQ(*gate.Attach(0, s0), 8);
    EXPECT_EQ(*gate.Attach(1, s1), 8);
  }
  InputGate gate{2, 8, std::make_shared<Mailbox>()};
  std::shared_ptr<RecordingSender> s0 = std::make_shared<RecordingSender>();
  std::shared_ptr<RecordingSender> s1 = std::make_shared<RecordingSender>();
};

std::optional<InputGate::Event> Next(InputGate& gate) {
  auto ev = gate.Poll();
  EXPECT_TRUE(ev.ok()) << ev.status();
  return ev.ok() ? *ev : std::nullopt;
}

TEST(InputGateTest, WatermarkIsMinimumAcrossChannelsAndEndedChannelsDoNotHoldItBack) {
  TwoChannelGate two;
  InputGate& gate = two.gate;
  ASSERT_TRUE(gate.Deliver(0, StreamElement::Watermark(100), 0).ok());
  ASSERT_TRUE(gate.Deliver(1, StreamElement::Watermark(50), 0).ok());
  ASSERT_TRUE(gate.Deliver(1, StreamElement::Records(Rows(3)), 1).ok());
  ASSERT_TRUE(gate.Deliver(1, StreamElement::EndOfStream(), 0).ok());

  std::vector<int64_t> watermarks;
  size_t rows = 0;
  bool ended = false;
  while (!ended) {
    auto ev = Next(gate);
    if (!ev.has_value()) {
      ASSERT_TRUE(gate.Deliver(0, StreamElement::EndOfStream(), 0).ok());
      continue;
    }
    if (ev->kind == InputGate::Event::Kind::kEnd) ended = true;
    if (ev->kind == InputGate::Event::Kind::kWatermark) watermarks.push_back(ev->watermark);
    if (ev->kind == InputGate::Event::Kind::kBatch) rows += ev->batch.num_rows();
  }
  EXPECT_EQ(rows, 3u);
  // 50 (min of 100, 50), then 100 once channel 1 ended, then +inf once both ended.
  EXPECT_EQ(watermarks, (std::vector<int64_t>{50, 100, INT64_MAX}));
  EXPECT_EQ(two.s1->returned, 1);  // the batch's credit came back
}

// All watermarks the gate reports until it has nothing more to hand out.
std::vector<int64_t> DrainWatermarks(InputGate& gate) {
  std::vector<int64_t> out;
  while (auto ev = Next(gate)) {
    if (ev->kind == InputGate::Event::Kind::kWatermark) out.push_back(ev->watermark);
  }
  return out;
}

// An idle channel does not hold the others back; when it sends records
// again it counts again, from its own watermark, and the combined one never
// goes back.
TEST(InputGateTest, AnIdleChannelIsLeftOutOfTheMinimumUntilItSendsAgain) {
  TwoChannelGate two;
  InputGate& gate = two.gate;
  ASSERT_TRUE(gate.Deliver(0, StreamElement::Watermark(100), 0).ok());
  EXPECT_EQ(DrainWatermarks(gate), std::vector<int64_t>{});  // channel 1 holds it back

  // A watermark just before the idle mark must not swallow it.
  ASSERT_TRUE(gate.Deliver(1, StreamElement::Watermark(40), 0).ok());
  ASSERT_TRUE(gate.Deliver(1, StreamElement::Watermark(kIdleWatermark), 0).ok());
  EXPECT_EQ(DrainWatermarks(gate), (std::vector<int64_t>{40, 100}));
  ASSERT_TRUE(gate.Deliver(0, StreamElement::Watermark(200), 0).ok());
  EXPECT_EQ(DrainWatermarks(gate), std::vector<int64_t>{200});

  // Channel 1 comes back with records: from now on it counts, at 40.
  ASSERT_TRUE(gate.Deliver(1, StreamElement::Records(Rows(2)), 1).ok());
  ASSERT_TRUE(gate.Deliver(0, StreamElement::Watermark(300), 0).ok());
  EXPECT_EQ(DrainWatermarks(gate), std::vector<int64_t>{});
  ASSERT_TRUE(gate.Deliver(1, StreamElement::Watermark(250), 0).ok());
  EXPECT_EQ(DrainWatermarks(gate), std::vector<int64_t>{250});

  // Both idle: each has sent all it had, so the larger watermark holds,
  // and the gate says it is idle, once, for its task to pass on.
  ASSERT_TRUE(gate.Deliver(0, StreamElement::Watermark(kIdleWatermark), 0).ok());
  ASSERT_TRUE(gate.Deliver(1, StreamElement::Watermark(kIdleWatermark), 0).ok());
  EXPECT_EQ(DrainWatermarks(gate), (std::vector<int64_t>{300, kIdleWatermark}));
  ASSERT_TRUE(gate.Deliver(1, StreamElement::Watermark(kIdleWatermark), 0).ok());
  EXPECT_EQ(DrainWatermarks(gate), std::vector<int64_t>{});
}

// An ended channel neither holds the others back nor, when they are idle,
// makes the watermark jump to the end.
TEST(InputGateTest, AnEndedChannelBesideIdleOnesDoesNotEndTheWatermark) {
  TwoChannelGate two;
  InputGate& gate = two.gate;
  ASSERT_TRUE(gate.Deliver(0, StreamElement::EndOfStream(), 0).ok());
  ASSERT_TRUE(gate.Deliver(1, StreamElement::Watermark(70), 0).ok());
  ASSERT_TRUE(gate.Deliver(1, StreamElement::Watermark(kIdleWatermark), 0).ok());
  EXPECT_EQ(DrainWatermarks(gate), (std::vector<int64_t>{70, kIdleWatermark}));
}

TEST(InputGateTest, ASenderMayNotExceedItsCredit) {
  InputGate gate(1, 2, std::make_shared<Mailbox>());
  auto sender = std::make_shared<RecordingSender>();
  ASSERT_EQ(*gate.Attach(0, sender), 2);
  ASSERT_TRUE(gate.Deliver(0, StreamElement::Records(Rows(1)), 1).ok());
  ASSERT_TRUE(gate.Deliver(0, StreamElement::Records(Rows(1)), 1).ok());
  absl::Status over = gate.Deliver(0, StreamElement::Records(Rows(1)), 1);
  EXPECT_FALSE(over.ok());
  EXPECT_NE(over.message().find("exceeded its credit"), std::string::npos) << over;
  // Taking a batch returns its credit, and then there is room again.
  auto ev = Next(gate);
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(sender->returned, 1);
  EXPECT_EQ(gate.QueuedCredits(), 1);
}

TEST(InputGateTest, ConsecutiveWatermarksMergeSoControlEventsStayBounded) {
  InputGate gate(1, 2, std::make_shared<Mailbox>());
  ASSERT_TRUE(gate.Attach(0, std::make_shared<RecordingSender>()).ok());
  for (int wm = 1; wm <= 1000; ++wm) {
    ASSERT_TRUE(gate.Deliver(0, StreamElement::Watermark(wm), 0).ok());
  }
  ASSERT_TRUE(gate.Deliver(0, StreamElement::Records(Rows(2)), 1).ok());
  ASSERT_TRUE(gate.Deliver(0, StreamElement::Watermark(2000), 0).ok());
  auto a = Next(gate);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->kind, InputGate::Event::Kind::kWatermark);
  EXPECT_EQ(a->watermark, 1000);
  auto b = Next(gate);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->kind, InputGate::Event::Kind::kBatch);  // data keeps its place
  auto c = Next(gate);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->watermark, 2000);
  EXPECT_FALSE(Next(gate).has_value());
}

TEST(InputGateTest, OneSenderPerChannel) {
  InputGate gate(1, 2, std::make_shared<Mailbox>());
  ASSERT_TRUE(gate.Attach(0, std::make_shared<RecordingSender>()).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(gate.Attach(0, std::make_shared<RecordingSender>()).status()));
  EXPECT_FALSE(gate.Attach(1, std::make_shared<RecordingSender>()).ok());
}

TEST(InputGateTest, CloseTellsSendersAndFailsLaterDeliveriesAndPolls) {
  InputGate gate(1, 1, std::make_shared<Mailbox>());
  auto sender = std::make_shared<RecordingSender>();
  ASSERT_TRUE(gate.Attach(0, sender).ok());
  ASSERT_TRUE(gate.Deliver(0, StreamElement::Records(Rows(1)), 1).ok());
  gate.Close(absl::CancelledError("canceled"));
  EXPECT_TRUE(absl::IsCancelled(sender->closed));
  EXPECT_FALSE(gate.Deliver(0, StreamElement::Records(Rows(1)), 1).ok());
  EXPECT_TRUE(absl::IsCancelled(gate.Poll().status()));
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// The gate with a barrier handler, as a task drives them.
class GateWithBarriers {
 public:
  GateWithBarriers(InputGate& gate, BarrierHandler& handler) : gate_(gate), handler_(handler) {}

  // The next event as the task sees it: a barrier only once the handler
  // says it is complete (alignment_ms in last_alignment_ms).
  std::optional<InputGate::Event> Next() {
    while (true) {
      auto ev = gate_.Poll();
      EXPECT_TRUE(ev.ok()) << ev.status();
      if (!ev.ok() || !ev->has_value()) return std::nullopt;
      InputGate::Event e = **std::move(ev);
      std::optional<AlignedBarrier> done;
      if (e.kind == InputGate::Event::Kind::kBarrier) {
        done = handler_.OnBarrier(e.channel, e.barrier);
      } else if (e.kind == InputGate::Event::Kind::kChannelEnded) {
        done = handler_.OnChannelEnded(e.channel);
      } else {
        return e;
      }
      if (done.has_value()) {
        e = InputGate::Event::Of(InputGate::Event::Kind::kBarrier);
        e.barrier = done->barrier;
        last_alignment_ms = done->alignment_ms;
        return e;
      }
    }
  }

  // Polls until nothing is ready; returns what came out, as text:
  // "b<rows>", "w<watermark>", "B<checkpoint id>", "end".
  std::vector<std::string> Drain() {
    std::vector<std::string> out;
    while (true) {
      auto ev = Next();
      if (!ev.has_value()) return out;
      switch (ev->kind) {
        case InputGate::Event::Kind::kBatch:
          out.push_back(absl::StrCat("b", ev->batch.num_rows()));
          break;
        case InputGate::Event::Kind::kWatermark:
          out.push_back(absl::StrCat("w", ev->watermark));
          break;
        case InputGate::Event::Kind::kBarrier:
          out.push_back(absl::StrCat("B", ev->barrier.id));
          break;
        case InputGate::Event::Kind::kChannelEnded:
          break;
        case InputGate::Event::Kind::kEnd:
          out.push_back("end");
          return out;
      }
    }
  }

  int64_t last_alignment_ms = -1;

 private:
  InputGate& gate_;
  BarrierHandler& handler_;
};

StreamElement BarrierOf(int64_t id) {
  return StreamElement::Barrier({id, 0, proto::CHECKPOINT, ""});
}

class BarrierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int c = 0; c < 3; ++c) ASSERT_TRUE(gate_.Attach(c, senders_[c]).ok());
  }
  void Deliver(int channel, StreamElement e) {
    const int credits = e.kind == StreamElement::Kind::kBatch ? 1 : 0;
    ASSERT_TRUE(gate_.Deliver(channel, std::move(e), credits).ok());
  }

  ManualClock clock_;
  InputGate gate_{3, 8, std::make_shared<Mailbox>()};
  std::shared_ptr<RecordingSender> senders_[3] = {std::make_shared<RecordingSender>(),
                                                  std::make_shared<RecordingSender>(),
                                                  std::make_shared<RecordingSender>()};
};

class AlignedBarrierTest : public BarrierTest {
 protected:
  std::unique_ptr<BarrierHandler> handler_ = MakeAlignedBarrierHandler(3, &gate_, &clock_);
  GateWithBarriers input_{gate_, *handler_};
};

TEST_F(AlignedBarrierTest, HoldsBackChannelsPastTheBarrierUntilEveryChannelDeliveredIt) {
  Deliver(0, StreamElement::Records(Rows(1)));
  Deliver(0, BarrierOf(1));
  Deliver(0, StreamElement::Records(Rows(10)));  // after barrier 1: held back
  Deliver(1, StreamElement::Records(Rows(2)));
  Deliver(1, BarrierOf(1));
  Deliver(1, StreamElement::Records(Rows(20)));
  Deliver(2, StreamElement::Records(Rows(3)));
  // Channel 2 has not delivered barrier 1: only pre-barrier rows come out.
  std::vector<std::string> got = input_.Drain();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"b1", "b2", "b3"}));

  clock_.Advance(40);
  Deliver(2, StreamElement::Records(Rows(4)));
  Deliver(2, BarrierOf(1));
  Deliver(2, StreamElement::Records(Rows(30)));
  auto ev = input_.Next();
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->kind, InputGate::Event::Kind::kBatch);  // channel 2's pre-barrier rows
  EXPECT_EQ(ev->batch.num_rows(), 4u);
  ev = input_.Next();
  ASSERT_TRUE(ev.has_value());
  ASSERT_EQ(ev->kind, InputGate::Event::Kind::kBarrier);
  EXPECT_EQ(ev->barrier.id, 1);
  EXPECT_EQ(input_.last_alignment_ms, 40);
  EXPECT_EQ(handler_->last_checkpoint_id(), 1);
  // Then the held-back rows, and the barrier never again.
  got = input_.Drain();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"b10", "b20", "b30"}));
}

TEST_F(AlignedBarrierTest, AnEndedChannelCountsAsAligned) {
  Deliver(0, BarrierOf(5));
  Deliver(0, StreamElement::Records(Rows(1)));
  Deliver(1, StreamElement::EndOfStream());
  Deliver(2, BarrierOf(5));
  EXPECT_EQ(input_.Drain(), (std::vector<std::string>{"B5", "b1"}));
}

TEST_F(AlignedBarrierTest, AChannelEndingLastCompletesTheAlignment) {
  Deliver(0, BarrierOf(5));
  Deliver(0, StreamElement::Records(Rows(1)));
  Deliver(1, BarrierOf(5));
  EXPECT_TRUE(input_.Drain().empty());
  Deliver(2, StreamElement::Records(Rows(2)));
  Deliver(2, StreamElement::EndOfStream());
  // Channel 2's rows are before its end; the end completes barrier 5.
  EXPECT_EQ(input_.Drain(), (std::vector<std::string>{"b2", "B5", "b1"}));
}

TEST_F(AlignedBarrierTest, ANewerBarrierAbandonsTheAlignmentAndOldOnesAreIgnored) {
  Deliver(0, BarrierOf(1));
  Deliver(0, StreamElement::Records(Rows(1)));
  Deliver(0, BarrierOf(2));
  Deliver(1, BarrierOf(2));  // barrier 1 never came on channel 1: checkpoint 1 was aborted
  Deliver(2, BarrierOf(1));
  Deliver(2, BarrierOf(2));
  // Channel 1's barrier 2 abandons checkpoint 1, releasing channel 0's row;
  // channel 2's late barrier 1 is ignored; barrier 2 aligns once.
  std::vector<std::string> got = input_.Drain();
  EXPECT_EQ(std::count(got.begin(), got.end(), "B2"), 1);
  EXPECT_EQ(std::count(got.begin(), got.end(), "B1"), 0);
  EXPECT_EQ(std::count(got.begin(), got.end(), "b1"), 1);
  EXPECT_EQ(got.back(), "B2");  // the row is before barrier 2 on channel 0
}

TEST_F(AlignedBarrierTest, HeldBackChannelsStillReturnNoCreditUntilReleased) {
  Deliver(0, BarrierOf(1));
  Deliver(0, StreamElement::Records(Rows(1)));
  Deliver(0, StreamElement::Records(Rows(1)));
  EXPECT_TRUE(input_.Drain().empty());
  EXPECT_EQ(senders_[0]->returned, 0);  // the sender stays out of credit: backpressure
  Deliver(1, BarrierOf(1));
  Deliver(2, BarrierOf(1));
  EXPECT_EQ(input_.Drain(), (std::vector<std::string>{"B1", "b1", "b1"}));
  EXPECT_EQ(senders_[0]->returned, 2);
}

class TrackingBarrierTest : public BarrierTest {
 protected:
  std::unique_ptr<BarrierHandler> handler_ = MakeTrackingBarrierHandler(3, &clock_);
  GateWithBarriers input_{gate_, *handler_};
};

TEST_F(TrackingBarrierTest, NeverHoldsAChannelBackAndCompletesWhenEveryChannelDeliveredIt) {
  Deliver(0, BarrierOf(1));
  Deliver(0, StreamElement::Records(Rows(10)));  // after barrier 1: still processed
  Deliver(1, BarrierOf(1));
  EXPECT_EQ(input_.Drain(), (std::vector<std::string>{"b10"}));
  EXPECT_EQ(senders_[0]->returned, 1);  // no backpressure from the barrier
  clock_.Advance(25);
  Deliver(2, BarrierOf(1));
  EXPECT_EQ(input_.Drain(), (std::vector<std::string>{"B1"}));
  EXPECT_EQ(input_.last_alignment_ms, 25);
}

TEST_F(TrackingBarrierTest, ANewerCompleteBarrierSupersedesOlderOnesAndEndedChannelsCount) {
  Deliver(0, BarrierOf(1));
  Deliver(0, BarrierOf(2));
  Deliver(1, BarrierOf(2));  // checkpoint 1 was aborted upstream of channel 1
  Deliver(2, StreamElement::EndOfStream());
  Deliver(1, BarrierOf(1));  // too late: 2 completed
  std::vector<std::string> got = input_.Drain();
  EXPECT_EQ(got, (std::vector<std::string>{"B2"}));
  EXPECT_EQ(handler_->last_checkpoint_id(), 2);
}

}  // namespace
}  // namespace sluice
