#include "common/batch_codec.h"

#include "gtest/gtest.h"

namespace sluice {
namespace {

SchemaRef TestSchema() {
  return std::make_shared<const Schema>(std::vector<Field>{{"id", FieldType::kInt64},
                                                           {"name", FieldType::kString},
                                                           {"x", FieldType::kDouble},
                                                           {"ok", FieldType::kBool}});
}

Batch MakeBatch() {
  BatchBuilder b(TestSchema());
  b.SetInt(0, 1);
  b.SetString(1, "alpha");
  b.SetDouble(2, 1.5);
  b.SetBool(3, true);
  b.FinishRow(100);
  b.SetInt(0, 2);  // name, x and ok are null
  b.FinishRow(200);
  b.SetInt(0, 3);
  b.SetString(1, "");
  b.SetDouble(2, -2.25);
  b.SetBool(3, false);
  b.FinishRow(300);
  return b.Take();
}

TEST(BatchCodecTest, RoundTripKeepsValuesNullsAndEventTimes) {
  Batch in = MakeBatch();
  std::string buf;
  EncodeBatch(in, &buf);
  BatchDecoder decoder;
  auto out = decoder.Decode(buf);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->num_rows(), 3u);
  EXPECT_EQ(*out->schema(), *in.schema());
  EXPECT_EQ(out->event_time(), (std::vector<int64_t>{100, 200, 300}));
  EXPECT_EQ(out->column(0).ints, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(out->column(1).StringAt(0), "alpha");
  EXPECT_TRUE(out->column(1).IsNull(1));
  EXPECT_FALSE(out->column(1).IsNull(2));
  EXPECT_EQ(out->column(1).StringAt(2), "");
  EXPECT_DOUBLE_EQ(out->column(2).doubles[2], -2.25);
  EXPECT_TRUE(out->column(3).IsNull(1));
  EXPECT_EQ(out->column(3).ints[0], 1);
}

// Row watermarks (Batch::row_watermarks) cross the wire, survive the
// appends operators use, and are dropped whole when some rows lack them.
TEST(BatchCodecTest, RowWatermarksRoundTripAndFollowTheirRows) {
  Batch b = MakeBatch();
  ASSERT_GE(b.num_rows(), 3u);
  for (size_t r = 0; r < b.num_rows(); ++r) b.row_watermarks().push_back(100 + r);
  std::string encoded;
  EncodeBatch(b, &encoded);
  BatchDecoder decoder;
  absl::StatusOr<Batch> decoded = decoder.Decode(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->row_watermarks(), b.row_watermarks());
  // A batch without them decodes without them (the older format).
  Batch plain = MakeBatch();
  encoded.clear();
  EncodeBatch(plain, &encoded);
  decoded = decoder.Decode(encoded);
  ASSERT_TRUE(decoded.ok());
  EXPECT_FALSE(decoded->has_row_watermarks());

  Batch picked(b.schema());
  picked.AppendRows(b, {2, 0});
  picked.AppendRowFrom(b, 1);
  picked.AppendRange(b, 1, 3);
  EXPECT_EQ(picked.row_watermarks(), (std::vector<int64_t>{102, 100, 101, 101, 102}));
  picked.AppendRange(plain, 0, 1);  // rows without: the batch keeps none
  EXPECT_FALSE(picked.has_row_watermarks());
  EXPECT_EQ(picked.num_rows(), 6u);
}

TEST(BatchCodecTest, DecoderReusesEqualSchemas) {
  std::string a, b;
  EncodeBatch(MakeBatch(), &a);
  EncodeBatch(MakeBatch(), &b);
  BatchDecoder decoder;
  auto x = decoder.Decode(a);
  auto y = decoder.Decode(b);
  ASSERT_TRUE(x.ok() && y.ok());
  EXPECT_EQ(x->schema().get(), y->schema().get());
}

TEST(BatchCodecTest, RejectsTruncatedAndCorruptInput) {
  std::string buf;
  EncodeBatch(MakeBatch(), &buf);
  BatchDecoder decoder;
  for (size_t len : {size_t{0}, size_t{3}, buf.size() / 2, buf.size() - 1}) {
    auto r = decoder.Decode(std::string_view(buf).substr(0, len));
    EXPECT_FALSE(r.ok()) << "length " << len;
  }
  std::string bad = buf;
  bad[0] = 'X';
  EXPECT_FALSE(decoder.Decode(bad).ok());
  EXPECT_FALSE(decoder.Decode(buf + "junk").ok());
}

}  // namespace
}  // namespace sluice
