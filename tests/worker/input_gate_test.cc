#include "worker/input_gate.h"

#include <memory>

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

std::optional<InputGate::Event> Next(InputGate& gate) {
  auto ev = gate.Poll();
  EXPECT_TRUE(ev.ok()) << ev.status();
  return ev.ok() ? *ev : std::nullopt;
}

TEST(InputGateTest, WatermarkIsMinimumAcrossChannelsAndEndedChannelsDoNotHoldItBack) {
  auto mailbox = std::make_shared<Mailbox>();
  InputGate gate(2, 8, mailbox);
  auto s0 = std::make_shared<RecordingSender>(), s1 = std::make_shared<RecordingSender>();
  ASSERT_EQ(*gate.Attach(0, s0), 8);
  ASSERT_EQ(*gate.Attach(1, s1), 8);
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
  EXPECT_EQ(s1->returned, 1);  // the batch's credit came back
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
