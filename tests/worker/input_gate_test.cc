#include "worker/input_gate.h"

#include <atomic>
#include <thread>

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

TEST(InputGateTest, WatermarkIsMinimumAcrossChannelsAndEndedChannelsDoNotHoldItBack) {
  InputGate gate(2, 8);
  ASSERT_TRUE(gate.Push(0, StreamElement::Watermark(100)).ok());
  ASSERT_TRUE(gate.Push(1, StreamElement::Watermark(50)).ok());
  ASSERT_TRUE(gate.Push(1, StreamElement::Records(Rows(3))).ok());
  ASSERT_TRUE(gate.Push(1, StreamElement::EndOfStream()).ok());

  std::vector<int64_t> watermarks;
  size_t rows = 0;
  while (true) {
    auto ev = gate.Poll();
    ASSERT_TRUE(ev.ok());
    if (ev->kind == InputGate::Event::Kind::kEnd) break;
    if (ev->kind == InputGate::Event::Kind::kWatermark) watermarks.push_back(ev->watermark);
    if (ev->kind == InputGate::Event::Kind::kBatch) rows += ev->batch.num_rows();
    if (watermarks.size() == 2 && ev->kind == InputGate::Event::Kind::kWatermark) {
      ASSERT_TRUE(gate.Push(0, StreamElement::EndOfStream()).ok());
    }
  }
  EXPECT_EQ(rows, 3u);
  // 50 (min of 100, 50), then 100 once channel 1 ended, then +inf once both ended.
  EXPECT_EQ(watermarks, (std::vector<int64_t>{50, 100, INT64_MAX}));
}

TEST(InputGateTest, PushBlocksWhenTheChannelIsFull) {
  InputGate gate(1, 2);
  ASSERT_TRUE(gate.Push(0, StreamElement::Records(Rows(1))).ok());
  ASSERT_TRUE(gate.Push(0, StreamElement::Records(Rows(1))).ok());
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    ASSERT_TRUE(gate.Push(0, StreamElement::Records(Rows(1))).ok());
    pushed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(pushed.load());  // bounded: the third batch waits
  ASSERT_TRUE(gate.Poll().ok());
  producer.join();
  EXPECT_TRUE(pushed.load());
}

TEST(InputGateTest, CloseWakesBlockedProducersAndConsumers) {
  InputGate gate(1, 1);
  ASSERT_TRUE(gate.Push(0, StreamElement::Records(Rows(1))).ok());
  std::thread producer([&] { EXPECT_FALSE(gate.Push(0, StreamElement::Records(Rows(1))).ok()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  gate.Close(absl::CancelledError("canceled"));
  producer.join();
  EXPECT_TRUE(absl::IsCancelled(gate.Poll().status()));
}

}  // namespace
}  // namespace sluice
