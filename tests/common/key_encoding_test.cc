#include "common/key_encoding.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/key_group.h"
#include "gtest/gtest.h"

namespace sluice {
namespace {

std::string Bytes(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

// The key `key_fields` of the one row that `fill` sets in a batch of `fields`,
// encoded the way operators do.
std::string EncodeRow(std::vector<Field> fields, const std::vector<std::string>& key_fields,
                      const std::function<void(BatchBuilder&)>& fill) {
  auto schema = std::make_shared<const Schema>(std::move(fields));
  BatchBuilder b(schema);
  fill(b);
  b.FinishRow(0);
  Batch batch = b.Take();
  std::vector<int> columns;
  for (const auto& k : key_fields) columns.push_back(schema->IndexOf(k));
  std::string out;
  KeyEncoder(*schema, std::move(columns)).Encode(batch, 0, &out);
  return out;
}

std::string EncodeValues(const std::vector<KeyValue>& values) {
  std::string out;
  EncodeKey(values, &out);
  return out;
}

// Expected bytes below are written out from the format in key_encoding.h.

TEST(KeyEncodingTest, SingleString) {
  std::string key = EncodeRow({{"dev", FieldType::kString}}, {"dev"},
                              [](BatchBuilder& b) { b.SetString(0, "dev-7"); });
  EXPECT_EQ(key, Bytes({0x01, 0x04, 0x05, 'd', 'e', 'v', '-', '7'}));
  EXPECT_EQ(EncodeRow({{"dev", FieldType::kString}}, {"dev"},
                      [](BatchBuilder& b) { b.SetString(0, ""); }),
            Bytes({0x01, 0x04, 0x00}));
}

TEST(KeyEncodingTest, LongStringHasATwoByteLength) {
  const std::string s(200, 'x');
  std::string expected = Bytes({0x01, 0x04, 0xc8, 0x01}) + s;  // 200 = 0x48 | 1 << 7
  EXPECT_EQ(EncodeRow({{"dev", FieldType::kString}}, {"dev"},
                      [&](BatchBuilder& b) { b.SetString(0, s); }),
            expected);
}

TEST(KeyEncodingTest, Int) {
  EXPECT_EQ(EncodeRow({{"n", FieldType::kInt64}}, {"n"}, [](BatchBuilder& b) { b.SetInt(0, 7); }),
            Bytes({0x01, 0x02, 0x07, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(
      EncodeRow({{"n", FieldType::kInt64}}, {"n"}, [](BatchBuilder& b) { b.SetInt(0, 0x1234); }),
      Bytes({0x01, 0x02, 0x34, 0x12, 0, 0, 0, 0, 0, 0}));
}

TEST(KeyEncodingTest, NegativeInt) {
  EXPECT_EQ(EncodeRow({{"n", FieldType::kInt64}}, {"n"}, [](BatchBuilder& b) { b.SetInt(0, -2); }),
            Bytes({0x01, 0x02, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
  EXPECT_EQ(EncodeValues({KeyValue::Int(std::numeric_limits<int64_t>::min())}),
            Bytes({0x01, 0x02, 0, 0, 0, 0, 0, 0, 0, 0x80}));
}

TEST(KeyEncodingTest, Double) {
  // 0.5 is 0x3fe0000000000000.
  EXPECT_EQ(
      EncodeRow({{"x", FieldType::kDouble}}, {"x"}, [](BatchBuilder& b) { b.SetDouble(0, 0.5); }),
      Bytes({0x01, 0x03, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f}));
  // 2^63 is integral but not an int64: 0x43e0000000000000.
  EXPECT_EQ(EncodeValues({KeyValue::Double(0x1p63)}),
            Bytes({0x01, 0x03, 0, 0, 0, 0, 0, 0, 0xe0, 0x43}));
  EXPECT_EQ(EncodeValues({KeyValue::Double(-std::numeric_limits<double>::infinity())}),
            Bytes({0x01, 0x03, 0, 0, 0, 0, 0, 0, 0xf0, 0xff}));
}

TEST(KeyEncodingTest, IntegralDoubleIsTheInt) {
  const std::string seven = Bytes({0x01, 0x02, 0x07, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(
      EncodeRow({{"x", FieldType::kDouble}}, {"x"}, [](BatchBuilder& b) { b.SetDouble(0, 7.0); }),
      seven);
  EXPECT_EQ(EncodeValues({KeyValue::Double(-0.0)}), EncodeValues({KeyValue::Int(0)}));
  EXPECT_EQ(EncodeValues({KeyValue::Double(-0x1p63)}),
            EncodeValues({KeyValue::Int(std::numeric_limits<int64_t>::min())}));
}

TEST(KeyEncodingTest, EveryNaNIsOneKey) {
  const std::string canonical = Bytes({0x01, 0x03, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f});
  EXPECT_EQ(EncodeValues({KeyValue::Double(std::numeric_limits<double>::quiet_NaN())}), canonical);
  EXPECT_EQ(EncodeValues({KeyValue::Double(-std::numeric_limits<double>::quiet_NaN())}), canonical);
  EXPECT_EQ(EncodeValues({KeyValue::Double(std::bit_cast<double>(0x7ff0000000000001ULL))}),
            canonical);
}

TEST(KeyEncodingTest, Bool) {
  EXPECT_EQ(
      EncodeRow({{"on", FieldType::kBool}}, {"on"}, [](BatchBuilder& b) { b.SetBool(0, true); }),
      Bytes({0x01, 0x01, 0x01}));
  EXPECT_EQ(
      EncodeRow({{"on", FieldType::kBool}}, {"on"}, [](BatchBuilder& b) { b.SetBool(0, false); }),
      Bytes({0x01, 0x01, 0x00}));
}

TEST(KeyEncodingTest, NullAndMissingFieldsAreNull) {
  const std::string null = Bytes({0x01, 0x00});
  EXPECT_EQ(EncodeRow({{"dev", FieldType::kString}}, {"dev"}, [](BatchBuilder&) {}), null);
  EXPECT_EQ(EncodeRow({{"n", FieldType::kInt64}}, {"n"}, [](BatchBuilder&) {}), null);
  EXPECT_EQ(EncodeRow({{"other", FieldType::kString}}, {"dev"},
                      [](BatchBuilder& b) { b.SetString(0, "x"); }),
            null);
  EXPECT_EQ(EncodeRow({{"dev", FieldType::kNull}}, {"dev"}, [](BatchBuilder&) {}), null);
  // A null string is not the empty string.
  EXPECT_NE(null, EncodeRow({{"dev", FieldType::kString}}, {"dev"},
                            [](BatchBuilder& b) { b.SetString(0, ""); }));
}

TEST(KeyEncodingTest, CompositeOfThreeFields) {
  std::string key = EncodeRow(
      {{"floor", FieldType::kInt64}, {"site", FieldType::kString}, {"v", FieldType::kDouble}},
      {"site", "floor", "room"}, [](BatchBuilder& b) {
        b.SetInt(0, 3);
        b.SetString(1, "north");
        b.SetDouble(2, 1.5);
      });
  EXPECT_EQ(key, Bytes({0x01,                                 // version
                        0x04, 0x05, 'n', 'o', 'r', 't', 'h',  // site
                        0x02, 0x03, 0, 0, 0, 0, 0, 0, 0,      // floor
                        0x00}));                              // room: missing
}

TEST(KeyEncodingTest, SameValuesFromDifferentSchemasGiveTheSameBytes) {
  // Schema A: int floor, string zone set to null, bool flag; schema B: the
  // fields in another order, floor widened to double, no zone at all.
  std::string a = EncodeRow({{"site", FieldType::kString},
                             {"floor", FieldType::kInt64},
                             {"zone", FieldType::kString},
                             {"flag", FieldType::kBool}},
                            {"site", "floor", "zone", "flag"}, [](BatchBuilder& b) {
                              b.SetString(0, "north");
                              b.SetInt(1, 5);
                              b.SetBool(3, true);
                            });
  std::string b = EncodeRow({{"flag", FieldType::kBool},
                             {"extra", FieldType::kDouble},
                             {"floor", FieldType::kDouble},
                             {"site", FieldType::kString}},
                            {"site", "floor", "zone", "flag"}, [](BatchBuilder& b) {
                              b.SetBool(0, true);
                              b.SetDouble(1, 9.25);
                              b.SetDouble(2, 5.0);
                              b.SetString(3, "north");
                            });
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, EncodeValues({KeyValue::String("north"), KeyValue::Int(5), KeyValue::Null(),
                             KeyValue::Bool(true)}));
  // The key's field order matters.
  EXPECT_NE(a, EncodeRow({{"site", FieldType::kString}, {"floor", FieldType::kInt64}},
                         {"floor", "site", "zone", "flag"}, [](BatchBuilder& b) {
                           b.SetString(0, "north");
                           b.SetInt(1, 5);
                         }));
}

TEST(KeyEncodingTest, ValuesOfDifferentTypesAreDifferentKeys) {
  std::vector<std::string> keys = {
      EncodeValues({KeyValue::Null()}),         EncodeValues({KeyValue::Bool(false)}),
      EncodeValues({KeyValue::Bool(true)}),     EncodeValues({KeyValue::Int(0)}),
      EncodeValues({KeyValue::Int(1)}),         EncodeValues({KeyValue::Double(0.5)}),
      EncodeValues({KeyValue::String("")}),     EncodeValues({KeyValue::String("1")}),
      EncodeValues({KeyValue::String("\x01")}),
  };
  for (size_t i = 0; i < keys.size(); ++i) {
    for (size_t j = i + 1; j < keys.size(); ++j) EXPECT_NE(keys[i], keys[j]) << i << " " << j;
  }
}

TEST(KeyEncodingTest, ViewReusesTheScratchString) {
  auto schema = std::make_shared<const Schema>(std::vector<Field>{{"dev", FieldType::kString}});
  BatchBuilder b(schema);
  for (const char* dev : {"a-long-device-name", "b", "c-another"}) {
    b.SetString(0, dev);
    b.FinishRow(0);
  }
  Batch batch = b.Take();
  KeyEncoder enc(*schema, {0});
  std::string scratch;
  std::string_view first = enc.View(batch, 0, &scratch);
  const char* buffer = scratch.data();
  EXPECT_EQ(first.data(), buffer);
  for (size_t r = 1; r < batch.num_rows(); ++r) {
    std::string_view key = enc.View(batch, r, &scratch);
    EXPECT_EQ(key.data(), buffer) << "row " << r << " reallocated the scratch string";
  }
}

TEST(KeyEncodingTest, EncodeRowsMatchesEncodeRowByRow) {
  auto schema = std::make_shared<const Schema>(std::vector<Field>{{"s", FieldType::kString},
                                                                  {"n", FieldType::kInt64},
                                                                  {"x", FieldType::kDouble},
                                                                  {"b", FieldType::kBool}});
  BatchBuilder b(schema);
  std::mt19937 rng(5);
  for (int r = 0; r < 300; ++r) {
    if (rng() % 4 != 0) b.SetString(0, std::string(rng() % 200, static_cast<char>('a' + r % 26)));
    if (rng() % 4 != 0) b.SetInt(1, static_cast<int64_t>(rng()) - (1 << 30));
    if (rng() % 4 != 0) b.SetDouble(2, rng() % 2 ? 0.25 * (rng() % 100) : rng() % 100);
    if (rng() % 4 != 0) b.SetBool(3, rng() % 2);
    b.FinishRow(r);
  }
  Batch batch = b.Take();
  KeyEncoder enc(*schema, {3, 0, -1, 2, 1});
  BatchKeys keys;
  std::string one;
  for (int pass = 0; pass < 2; ++pass) {  // the second pass reuses the buffers
    enc.EncodeRows(batch, &keys);
    ASSERT_EQ(keys.size(), batch.num_rows());
    for (size_t r = 0; r < batch.num_rows(); ++r) {
      enc.Encode(batch, r, &one);
      ASSERT_EQ(keys[r], one) << "row " << r;
      ASSERT_TRUE(DecodeKey(keys[r], 5).ok());
    }
  }
  enc.EncodeRows(Batch(schema), &keys);
  EXPECT_EQ(keys.size(), 0u);
}

TEST(KeyEncodingTest, EncodeRowsFastPathsMatchTheGeneralEncoding) {
  // A single string key (lengths on both sides of the one-byte varint) and
  // a single int64 key, never null: EncodeRows writes those directly.
  auto schema = std::make_shared<const Schema>(
      std::vector<Field>{{"s", FieldType::kString}, {"n", FieldType::kInt64}});
  BatchBuilder b(schema);
  std::mt19937 rng(9);
  for (int r = 0; r < 400; ++r) {
    b.SetString(0, std::string(rng() % 300, static_cast<char>('a' + r % 26)));
    b.SetInt(1, static_cast<int64_t>(rng()) * (r % 2 ? -1 : 1));
    b.FinishRow(r);
  }
  Batch batch = b.Take();
  for (int column : {0, 1}) {
    KeyEncoder enc(*schema, {column});
    BatchKeys keys;
    std::string one;
    enc.EncodeRows(batch, &keys);
    ASSERT_EQ(keys.size(), batch.num_rows());
    for (size_t r = 0; r < batch.num_rows(); ++r) {
      enc.Encode(batch, r, &one);
      ASSERT_EQ(keys[r], one) << "column " << column << " row " << r;
    }
  }
}

// Every type, and a string long enough for a two-byte length.
std::vector<KeyValue> MixedKey() {
  static const std::string* const kLong = new std::string(130, 's');
  return {KeyValue::String(*kLong), KeyValue::Null(),      KeyValue::Bool(true),
          KeyValue::Int(-5),        KeyValue::Double(2.5), KeyValue::String("")};
}

TEST(KeyEncodingTest, DecodeRoundTripsEveryType) {
  const std::vector<std::vector<KeyValue>> keys = {
      {},
      {KeyValue::Null()},
      {KeyValue::String("dev-1")},
      {KeyValue::Int(std::numeric_limits<int64_t>::max())},
      {KeyValue::Double(std::numeric_limits<double>::infinity())},
      {KeyValue::Double(0x1p63)},
      {KeyValue::Bool(false), KeyValue::Int(0)},
      MixedKey(),
  };
  for (const auto& values : keys) {
    const std::string bytes = EncodeValues(values);
    auto decoded = DecodeKey(bytes, values.size());
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, values);
  }
  // Integral doubles and NaNs come back canonical.
  auto decoded = DecodeKey(EncodeValues({KeyValue::Double(5.0), KeyValue::Double(NAN)}), 2);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ((*decoded)[0], KeyValue::Int(5));
  EXPECT_EQ((*decoded)[1].type, FieldType::kDouble);
  EXPECT_TRUE(std::isnan((*decoded)[1].double_value));
}

TEST(KeyEncodingTest, DecodeRejectsEveryTruncation) {
  const std::vector<KeyValue> values = MixedKey();
  const std::string bytes = EncodeValues(values);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    // A copy of exactly `cut` bytes, so that ASan catches any read past it.
    std::unique_ptr<char[]> prefix(new char[cut + 1]);
    std::memcpy(prefix.get(), bytes.data(), cut);
    auto decoded = DecodeKey(std::string_view(prefix.get(), cut), values.size());
    EXPECT_FALSE(decoded.ok()) << "prefix of " << cut << " bytes decoded";
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_FALSE(DecodeKey(bytes + '\0', values.size()).ok()) << "a trailing field";
  EXPECT_FALSE(DecodeKey(bytes, values.size() + 1).ok());
  EXPECT_TRUE(DecodeKey(bytes, values.size()).ok());
}

TEST(KeyEncodingTest, DecodeRejectsUnknownVersionsAndTags) {
  for (int version : {0x00, 0x02, 0x7f, 0xff}) {
    auto decoded = DecodeKey(Bytes({version, 0x00}), 1);
    ASSERT_FALSE(decoded.ok());
    EXPECT_NE(decoded.status().message().find("version"), std::string::npos) << decoded.status();
  }
  for (int tag : {0x05, 0x10, 0x80, 0xff}) {
    auto decoded = DecodeKey(Bytes({0x01, tag, 0, 0, 0, 0, 0, 0, 0, 0}), 1);
    ASSERT_FALSE(decoded.ok());
    EXPECT_NE(decoded.status().message().find("tag"), std::string::npos) << decoded.status();
  }
}

TEST(KeyEncodingTest, DecodeRejectsNonCanonicalEncodings) {
  const std::vector<std::string> bad = {
      Bytes({0x01, 0x01, 0x02}),                             // bool byte 2
      Bytes({0x01, 0x03, 0, 0, 0, 0, 0, 0, 0x14, 0x40}),     // 5.0 as a double
      Bytes({0x01, 0x03, 0, 0, 0, 0, 0, 0, 0, 0x80}),        // -0.0 as a double
      Bytes({0x01, 0x03, 0x01, 0, 0, 0, 0, 0, 0xf8, 0x7f}),  // another NaN
      Bytes({0x01, 0x04, 0x80, 0x00}),                       // overlong length 0
      Bytes({0x01, 0x04, 0x81, 0x80, 0x00, 'a'}),            // overlong length 1
      // Length 2^64 - 1, then no bytes.
      Bytes({0x01, 0x04, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}),
      // Lengths past 64 bits.
      Bytes({0x01, 0x04, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}),
      Bytes({0x01, 0x04, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}),
  };
  for (const std::string& key : bad) {
    EXPECT_FALSE(DecodeKey(key, 1).ok()) << testing::PrintToString(key);
  }
  EXPECT_FALSE(DecodeKey("", 0).ok());
}

TEST(KeyEncodingTest, GarbageNeverDecodesToANonCanonicalKey) {
  // Whatever decodes re-encodes to the same bytes; the rest is an error. Under
  // ASan this also checks that no input makes the decoder read out of bounds.
  std::mt19937 rng(7);
  std::vector<KeyValue> values;
  std::string reencoded;
  const std::string valid = EncodeValues(MixedKey());
  int decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string key;
    if (i % 2 == 0) {
      key = valid;  // a valid key with a few bytes changed
      for (int n = 0; n < 1 + static_cast<int>(rng() % 3); ++n) key[rng() % key.size()] ^= rng();
    } else {
      key.resize(rng() % 24);
      for (char& c : key) c = static_cast<char>(rng() % 6 == 0 ? 0x01 : rng());
    }
    const size_t num_fields = i % 2 == 0 ? MixedKey().size() : rng() % 4;
    std::unique_ptr<char[]> copy(new char[key.size() + 1]);
    std::memcpy(copy.get(), key.data(), key.size());
    if (!DecodeKey(std::string_view(copy.get(), key.size()), num_fields, &values).ok()) continue;
    ++decoded;
    EncodeKey(values, &reencoded);
    ASSERT_EQ(reencoded, key);
  }
  EXPECT_GT(decoded, 0);
}

// StableHash and KeyGroupForHash(hash, 128) of inputs covering every tail
// length, several words, non-ASCII bytes and canonical keys. Key-group
// routing and persisted keyed state depend on these never changing. The values
// come from tests/common/stable_hash_golden.py, a separate implementation of
// the algorithm in common/key_group.h, not from running this code.
struct Golden {
  std::string_view input;
  uint64_t hash;
  int key_group;
};

using std::string_view_literals::operator""sv;
constexpr Golden kGolden[] = {
    {""sv, 0x3bd44f6b38f227fdULL, 22},                                          // empty
    {"a"sv, 0x0e8216967686ca0cULL, 26},                                         // 1 byte
    {"ab"sv, 0x50f18b679a92cbf4ULL, 19},                                        // 2 bytes
    {"abc"sv, 0xfc683008f7e8503bULL, 51},                                       // 3 bytes
    {"abcd"sv, 0xffaa1430b6eb19b9ULL, 9},                                       // 4 bytes
    {"abcde"sv, 0xf05602d7895826d9ULL, 14},                                     // 5 bytes
    {"abcdef"sv, 0x341bf7e1325c0d1dULL, 124},                                   // 6 bytes
    {"abcdefg"sv, 0x4ebf5a4d02307e24ULL, 105},                                  // 7 bytes
    {"abcdefgh"sv, 0xbf48ea7504f65d90ULL, 101},                                 // one word
    {"dev-00001"sv, 0x8b90102c80f6011bULL, 55},                                 // word + 1
    {"abcdefghijklmnop"sv, 0x54d89d6fa00fe8acULL, 67},                          // two words
    {"abcdefghijklmnopq"sv, 0x697cae72433887d0ULL, 34},                         // two words + 1
    {"\303\251t\303\251\000\377\200\177"sv, 0x54b3ec8cf366fbd3ULL, 95},         // non-ASCII
    {"\001\004\011dev-00001"sv, 0xe5cd90f249135a39ULL, 75},                     // key "dev-00001"
    {"\001\002*\000\000\000\000\000\000\000"sv, 0x3227ffb078caf49cULL, 44},     // key 42
    {"\001\002*\000\000\000\000\000\000\000"sv, 0x3227ffb078caf49cULL, 44},     // key 42.0
    {"\001\002\377\377\377\377\377\377\377\377"sv, 0x0093157f2ce60a40ULL, 63},  // key -1
    {"\001\003\000\000\000\000\000\000\004@"sv, 0xce748616be4e5bdeULL, 72},     // key 2.5
    {"\001\000"sv, 0x16d88aa0cdbdde61ULL, 65},                                  // key null
    {"\001\004\005north\002\003\000\000\000\000\000\000\000\000"sv, 0xa96f97c71fb96397ULL,
     80},  // key ("north", 3, null)
};

TEST(KeyGroupTest, StableHashMatchesGoldenValues) {
  for (const Golden& g : kGolden) {
    const std::string input(g.input);
    EXPECT_EQ(StableHash(g.input), g.hash) << testing::PrintToString(input);
    EXPECT_EQ(KeyGroupForHash(StableHash(g.input), 128), g.key_group)
        << testing::PrintToString(input);
  }
}

TEST(KeyGroupTest, GoldenKeysAreTheCanonicalEncodings) {
  // The script encodes these keys by the format in key_encoding.h on its own.
  const std::vector<std::vector<KeyValue>> keys = {
      {KeyValue::String("dev-00001")},
      {KeyValue::Int(42)},
      {KeyValue::Double(42.0)},
      {KeyValue::Int(-1)},
      {KeyValue::Double(2.5)},
      {KeyValue::Null()},
      {KeyValue::String("north"), KeyValue::Int(3), KeyValue::Null()},
  };
  for (const auto& key : keys) {
    const std::string bytes = EncodeValues(key);
    bool found = false;
    for (const Golden& g : kGolden) found = found || g.input == bytes;
    EXPECT_TRUE(found) << testing::PrintToString(bytes);
  }
}

TEST(KeyGroupTest, StableAndSpreadOverSubtasks) {
  std::vector<int> per_subtask(4, 0);
  for (int i = 0; i < 10000; ++i) {
    int kg = KeyGroupForHash(StableHash(absl::StrCat("dev-", i)), 128);
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
