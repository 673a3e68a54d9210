#include "worker/record_writer.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "common/key_group.h"
#include "gtest/gtest.h"

namespace sluice {
namespace {

// A channel that keeps what it is sent, with unlimited credit.
class CapturingChannel : public OutputChannel {
 public:
  CapturingChannel() : OutputChannel(ChannelAddress{}, std::make_shared<Mailbox>()) {}
  void Start() override {
    absl::MutexLock lock(&mu_);
    connected_ = true;
    credits_ = 1 << 30;
  }
  void Cancel() override {}

  std::vector<StreamElement> sent;  // written under mu_, read after the writer is done

 private:
  void Prepare(Frame& frame) override {
    frame.bytes =
        frame.element.kind == StreamElement::Kind::kBatch ? frame.element.batch.ByteSize() : 0;
  }
  void TransmitLocked(Frame frame, int) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    queued_bytes_.fetch_sub(static_cast<int64_t>(frame.bytes));
    sent.push_back(std::move(frame.element));
  }
};

SchemaRef TestSchema() {
  static const SchemaRef s = std::make_shared<const Schema>(
      std::vector<Field>{{"k", FieldType::kString}, {"pad", FieldType::kString}});
  return s;
}

Batch Rows(int first, int n, size_t pad = 100) {
  BatchBuilder b(TestSchema());
  const std::string p(pad, 'x');
  for (int i = first; i < first + n; ++i) {
    b.SetString(0, absl::StrCat("key-", i % 97));
    b.SetString(1, p);
    b.FinishRow(i);
  }
  return b.Take();
}

struct Harness {
  Harness(proto::Partitioning partitioning, int channels, size_t frame_bytes,
          std::vector<uint32_t> owner = {}) {
    edge.set_partitioning(partitioning);
    edge.add_key_fields("k");
    std::vector<std::shared_ptr<OutputChannel>> cs;
    for (int i = 0; i < channels; ++i) {
      captures.push_back(std::make_shared<CapturingChannel>());
      cs.push_back(captures.back());
    }
    writer = std::make_unique<RecordWriter>(edge, cs, std::move(owner), frame_bytes, 10, &clock);
    writer->Start();
  }
  proto::OutputEdge edge;
  ManualClock clock;
  std::vector<std::shared_ptr<CapturingChannel>> captures;
  std::unique_ptr<RecordWriter> writer;
};

TEST(RecordWriterTest, SmallBatchesAreBufferedToFrameSizeAndFlushedAfterTheInterval) {
  Harness h(proto::PARTITIONING_FORWARD, 1, 64 * 1024);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(h.writer->Write(Rows(i * 10, 10)).ok());
  EXPECT_TRUE(h.captures[0]->sent.empty());  // ~13 KB buffered, under the frame size
  ASSERT_TRUE(h.writer->NextFlushMs().has_value());
  EXPECT_EQ(*h.writer->NextFlushMs(), h.clock.NowMs() + 10);
  h.clock.Advance(9);
  ASSERT_TRUE(h.writer->FlushDue(h.clock.NowMs()).ok());
  EXPECT_TRUE(h.captures[0]->sent.empty());
  h.clock.Advance(1);
  ASSERT_TRUE(h.writer->FlushDue(h.clock.NowMs()).ok());
  ASSERT_EQ(h.captures[0]->sent.size(), 1u);
  EXPECT_EQ(h.captures[0]->sent[0].batch.num_rows(), 100u);
  EXPECT_FALSE(h.writer->NextFlushMs().has_value());
}

TEST(RecordWriterTest, NoFrameIsMuchBiggerThanTheFrameSize) {
  const size_t frame = 32 * 1024;
  Harness h(proto::PARTITIONING_FORWARD, 1, frame);
  ASSERT_TRUE(h.writer->Write(Rows(0, 5, 50)).ok());        // buffered
  ASSERT_TRUE(h.writer->Write(Rows(5, 20'000, 100)).ok());  // ~2.6 MB at once
  ASSERT_TRUE(h.writer->Finish().ok());
  int64_t next = 0;
  for (const StreamElement& e : h.captures[0]->sent) {
    if (e.kind != StreamElement::Kind::kBatch) continue;
    EXPECT_LE(e.batch.ByteSize(), 2 * frame + 200);
    for (int64_t t : e.batch.event_time()) EXPECT_EQ(t, next++);  // in order, nothing lost
  }
  EXPECT_EQ(next, 20'005);
  EXPECT_EQ(h.captures[0]->sent.back().kind, StreamElement::Kind::kEndOfStream);
}

TEST(RecordWriterTest, AWatermarkFollowsTheRowsBeforeItOnEveryChannel) {
  Harness h(proto::PARTITIONING_REBALANCE, 2, 1 << 20);
  ASSERT_TRUE(h.writer->Write(Rows(0, 3)).ok());
  ASSERT_TRUE(h.writer->Write(Rows(3, 3)).ok());
  ASSERT_TRUE(h.writer->WriteWatermark(100).ok());
  ASSERT_TRUE(h.writer->WriteWatermark(100).ok());  // not repeated
  ASSERT_TRUE(h.writer->WriteWatermark(50).ok());   // never backwards
  for (const auto& c : h.captures) {
    ASSERT_EQ(c->sent.size(), 2u);
    EXPECT_EQ(c->sent[0].kind, StreamElement::Kind::kBatch);
    EXPECT_EQ(c->sent[0].batch.num_rows(), 3u);
    EXPECT_EQ(c->sent[1].kind, StreamElement::Kind::kWatermark);
    EXPECT_EQ(c->sent[1].watermark, 100);
  }
}

TEST(RecordWriterTest, HashRoutingFollowsTheKeyGroupRangesItIsGiven) {
  // 8 key groups; the receivers own [0, 3) and [3, 8): deliberately not
  // the default split.
  std::vector<uint32_t> owner = {0, 0, 0, 1, 1, 1, 1, 1};
  Harness h(proto::PARTITIONING_HASH, 2, 1 << 20, owner);
  ASSERT_TRUE(h.writer->Write(Rows(0, 970)).ok());
  ASSERT_TRUE(h.writer->Finish().ok());
  KeyEncoder encoder(*TestSchema(), {0});
  std::string scratch;
  size_t rows = 0;
  for (size_t c = 0; c < 2; ++c) {
    for (const StreamElement& e : h.captures[c]->sent) {
      if (e.kind != StreamElement::Kind::kBatch) continue;
      for (size_t r = 0; r < e.batch.num_rows(); ++r, ++rows) {
        const int kg = KeyGroupForHash(StableHash(encoder.View(e.batch, r, &scratch)), 8);
        EXPECT_EQ(owner[kg], c);
      }
    }
  }
  EXPECT_EQ(rows, 970u);
}

}  // namespace
}  // namespace sluice
