// A savepoint written before the operator catalog
// (tests/e2e/fixtures/pre_catalog): its graph's settings, in OperatorSpec's
// old oneof fields, and its sources' positions, in the old shared
// SourcePosition message, read as this build's.

#include <fstream>
#include <sstream>

#include "catalog/typed_kind.h"
#include "connectors/file/file.pb.h"
#include "gtest/gtest.h"
#include "job/builtin_kinds.h"
#include "job/job_file.h"
#include "worker/operators/generator/generator.pb.h"
#include "worker/operators/throttle/throttle.pb.h"
#include "worker/operators/window/window.pb.h"

namespace sluice {
namespace {

proto::CheckpointMetadata OldSavepoint() {
  std::ifstream in(SLUICE_PRE_CATALOG_FIXTURE "/store/savepoints/pre-catalog/_metadata",
                   std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  proto::CheckpointMetadata m;
  EXPECT_TRUE(m.ParseFromString(bytes.str()));
  return m;
}

const proto::OperatorSpec& Op(const proto::JobGraph& g, const std::string& id) {
  for (const auto& op : g.operators()) {
    if (op.id() == id) return op;
  }
  ADD_FAILURE() << "no operator " << id;
  return g.operators(0);
}

TEST(LegacySettingsTest, SettingsOfTheOldOneofBecomeTheKindsOwn) {
  proto::JobGraph g = OldSavepoint().graph();
  ASSERT_GT(g.operators_size(), 0);
  for (const auto& op : g.operators()) EXPECT_FALSE(op.has_config()) << op.id();

  UpgradeLegacySettings(&g);
  EXPECT_TRUE(ValidateJobGraph(g).ok()) << ValidateJobGraph(g);
  // The values job.yaml of the fixture spells.
  auto throttle = UnpackSettings<proto::ThrottleConfig>(Op(g, "slow_readings"));
  ASSERT_TRUE(throttle.ok()) << throttle.status();
  EXPECT_EQ(throttle->rate(), 300);
  auto window = UnpackSettings<proto::WindowConfig>(Op(g, "per_device"));
  ASSERT_TRUE(window.ok()) << window.status();
  EXPECT_EQ(window->size_ms(), 60'000);
  ASSERT_EQ(window->key_by_size(), 1);
  EXPECT_EQ(window->key_by(0), "device");
  ASSERT_EQ(window->aggregates_size(), 2);
  auto generator = UnpackSettings<proto::GeneratorConfig>(Op(g, "events"));
  ASSERT_TRUE(generator.ok()) << generator.status();
  EXPECT_EQ(generator->count(), 3000);
  EXPECT_EQ(generator->devices(), 7);
  EXPECT_EQ(generator->seed(), 11u);
  auto source = UnpackSettings<proto::FileSourceConfig>(Op(g, "readings"));
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_TRUE(source->path().ends_with("/readings.jsonl")) << source->path();
  EXPECT_EQ(source->event_time().field(), "ts");
  EXPECT_EQ(source->batch_rows(), 50);
  auto sink = UnpackSettings<proto::FileSinkConfig>(Op(g, "windows"));
  ASSERT_TRUE(sink.ok()) << sink.status();
  EXPECT_TRUE(sink->path().ends_with("/out/windows")) << sink->path();

  // A graph of this build is left as it is.
  const std::string upgraded = g.SerializeAsString();
  UpgradeLegacySettings(&g);
  EXPECT_EQ(g.SerializeAsString(), upgraded);
}

// OperatorSpec as the build before the catalog wrote it: the settings in
// field `number` of its oneof (numbers from that build's sluice.proto).
proto::OperatorSpec OldSpec(const std::string& type, int number, const std::string& bytes) {
  proto::OperatorSpec op;
  op.set_id("op");
  op.set_type(type);
  op.GetReflection()->MutableUnknownFields(&op)->AddLengthDelimited(number, bytes);
  return op;
}

TEST(LegacySettingsTest, EveryOldOneofFieldBecomesItsKindsSettings) {
  const std::pair<const char*, int> old_fields[] = {
      {"generator", 10},   {"file_source", 11},    {"filter", 12},
      {"map", 13},         {"window", 14},         {"file_sink", 15},
      {"stdout_sink", 16}, {"blackhole_sink", 17}, {"throttle", 18}};
  for (const auto& [type, number] : old_fields) {
    proto::JobGraph g;
    *g.add_operators() = OldSpec(type, number, "");
    UpgradeLegacySettings(&g);
    const proto::OperatorSpec& op = g.operators(0);
    ASSERT_TRUE(op.has_config()) << type;
    EXPECT_EQ(op.config().type_url(),
              "type.googleapis.com/" +
                  BuiltinCatalog().Find(type)->settings_prototype().GetDescriptor()->full_name())
        << type;
    EXPECT_EQ(op.GetReflection()->GetUnknownFields(op).field_count(), 0) << type;
  }
}

TEST(LegacySettingsTest, OldSettingsOfAnotherKindAreRefusedAsBefore) {
  proto::GeneratorConfig generator;
  generator.set_devices(5);
  proto::JobGraph g;
  g.set_name("old");
  *g.add_operators() = OldSpec("filter", 10, generator.SerializeAsString());
  g.mutable_operators(0)->set_parallelism(1);
  UpgradeLegacySettings(&g);
  const absl::Status s = ValidateJobGraph(g);
  EXPECT_NE(s.message().find("operator 'op', field 'type': 'filter' does not match the "
                             "operator's settings, which are those of a generator operator"),
            std::string::npos)
      << s;
}

TEST(LegacySettingsTest, PositionsOfTheSharedMessageReadAsTheSourcesOwn) {
  const proto::CheckpointMetadata m = OldSavepoint();
  int files = 0, generators = 0;
  for (const auto& s : m.subtasks()) {
    if (!s.has_source_position()) continue;
    proto::FilePosition file;
    proto::GeneratorPosition generator;
    ASSERT_TRUE(file.ParseFromString(s.source_position()));
    ASSERT_TRUE(generator.ParseFromString(s.source_position()));
    if (!file.file().empty()) {
      // Midway through the file: past the first line, before the end (about
      // 50 bytes a line, 3000 lines).
      ++files;
      EXPECT_TRUE(file.file().ends_with("/readings.jsonl")) << file.file();
      EXPECT_GT(file.offset(), 0);
      EXPECT_LT(file.offset(), 151232);
      EXPECT_GT(file.line(), 0);
      EXPECT_TRUE(file.has_max_event_time());
    } else {
      ++generators;
      EXPECT_GT(generator.event_index(), 0);
      EXPECT_LT(generator.event_index(), 3000);
      EXPECT_TRUE(generator.has_max_event_time());
    }
  }
  EXPECT_EQ(files, 1);
  EXPECT_EQ(generators, 1);
}

}  // namespace
}  // namespace sluice
