// The built-in operator kinds as the catalog describes them: the traits
// that code outside the kinds relies on (what is a source or a sink, what
// is keyed, which ports exist, what runs in its own task).

#include "job/builtin_kinds.h"

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"

namespace sluice {
namespace {

std::string Describe(const OperatorKind& kind) {
  const OperatorTraits& t = kind.traits();
  std::vector<std::string> parts;
  if (t.source) parts.push_back("source");
  if (t.sink) parts.push_back("sink");
  if (t.keyed) parts.push_back("keyed");
  if (t.stateful) parts.push_back("stateful");
  if (t.own_task) parts.push_back("own_task");
  if (t.transactional) parts.push_back("transactional");
  for (std::string_view port : t.side_ports)
    parts.push_back(absl::StrCat("port:", std::string(port)));
  return absl::StrJoin(parts, " ");
}

TEST(BuiltinKindsTest, ListsEveryKindOnceWithItsTraits) {
  const std::vector<std::pair<std::string, std::string>> want = {
      {"generator", "source"},
      {"file_source", "source port:dead_letter"},
      {"filter", "port:dead_letter"},
      {"map", "port:dead_letter"},
      {"window", "keyed stateful port:dead_letter port:late"},
      {"throttle", "own_task"},
      {"dedup", "keyed stateful"},
      {"file_sink", "sink transactional"},
      {"postgres_sink", "sink transactional"},
      {"stdout_sink", "sink"},
      {"blackhole_sink", "sink"},
  };
  const Catalog& catalog = BuiltinCatalog();
  ASSERT_EQ(catalog.kinds().size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const OperatorKind& kind = *catalog.kinds()[i];
    EXPECT_EQ(kind.name(), want[i].first);
    EXPECT_EQ(Describe(kind), want[i].second) << kind.name();
    EXPECT_EQ(catalog.Find(want[i].first), &kind);
  }
  EXPECT_EQ(catalog.Find("nosuch"), nullptr);
  EXPECT_EQ(catalog.NameList(),
            "generator, file_source, filter, map, window, throttle, dedup, file_sink, "
            "postgres_sink, stdout_sink or blackhole_sink");
  EXPECT_EQ(catalog.KindsWithPort("late"), std::vector<std::string_view>{"window"});
}

// (Each kind's runtime is made from valid settings in the tests of its
// operator and in the end-to-end tests.)
TEST(BuiltinKindsTest, OnlySourcesMakeReadersAndOnlyTheOthersMakeOperators) {
  for (const auto& kind : BuiltinCatalog().kinds()) {
    proto::OperatorSpec op;
    op.set_id("x");
    op.set_type(std::string(kind->name()));
    op.mutable_config()->PackFrom(kind->settings_prototype());
    if (kind->traits().source) {
      EXPECT_EQ(kind->CreateOperator(op).status().message(),
                absl::StrCat("operator 'x' of type '", op.type(), "' cannot run inside a task"));
    } else {
      EXPECT_EQ(kind->CreateSource(op).status().message(), "operator 'x' is not a source");
    }
  }
}

TEST(BuiltinKindsTest, SettingsOfAnotherKindAreRefused) {
  const OperatorKind* throttle = BuiltinCatalog().Find("throttle");
  const OperatorKind* window = BuiltinCatalog().Find("window");
  proto::OperatorSpec op;
  op.set_id("slow");
  op.set_type("throttle");
  op.mutable_config()->PackFrom(window->settings_prototype());
  absl::StatusOr<std::unique_ptr<Operator>> made = throttle->CreateOperator(op);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.status().message().find("are not a sluice.proto.ThrottleConfig"),
            std::string::npos)
      << made.status();
}

TEST(BuiltinKindsTest, SettingsMessagesAreDistinctExceptForKindsWithNone) {
  EXPECT_EQ(BuiltinCatalog().KindsWithSettings("google.protobuf.Empty"),
            (std::vector<std::string_view>{"stdout_sink", "blackhole_sink"}));
  std::set<std::string> seen;
  for (const auto& kind : BuiltinCatalog().kinds()) {
    const std::string name = kind->settings_prototype().GetDescriptor()->full_name();
    if (name == "google.protobuf.Empty") continue;
    EXPECT_TRUE(seen.insert(name).second) << name;
    EXPECT_EQ(BuiltinCatalog().KindsWithSettings(name),
              std::vector<std::string_view>{kind->name()});
  }
}

}  // namespace
}  // namespace sluice
