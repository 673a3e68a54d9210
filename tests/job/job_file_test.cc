#include "job/job_file.h"

#include "catalog/typed_kind.h"
#include "connectors/file/file.pb.h"
#include "gtest/gtest.h"
#include "worker/operators/throttle/throttle.pb.h"
#include "worker/operators/window/window.pb.h"

namespace sluice {
namespace {

// The settings of `op`, a message Settings.
template <typename Settings>
Settings SettingsOf(const proto::OperatorSpec& op) {
  absl::StatusOr<Settings> settings = UnpackSettings<Settings>(op);
  EXPECT_TRUE(settings.ok()) << settings.status();
  return settings.ok() ? *settings : Settings();
}

constexpr char kJob[] = R"(name: sensor-averages
parallelism: 2
operators:
  - id: readings
    type: file_source
    path: data/readings.jsonl
    event_time: {field: ts, unit: ms}
    watermark: {max_out_of_orderness: 30s}
  - id: valid
    type: filter
    input: readings
    where: "temperature > -50 and temperature < 150"
  - id: per_device
    type: window
    input: valid
    key_by: [device_id]
    window: {type: tumbling, size: 1m}
    aggregates: {avg_temp: avg(temperature), readings: count(), max_temp: max(temperature)}
  - id: out
    type: file_sink
    input: per_device
    path: out/averages
)";

std::string ErrorOf(const std::string& yaml) {
  auto g = ParseJobYaml(yaml, "job.yaml", "/jobs");
  return g.ok() ? "" : std::string(g.status().message());
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  size_t pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  return s.replace(pos, from.size(), to);
}

TEST(JobFileTest, ParsesTheDocumentedExample) {
  auto g = ParseJobYaml(kJob, "job.yaml", "/jobs");
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(g->operators_size(), 4);
  const auto src = SettingsOf<proto::FileSourceConfig>(g->operators(0));
  EXPECT_EQ(src.path(), "/jobs/data/readings.jsonl");  // relative to the job file
  EXPECT_EQ(src.watermark().max_out_of_orderness_ms(), 30'000);
  EXPECT_EQ(g->operators(1).parallelism(), 2);
  const auto w = SettingsOf<proto::WindowConfig>(g->operators(2));
  EXPECT_EQ(w.size_ms(), 60'000);
  ASSERT_EQ(w.aggregates_size(), 3);
  EXPECT_EQ(w.aggregates(0).name(), "avg_temp");
  EXPECT_EQ(w.aggregates(0).function(), proto::AGGREGATE_AVG);
  EXPECT_EQ(w.aggregates(0).field(), "temperature");
  EXPECT_EQ(w.aggregates(1).function(), proto::AGGREGATE_COUNT);
  EXPECT_EQ(SettingsOf<proto::FileSinkConfig>(g->operators(3)).path(), "/jobs/out/averages");
}

TEST(JobFileTest, ErrorsNameFileLineOperatorAndField) {
  struct Case {
    std::string yaml;
    std::string want;
  } cases[] = {
      {Replace(kJob, "temperature > -50 and", "temperature > > 3 and"),
       "job.yaml:12: operator 'valid', field 'where': position 15: unexpected '>'"},
      {Replace(kJob, "size: 1m", "size: 1 fortnight"),
       "job.yaml:17: operator 'per_device', field 'window.size'"},
      {Replace(kJob, "input: valid", "input: vaild"),
       "job.yaml:15: operator 'per_device', field 'input': no operator named 'vaild'"},
      {Replace(Replace(kJob, "max(temperature)", "max(temprature)"),
               "    watermark: {max_out_of_orderness: 30s}",
               "    watermark: {max_out_of_orderness: 30s}\n    schema: {device_id: string, ts: "
               "int64, temperature: double}"),
       "job.yaml:19: operator 'per_device', field 'aggregates.max_temp': unknown field "
       "'temprature'"},
      {Replace(kJob, "max(temperature)", "median(temperature)"), "unknown aggregate 'median'"},
      {Replace(kJob, "    where:", "    wher:"),
       "job.yaml:12: operator 'valid', field 'wher': unknown field"},
      // The fields a kind takes, listed as the job file spells them.
      {Replace(kJob, "    where:", "    wher:"),
       "unknown field (expected one of: id, type, parallelism, input, where, key_by)"},
      {Replace(kJob, "key_by: [device_id]", "key_by: [device_id]\n    keyby: x"),
       "unknown field (expected one of: id, type, parallelism, input, key_by, window, "
       "aggregates)"},
      {Replace(kJob, "type: filter", "type: filtre"),
       "job.yaml:10: operator 'valid', field 'type': unknown operator type"},
      {Replace(kJob, "input: per_device", "input: out.dead_letter"),
       "field 'input': 'out' is a sink and has no output"},
      {Replace(kJob, "id: out", "id: valid"),
       "operator 'valid', field 'id': used by two operators"},
      {Replace(kJob, "parallelism: 2", "parallelism: two"),
       "job.yaml:2: field 'parallelism': expected an integer"},
      {"name: x\noperators: [\n", "job.yaml:"},
  };
  for (const auto& c : cases) {
    std::string err = ErrorOf(c.yaml);
    EXPECT_NE(err.find(c.want), std::string::npos) << "want: " << c.want << "\n got: " << err;
  }
}

// Values a hostile or careless job file holds: each is refused at submit
// time, naming the line and the field, and nothing crashes.
TEST(JobFileTest, HostileValuesAreRefusedWithTheLineAndTheField) {
  const std::string kDeadLetterSink =
      "  - id: rejected\n    type: file_sink\n    input: readings.dead_letter\n    path: ";
  auto Repeat = [](const std::string& s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
  };
  struct Case {
    std::string yaml;
    std::string want;
  } cases[] = {
      {Replace(kJob, "max_out_of_orderness: 30s", "max_out_of_orderness: nan"),
       "job.yaml:8: operator 'readings', field 'watermark.max_out_of_orderness': bad duration "
       "'nan': expected a non-negative number"},
      {Replace(kJob, "max_out_of_orderness: 30s", "max_out_of_orderness: 1e300s"),
       "field 'watermark.max_out_of_orderness': bad duration '1e300s': longer than 30,000 years"},
      {Replace(kJob, "max_out_of_orderness: 30s", "max_out_of_orderness: -inf"),
       "bad duration '-inf'"},
      {Replace(kJob, "size: 1m", "size: nan"),
       "job.yaml:17: operator 'per_device', field 'window.size': bad duration 'nan'"},
      {Replace(kJob, "size: 1m", "size: inf"), "field 'window.size': bad duration 'inf'"},
      {Replace(kJob, "size: 1m", "size: 1e300ms"),
       "field 'window.size': bad duration '1e300ms': longer than 30,000 years"},
      {kJob + kDeadLetterSink + "out/averages/\n",
       "job.yaml:26: operator 'rejected', field 'path': '/jobs/out/averages/' is also the path "
       "of file_sink 'out' (line 19); two sinks would write over each other's files"},
      {kJob + kDeadLetterSink + "./data/readings.jsonl\n",
       "is also the path of file_source 'readings' (line 4); the job would read its own output"},
      {Replace(kJob, "name: sensor-averages", "name: \"sensor-\xff\xfe\""),
       "job.yaml:1: field '(encoding)': byte 15 of the line is not valid UTF-8"},
      {Replace(kJob, "path: out/averages", "path: out/\xc3("),
       "job.yaml:22: field '(encoding)': byte 15 of the line is not valid UTF-8"},
      // Valid text whose escapes yaml-cpp decodes to bytes that are not
      // UTF-8 (\_ is U+00A0, written as the one byte A0).
      {Replace(kJob, "path: out/averages", "path: \"out/\\_x\""),
       "job.yaml:22: operator 'out', field 'path': not valid UTF-8 (a YAML escape such as \\_ "
       "or \\N makes bytes that are not text)"},
      {Replace(kJob, "name: sensor-averages", "name: \"sensor-\\N\""),
       "job.yaml:1: field 'name': not valid UTF-8"},
      // A map key is no value of its own: the settings are checked whole.
      {Replace(kJob, "    watermark: {max_out_of_orderness: 30s}",
               "    watermark: {max_out_of_orderness: 30s}\n    schema: {\"ts\\_\": int64}"),
       "job.yaml: field 'operators.file_source.schema.name': not valid UTF-8"},
      {Replace(kJob, "temperature > -50",
               Repeat("(", 6000) + "temperature" + Repeat(")", 6000) + " > -50"),
       "job.yaml:12: operator 'valid', field 'where': position 257: the expression nests deeper "
       "than 256 levels"},
      {Replace(kJob, "avg_temp: avg", std::string("a\0b: avg", 8)),
       "job.yaml:18: field '(encoding)': byte 19 of the line is a NUL byte"},
      {"name: x\noperators: " + Repeat("[", 5000) + Repeat("]", 5000) + "\n",
       "job.yaml:2: field '(syntax)': nested deeper than"},
  };
  for (const auto& c : cases) {
    std::string err = ErrorOf(c.yaml);
    EXPECT_NE(err.find(c.want), std::string::npos)
        << "want: " << c.want << "\n got: " << err.substr(0, 300);
  }
}

TEST(JobFileTest, EventTimeBoundsHaveDefaultsAndCanBeTurnedOff) {
  auto g = ParseJobYaml(kJob, "job.yaml", "/jobs");
  ASSERT_TRUE(g.ok()) << g.status();
  const proto::EventTimeConfig et =
      SettingsOf<proto::FileSourceConfig>(g->operators(0)).event_time();
  EXPECT_EQ(et.min_time_ms(), 946'684'800'000);  // 2000-01-01T00:00:00Z
  EXPECT_EQ(et.max_future_ms(), 86'400'000);
  EXPECT_FALSE(et.has_max_past_ms());
  g = ParseJobYaml(
      Replace(kJob, "unit: ms}", "unit: auto, min_time: off, max_future: off, max_past: 7d}"),
      "job.yaml", "/jobs");
  ASSERT_TRUE(g.ok()) << g.status();
  const proto::EventTimeConfig off =
      SettingsOf<proto::FileSourceConfig>(g->operators(0)).event_time();
  EXPECT_FALSE(off.has_min_time_ms());
  EXPECT_FALSE(off.has_max_future_ms());
  EXPECT_EQ(off.max_past_ms(), 7 * 86'400'000);
  EXPECT_EQ(off.unit(), "auto");
  EXPECT_NE(ErrorOf(Replace(kJob, "unit: ms}", "unit: ms, min_time: 2000}"))
                .find("job.yaml:7: operator 'readings', field 'event_time.min_time': bad "
                      "timestamp '2000'"),
            std::string::npos)
      << ErrorOf(Replace(kJob, "unit: ms}", "unit: ms, min_time: 2000}"));
}

TEST(JobFileTest, TypeChecksExpressionsAgainstGeneratorSchema) {
  std::string yaml = R"(name: g
operators:
  - id: s
    type: generator
    count: 10
  - id: f
    type: filter
    input: s
    where: "device_id > 3"
  - id: o
    type: stdout_sink
    input: f
)";
  EXPECT_NE(
      ErrorOf(yaml).find(
          "job.yaml:9: operator 'f', field 'where': position 11: cannot compare string with int64"),
      std::string::npos)
      << ErrorOf(yaml);
}

TEST(JobFileTest, RejectsCycles) {
  std::string yaml = R"(name: c
operators:
  - id: a
    type: filter
    input: b
    where: "true"
  - id: b
    type: filter
    input: a
    where: "true"
)";
  EXPECT_NE(ErrorOf(yaml).find("cycle"), std::string::npos) << ErrorOf(yaml);
}

TEST(JobFileTest, NetworkSettingsDefaultWhenAbsent) {
  auto g = ParseJobYaml(kJob, "job.yaml", "/jobs");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->network().buffer_bytes_per_task(), 8 << 20);
  EXPECT_EQ(g->network().flush_interval_ms(), 10);
}

TEST(JobFileTest, ParsesNetworkSizesAndDurations) {
  struct Case {
    std::string spelling;
    int64_t bytes;
  } cases[] = {{"8MiB", int64_t{8} << 20}, {"512KiB", 512 << 10}, {"1GiB", int64_t{1} << 30},
               {"65536", 65536},           {"70000B", 70000},     {"2 MiB", 2 << 20}};
  for (const auto& c : cases) {
    auto g = ParseJobYaml(Replace(kJob, "parallelism: 2\n",
                                  "parallelism: 2\nnetwork: {buffer_bytes_per_task: " + c.spelling +
                                      ", flush_interval: 250ms}\n"),
                          "job.yaml", "/jobs");
    ASSERT_TRUE(g.ok()) << c.spelling << ": " << g.status();
    EXPECT_EQ(g->network().buffer_bytes_per_task(), c.bytes) << c.spelling;
    EXPECT_EQ(g->network().flush_interval_ms(), 250);
  }
}

TEST(JobFileTest, RejectsBadNetworkSettingsNamingTheLine) {
  auto with = [](const std::string& network) {
    return Replace(kJob, "parallelism: 2\n", "parallelism: 2\nnetwork:\n" + network);
  };
  struct Case {
    std::string yaml;
    std::string want;
  } cases[] = {
      {with("  buffer_bytes_per_task: 1MB\n"),
       "job.yaml:4: field 'network.buffer_bytes_per_task': bad size '1MB': unknown unit 'MB' "
       "(use B, KiB, MiB or GiB)"},
      {with("  buffer_bytes_per_task: 1.5MiB\n"), "job.yaml:4: field 'network.buffer_bytes"},
      {with("  buffer_bytes_per_task: 16KiB\n"),
       "job.yaml:4: field 'network.buffer_bytes_per_task': must be at least 64KiB"},
      {with("  buffer_bytes_per_task: 99999999999GiB\n"), "is too large"},
      {with("  flush_interval: 0ms\n"),
       "job.yaml:4: field 'network.flush_interval': must be between 1ms and 60s"},
      {with("  flush_interval: soon\n"),
       "job.yaml:4: field 'network.flush_interval': bad duration"},
      {with("  buffers: 8MiB\n"), "job.yaml:4: field 'buffers': unknown field"},
      {Replace(kJob, "parallelism: 2\n", "parallelism: 2\nnetwork: 8MiB\n"),
       "job.yaml:3: field 'network': expected a map"},
  };
  for (const auto& c : cases) {
    std::string err = ErrorOf(c.yaml);
    EXPECT_NE(err.find(c.want), std::string::npos) << "want: " << c.want << "\n got: " << err;
  }
}

TEST(JobFileTest, ThrottlePassesItsInputSchemaThrough) {
  std::string yaml = R"(name: t
operators:
  - {id: s, type: generator, count: 10}
  - {id: slow, type: throttle, input: s, rate: 250}
  - {id: f, type: filter, input: slow, where: "temperature > 20"}
  - {id: o, type: blackhole_sink, input: f}
)";
  auto g = ParseJobYaml(yaml, "job.yaml", "");
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_TRUE(g->operators(1).config().Is<proto::ThrottleConfig>());
  EXPECT_EQ(SettingsOf<proto::ThrottleConfig>(g->operators(1)).rate(), 250);

