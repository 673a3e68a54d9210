// ValidateJobGraph on graphs built by hand, as an API client would send
// them: nothing here went through the job-file parser.

#include <cmath>
#include <limits>

#include "connectors/file/file.pb.h"
#include "google/protobuf/empty.pb.h"
#include "gtest/gtest.h"
#include "job/job_file.h"
#include "worker/operators/generator/generator.pb.h"
#include "worker/operators/throttle/throttle.pb.h"
#include "worker/operators/window/window.pb.h"

namespace sluice {
namespace {

proto::JobGraph Graph() {
  proto::JobGraph g;
  g.set_name("api");
  auto* src = g.add_operators();
  src->set_id("src");
  src->set_type("generator");
  src->set_parallelism(2);
  proto::GeneratorConfig gen;
  gen.set_devices(10);
  gen.set_count(100);
  src->mutable_config()->PackFrom(gen);
  auto* slow = g.add_operators();
  slow->set_id("slow");
  slow->set_type("throttle");
  slow->set_input("src");
  slow->set_parallelism(2);
  proto::ThrottleConfig throttle;
  throttle.set_rate(100);
  slow->mutable_config()->PackFrom(throttle);
  auto* sink = g.add_operators();
  sink->set_id("sink");
  sink->set_type("blackhole_sink");
  sink->mutable_config()->PackFrom(google::protobuf::Empty());
  sink->set_input("slow");
  sink->set_parallelism(1);
  return g;
}

// Edits the settings of `op`, a message Settings, in place: unpacks them
// (or starts from Settings' defaults when they are another kind's), calls
// `edit` and packs them again.
template <typename Settings, typename Edit>
void EditSettings(proto::OperatorSpec* op, Edit edit) {
  Settings settings;
  if (op->config().Is<Settings>()) {
    EXPECT_TRUE(op->config().UnpackTo(&settings));
  }
  edit(settings);
  op->mutable_config()->PackFrom(settings);
}

// Edits the settings of Graph()'s generator (operator 0) or throttle
// (operator 1).
template <typename Edit>
void EditGenerator(proto::JobGraph& g, Edit edit) {
  EditSettings<proto::GeneratorConfig>(g.mutable_operators(0), edit);
}
template <typename Edit>
void EditThrottle(proto::JobGraph& g, Edit edit) {
  EditSettings<proto::ThrottleConfig>(g.mutable_operators(1), edit);
}

std::string ErrorOf(const proto::JobGraph& g) {
  absl::Status s = ValidateJobGraph(g);
  return s.ok() ? "" : std::string(s.message());
}

TEST(JobValidateTest, AcceptsAMinimalGraphWithDefaultsLeftAtZero) {
  EXPECT_EQ(ErrorOf(Graph()), "");
}

TEST(JobValidateTest, RejectsOutOfRangeNumbersWithTheirField) {
  constexpr int kHuge = std::numeric_limits<int32_t>::max();
  const double kNaN = std::nan("");
  const double kInf = std::numeric_limits<double>::infinity();
  struct Case {
    std::function<void(proto::JobGraph&)> edit;
    std::string want;
  } cases[] = {
      {[](auto& g) { g.set_max_parallelism(kHuge); },
       "job 'api': field 'max_parallelism': must be between 1 and 32768"},
      {[](auto& g) { g.set_max_parallelism(std::numeric_limits<int32_t>::min()); },
       "field 'max_parallelism'"},
      {[](auto& g) { g.mutable_operators(0)->set_parallelism(kHuge); },
       "operator 'src', field 'parallelism': must be between 1 and max_parallelism 128, got "
       "2147483647"},
      {[](auto& g) {
         g.set_max_parallelism(16);
         g.mutable_operators(2)->set_parallelism(17);
       },
       "operator 'sink', field 'parallelism': must be between 1 and max_parallelism 16"},
      {[](auto& g) { g.mutable_operators(2)->set_parallelism(0); },
       "operator 'sink', field 'parallelism'"},
      {[](auto& g) { g.set_parallelism(-1); }, "field 'parallelism'"},
      {[](auto& g) { g.mutable_network()->set_buffer_bytes_per_task(1024); },
       "field 'network.buffer_bytes_per_task': 1024 bytes is outside 64KiB to 1GiB"},
      {[](auto& g) { g.mutable_network()->set_buffer_bytes_per_task(int64_t{1} << 40); },
       "field 'network.buffer_bytes_per_task'"},
      {[](auto& g) { g.mutable_network()->set_flush_interval_ms(-5); },
       "field 'network.flush_interval'"},
      {[](auto& g) { EditThrottle(g, [](auto& t) { t.set_rate(0); }); },
       "operator 'slow', field 'rate'"},
      {[&](auto& g) { EditThrottle(g, [&](auto& t) { t.set_rate(kNaN); }); },
       "operator 'slow', field 'rate'"},
      {[&](auto& g) { EditThrottle(g, [&](auto& t) { t.set_rate(kInf); }); },
       "operator 'slow', field 'rate'"},
      {[](auto& g) { EditGenerator(g, [](auto& s) { s.set_devices(0); }); },
       "operator 'src', field 'devices': must be at least 1"},
      {[](auto& g) { EditGenerator(g, [](auto& s) { s.set_count(-1); }); },
       "operator 'src', field 'count'"},
      {[&](auto& g) { EditGenerator(g, [&](auto& s) { s.set_rate(kInf); }); },
       "operator 'src', field 'rate'"},
      {[](auto& g) { EditGenerator(g, [](auto& s) { s.set_rate(-1); }); },
       "operator 'src', field 'rate'"},
      {[](auto& g) {
         EditGenerator(g, [](auto& s) { s.set_jitter_ms(std::numeric_limits<int64_t>::max()); });
       },
       "operator 'src', field 'jitter'"},
      {[&](auto& g) { EditGenerator(g, [&](auto& s) { s.set_duplicate_rate(kNaN); }); },
       "operator 'src', field 'duplicate_rate'"},
      {[](auto& g) { EditGenerator(g, [](auto& s) { s.set_temperature_min(30); }); },
       "operator 'src', field 'temperature'"},
      {[](auto& g) { g.mutable_operators(0)->set_type("file_source"); },
       "operator 'src', field 'type': 'file_source' does not match the operator's settings, "
       "which are those of a generator operator"},
      // Without settings, the throttle's are the defaults: no rate.
      {[](auto& g) { g.mutable_operators(1)->clear_config(); },
       "operator 'slow', field 'type': a throttle operator needs its settings"},
      {[](auto& g) { g.mutable_operators(1)->set_type("nosuch"); },
       "operator 'slow', field 'type': unknown operator type 'nosuch'"},
      {[](auto& g) { g.clear_operators(); }, "job 'api': field 'operators'"},
      {[](auto& g) {
         for (int i = 0; i < 10'000; ++i) *g.add_operators() = g.operators(2);
       },
       "job 'api': field 'operators': the job has 10003 operators; at most 10000 are allowed"},
  };
  for (const auto& c : cases) {
    proto::JobGraph g = Graph();
    c.edit(g);
    std::string err = ErrorOf(g);
    EXPECT_NE(err.find(c.want), std::string::npos) << "want: " << c.want << "\n got: " << err;
  }
}

TEST(JobValidateTest, ChecksWindowAndFileSettings) {
  proto::JobGraph g = Graph();
  auto* w = g.mutable_operators(1);
  w->set_id("w");
  w->set_type("window");
  proto::WindowConfig window;
  window.set_size_ms(0);
  w->mutable_config()->PackFrom(window);
  g.mutable_operators(2)->set_input("w");
  EXPECT_NE(ErrorOf(g).find("operator 'w', field 'window': size must be"), std::string::npos)
      << ErrorOf(g);
  window.set_size_ms(1000);
  w->mutable_config()->PackFrom(window);
  EXPECT_NE(ErrorOf(g).find("operator 'w', field 'aggregates'"), std::string::npos);
  auto* a = window.add_aggregates();
  a->set_name("n");
  w->mutable_config()->PackFrom(window);
  EXPECT_NE(ErrorOf(g).find("field 'aggregates.n': unknown function"), std::string::npos);
  a->set_function(proto::AGGREGATE_COUNT);
  w->mutable_config()->PackFrom(window);
  EXPECT_EQ(ErrorOf(g), "");

  auto* sink = g.mutable_operators(2);
  sink->set_type("file_sink");
  sink->mutable_config()->PackFrom(proto::FileSinkConfig());
  EXPECT_NE(ErrorOf(g).find("operator 'sink', field 'path'"), std::string::npos);
}

TEST(JobValidateTest, FillJobDefaultsReplacesZeros) {
  proto::JobGraph g = Graph();
  FillJobDefaults(&g);
  EXPECT_EQ(g.max_parallelism(), 128);
  EXPECT_EQ(g.network().buffer_bytes_per_task(), 8 << 20);
  EXPECT_EQ(g.network().flush_interval_ms(), 10);
  EXPECT_EQ(ErrorOf(g), "");
}

}  // namespace
}  // namespace sluice
