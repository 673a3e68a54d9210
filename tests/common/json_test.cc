#include "common/json.h"

#include "gtest/gtest.h"

namespace sluice {
namespace {

constexpr char kReplacement[] = "\xef\xbf\xbd";

TEST(JsonTest, StringsAreWrittenAsValidUtf8WhateverTheirBytes) {
  struct Case {
    std::string in;
    std::string want;  // the JSON string's contents
  } cases[] = {
      {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8c\xa7", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8c\xa7"},
      {"a\xff"
       "b",
       std::string("a") + kReplacement + "b"},
      {"\x80", kReplacement},                                                     // continuation
      {"\xc0\x80", std::string(kReplacement) + kReplacement},                     // overlong NUL
      {"\xed\xa0\x80", std::string(kReplacement) + kReplacement + kReplacement},  // surrogate
      {"\xf4\x90\x80\x80", std::string(kReplacement) + kReplacement + kReplacement + kReplacement},
      {"\xe2\x82", std::string(kReplacement) + kReplacement},  // cut short
      {"q\"\\\n\x01", "q\\\"\\\\\\n\\u0001"},
  };
  for (const auto& c : cases) {
    std::string out;
    AppendJsonString(c.in, &out);
    EXPECT_EQ(out, "\"" + c.want + "\"") << c.in;
    EXPECT_TRUE(IsValidUtf8(out)) << c.in;
    EXPECT_EQ(IsValidUtf8(c.in), c.in == c.want || c.in[0] == 'q') << c.in;
  }
  EXPECT_EQ(ToValidUtf8("ok \xc3\xa9"), "ok \xc3\xa9");
  EXPECT_EQ(ToValidUtf8("\xc3(x"), std::string(kReplacement) + "(x");
}

}  // namespace
}  // namespace sluice