  EXPECT_NE(ErrorOf(Replace(yaml, "temperature > 20", "nope > 20")).find("unknown field 'nope'"),
            std::string::npos)
      << ErrorOf(Replace(yaml, "temperature > 20", "nope > 20"));
  EXPECT_NE(ErrorOf(Replace(yaml, "rate: 250", "rate: 0"))
                .find("job.yaml:4: operator 'slow', field 'rate': must be a number of records"),
            std::string::npos)
      << ErrorOf(Replace(yaml, "rate: 250", "rate: 0"));
  EXPECT_NE(
      ErrorOf(Replace(yaml, ", rate: 250", "")).find("operator 'slow', field 'rate': missing"),
      std::string::npos);
}

constexpr char kCheckpointed[] = R"(name: j
max_parallelism: 64
checkpoint:
  interval: 10s
  timeout: 60s
  min_pause: 1s
  retain: 3
  store: s3://bucket/prefix
  s3: {endpoint: "http://127.0.0.1:9000", region: eu-west-1, path_style: true}
restart: {strategy: exponential, initial_delay: 1s, max_delay: 30s, max_attempts: 10}
state: {memory_budget: 256MiB}
operators:
  - {id: src, type: generator, count: 10}
)";

TEST(JobFileCheckpointTest, ParsesCheckpointRestartAndStateSettings) {
  auto g = ParseJobYaml(kCheckpointed, "job.yaml", "");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->max_parallelism(), 64);
  const auto& c = g->checkpoint();
  EXPECT_EQ(c.interval_ms(), 10'000);
  EXPECT_EQ(c.timeout_ms(), 60'000);
  EXPECT_EQ(c.min_pause_ms(), 1'000);
  EXPECT_EQ(c.retain(), 3);
  EXPECT_EQ(c.store(), "s3://bucket/prefix");
  EXPECT_EQ(c.s3().endpoint(), "http://127.0.0.1:9000");
  EXPECT_EQ(c.s3().region(), "eu-west-1");
  EXPECT_TRUE(c.s3().path_style());
  EXPECT_EQ(g->restart().strategy(), proto::RESTART_EXPONENTIAL);
  EXPECT_EQ(g->restart().initial_delay_ms(), 1'000);
  EXPECT_EQ(g->restart().max_delay_ms(), 30'000);
  EXPECT_EQ(g->restart().max_attempts(), 10);
  EXPECT_EQ(g->state().memory_budget_bytes(), int64_t{256} << 20);
}

TEST(JobFileCheckpointTest, BadSettingsNameTheLineAndField) {
  struct Case {
    std::string from, to, line, field;
  };
  for (const Case& c : std::vector<Case>{
           {"store: s3://bucket/prefix", "store: /var/lib/x", "job.yaml:8:", "checkpoint.store"},
           {"retain: 3", "retain: 0", "job.yaml:7:", "checkpoint.retain"},
           {"interval: 10s", "interval: often", "job.yaml:4:", "checkpoint.interval"},
           {"strategy: exponential", "strategy: sometimes", "job.yaml:10:", "restart.strategy"},
           {"memory_budget: 256MiB", "memory_budget: 1KiB", "job.yaml:11:", "state.memory_budget"},
           {"max_parallelism: 64", "max_parallelism: 0", "job.yaml:2:", "max_parallelism"},
       }) {
    std::string yaml = kCheckpointed;
    yaml.replace(yaml.find(c.from), c.from.size(), c.to);
    auto g = ParseJobYaml(yaml, "job.yaml", "");
    ASSERT_FALSE(g.ok()) << c.to;
    EXPECT_NE(g.status().message().find(c.line), std::string::npos) << g.status();
    EXPECT_NE(g.status().message().find("'" + c.field + "'"), std::string::npos) << g.status();
  }
}

TEST(JobFileCheckpointTest, DeliveryDefaultsToExactlyOnceWhenCheckpointsAreOn) {
  auto g = ParseJobYaml(kCheckpointed, "job.yaml", "");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->delivery(), proto::DELIVERY_UNSPECIFIED);
  EXPECT_TRUE(CommitsOnCheckpoint(*g));

  auto alo = ParseJobYaml(std::string(kCheckpointed) + "delivery: at_least_once\n", "job.yaml", "");
  ASSERT_TRUE(alo.ok()) << alo.status();
  EXPECT_EQ(alo->delivery(), proto::DELIVERY_AT_LEAST_ONCE);
  EXPECT_FALSE(CommitsOnCheckpoint(*alo));

  auto eo = ParseJobYaml(std::string(kCheckpointed) + "delivery: exactly_once\n", "job.yaml", "");
  ASSERT_TRUE(eo.ok()) << eo.status();
  EXPECT_TRUE(CommitsOnCheckpoint(*eo));

  auto none = ParseJobYaml("name: j\noperators:\n  - {id: src, type: generator, count: 1}\n",
                           "job.yaml", "");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(CommitsOnCheckpoint(*none));  // no checkpoints: nothing to commit on
}

TEST(JobFileCheckpointTest, BadDeliveryNamesTheLineAndField) {
  auto bad = ParseJobYaml(std::string(kCheckpointed) + "delivery: twice\n", "job.yaml", "");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("job.yaml:14:"), std::string::npos) << bad.status();
  EXPECT_NE(bad.status().message().find("'delivery'"), std::string::npos) << bad.status();
  EXPECT_NE(bad.status().message().find("exactly_once or at_least_once"), std::string::npos);

  auto no_checkpoints = ParseJobYaml(
      "name: j\ndelivery: exactly_once\noperators:\n  - {id: src, type: generator, count: 1}\n",
      "job.yaml", "");
  ASSERT_FALSE(no_checkpoints.ok());
  EXPECT_NE(no_checkpoints.status().message().find("job.yaml:2:"), std::string::npos)
      << no_checkpoints.status();
  EXPECT_NE(no_checkpoints.status().message().find("checkpoint.interval"), std::string::npos);
}

TEST(JobFileTest, LatenessIdlenessFollowAndBatchRowsParseAndAreBounded) {
  std::string yaml = Replace(kJob, "size: 1m}", "size: 1m, allowed_lateness: 10m}");
  yaml =
      Replace(yaml, "{max_out_of_orderness: 30s}", "{max_out_of_orderness: 30s, idle_timeout: 1m}");
  yaml = Replace(yaml, "    path: data/readings.jsonl\n",
                 "    path: data/readings.jsonl\n    follow: true\n    batch_rows: 7\n");
  auto g = ParseJobYaml(yaml, "job.yaml", "/jobs");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(SettingsOf<proto::WindowConfig>(g->operators(2)).allowed_lateness_ms(), 600'000);
  const auto src = SettingsOf<proto::FileSourceConfig>(g->operators(0));
  EXPECT_EQ(src.watermark().idle_timeout_ms(), 60'000);
  EXPECT_TRUE(src.follow());
  EXPECT_EQ(src.batch_rows(), 7);

  EXPECT_NE(ErrorOf(Replace(kJob, "size: 1m}", "size: 1m, allowed_lateness: -1s}"))
                .find("window.allowed_lateness"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Replace(kJob, "size: 1m}", "size: 1m, allowed_lateness: 400d}"))
                .find("allowed_lateness must be between 0 and 366 days"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Replace(kJob, "{max_out_of_orderness: 30s}", "{idle_timeout: 0s}"))
                .find("watermark.idle_timeout"),
            std::string::npos);
  const std::string rows = ErrorOf(Replace(kJob, "    path: data/readings.jsonl\n",
                                           "    path: data/readings.jsonl\n    batch_rows: 0\n"));
  EXPECT_EQ(rows, "job.yaml:7: operator 'readings', field 'batch_rows': must be from 1 to 4096");
}

TEST(JobFileTest, SideOutputsTakeAPathOrDiscardNotBoth) {
  auto g = ParseJobYaml(
      Replace(kJob, "parallelism: 2\n", "parallelism: 2\nside_outputs: {path: side}\n"), "job.yaml",
      "/jobs");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->side_outputs().path(), "/jobs/side");
  const std::string both = ErrorOf(Replace(
      kJob, "parallelism: 2\n", "parallelism: 2\nside_outputs: {path: s, discard: true}\n"));
  EXPECT_NE(both.find("give either path or discard, not both"), std::string::npos) << both;
}

// Every side output no operator reads gets a file sink of its own, beside
// the job's output; one that is read does not; discard adds none.
TEST(JobFileTest, UnreadSideOutputsGetSinksBesideTheOutput) {
  auto g = ParseJobYaml(kJob, "job.yaml", "/jobs");
  ASSERT_TRUE(g.ok()) << g.status();
  proto::JobGraph discard = *g;
  ASSERT_TRUE(AddSideOutputSinks("/jobs", &*g).ok());
  std::vector<std::pair<std::string, std::string>> sinks;
  for (const auto& op : g->operators()) {
    if (op.implicit()) {
      sinks.push_back({op.input(), SettingsOf<proto::FileSinkConfig>(op).path()});
    }
  }
  EXPECT_EQ(sinks, (std::vector<std::pair<std::string, std::string>>{
                       {"readings.dead_letter", "/jobs/out/side_outputs/readings.dead_letter"},
                       {"valid.dead_letter", "/jobs/out/side_outputs/valid.dead_letter"},
                       {"per_device.dead_letter", "/jobs/out/side_outputs/per_device.dead_letter"},
                       {"per_device.late", "/jobs/out/side_outputs/per_device.late"}}));
  EXPECT_TRUE(ValidateJobGraph(*g).ok());
  // A second call adds nothing: they are read now.
  const int ops = g->operators_size();
  ASSERT_TRUE(AddSideOutputSinks("/jobs", &*g).ok());
  EXPECT_EQ(g->operators_size(), ops);

  discard.mutable_side_outputs()->set_discard(true);
  const int before = discard.operators_size();
  ASSERT_TRUE(AddSideOutputSinks("/jobs", &discard).ok());
  EXPECT_EQ(discard.operators_size(), before);

  // An operator that has the id such a sink takes is named.
  proto::JobGraph taken = *ParseJobYaml(
      Replace(kJob, "  - id: out\n", "  - id: \"valid:dead_letter\"\n"), "job.yaml", "/jobs");
  absl::Status s = AddSideOutputSinks("/jobs", &taken);
  EXPECT_NE(s.message().find("operator id 'valid:dead_letter' is taken"), std::string::npos) << s;
}

}  // namespace
}  // namespace sluice
