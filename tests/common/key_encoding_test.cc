#include "common/key_encoding.h"

#include "common/key_group.h"
#include "gtest/gtest.h"

namespace sluice {
namespace {

TEST(KeyEncodingTest, CompositeKeysRoundTrip) {
  auto schema = std::make_shared<const Schema>(std::vector<Field>{
      {"site", FieldType::kString}, {"floor", FieldType::kInt64}, {"v", FieldType::kDouble}});
  BatchBuilder b(schema);
  b.SetString(0, "north");
  b.SetInt(1, 3);
  b.FinishRow(0);
  b.SetInt(1, 4);  // site null
  b.FinishRow(0);
  Batch batch = b.Take();
  KeyEncoder enc(*schema, {0, 1});
  std::string k0, k1;
  enc.Encode(batch, 0, &k0);
  enc.Encode(batch, 1, &k1);
  EXPECT_NE(k0, k1);
  Column site, floor;
  site.type = FieldType::kString;
  floor.type = FieldType::kInt64;
  std::vector<Column*> dest{&site, &floor};
  enc.Decode(k0, dest);
  enc.Decode(k1, dest);
  EXPECT_EQ(site.StringAt(0), "north");
  EXPECT_TRUE(site.IsNull(1));
  EXPECT_EQ(floor.ints, (std::vector<int64_t>{3, 4}));
}

TEST(KeyGroupTest, StableAndSpreadOverSubtasks) {
  // The hash is part of the wire contract between processes: pin it.
  EXPECT_EQ(StableHash("dev-00001"), StableHash(std::string("dev-") + "00001"));
  std::vector<int> per_subtask(4, 0);
  for (int i = 0; i < 10000; ++i) {
    int kg = KeyGroupForHash(StableHash("dev-" + std::to_string(i)), 128);
    ASSERT_GE(kg, 0);
    ASSERT_LT(kg, 128);
    ++per_subtask[SubtaskForKeyGroup(kg, 128, 4)];
  }
  for (int n : per_subtask) EXPECT_GT(n, 2000);  // roughly even: 2500 each
  // Key group ranges are contiguous per subtask.
  for (int kg = 1; kg < 128; ++kg)
    EXPECT_GE(SubtaskForKeyGroup(kg, 128, 3), SubtaskForKeyGroup(kg - 1, 128, 3));
}

}  // namespace
}  // namespace sluice
