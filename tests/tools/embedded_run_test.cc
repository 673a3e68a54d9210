// Embedded mode: real coordinator and workers in one process.

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "job/job_file.h"
#include "nlohmann/json.hpp"
#include "tools/embedded_cluster.h"
#include "tools/job_client.h"
#include "worker/operators/generator/generator.pb.h"
#include "worker/operators/generator/generator_source.h"
#include "worker/operators/throttle/throttle.pb.h"

namespace sluice {
namespace {

class EmbeddedRunTest : public ::testing::Test {
 protected:
  virtual EmbeddedClusterOptions Options() { return {}; }

  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sluice-embedded-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto cluster = EmbeddedCluster::Start(2, 2, Options());
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(*cluster);
  }
  void TearDown() override {
    cluster_.reset();
    std::filesystem::remove_all(dir_);
  }

  proto::JobGraph Graph(const std::string& yaml) {
    auto g = ParseJobYaml(yaml, "job.yaml", dir_.string());
    EXPECT_TRUE(g.ok()) << g.status();
    return *g;
  }

  // Submits `graph` and waits for it to end.
  absl::StatusOr<proto::JobStatus> Run(const proto::JobGraph& graph) {
    auto job = SubmitJob(cluster_->coordinator(), graph);
    if (!job.ok()) return job.status();
    return WaitForJob(cluster_->coordinator(), *job, nullptr);
  }

  void GeneratorWindowJobMatchesEventModel();

  std::filesystem::path dir_;
  std::unique_ptr<EmbeddedCluster> cluster_;
};

// Every channel over gRPC on loopback TCP, as between worker processes.
class RemoteExchangeRunTest : public EmbeddedRunTest {
 protected:
  EmbeddedClusterOptions Options() override { return {.remote_exchange = true}; }
};

TEST_F(EmbeddedRunTest, GeneratorWindowJobMatchesEventModel) {
  GeneratorWindowJobMatchesEventModel();
}

TEST_F(RemoteExchangeRunTest, GeneratorWindowJobMatchesEventModel) {
  GeneratorWindowJobMatchesEventModel();
}

void EmbeddedRunTest::GeneratorWindowJobMatchesEventModel() {
  proto::JobGraph graph = Graph(R"(name: gen
parallelism: 2
operators:
  - id: sensors
    type: generator
    devices: 50
    count: 20000
    start_time: "2026-01-01T00:00:00Z"
    interval: 1s
    jitter: 3s
    duplicate_rate: 0.05
    seed: 7
  - id: w
    type: window
    input: sensors
    key_by: [device_id]
    window: {type: tumbling, size: 10s}
    aggregates: {n: count(), lo: min(temperature)}
  - id: out
    type: file_sink
    input: w
    path: out
)");
  auto status = Run(graph);
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_EQ(status->state(), proto::FINISHED) << status->failure();

  proto::GeneratorConfig generator;
  ASSERT_TRUE(graph.operators(0).config().UnpackTo(&generator));
  EventModel model(generator);
  std::map<std::pair<std::string, int64_t>, std::pair<int64_t, double>> expected;
  std::string dev;
  for (int64_t i = 0; i < 20000; ++i) {
    GeneratedEvent e = model.Make(i);
    model.FormatDevice(e.device, &dev);
    auto& agg = expected[{dev, e.ts / 10000 * 10000}];
    if (agg.first == 0 || e.temperature < agg.second) agg.second = e.temperature;
    agg.first += e.duplicate ? 2 : 1;
  }
  std::map<std::pair<std::string, int64_t>, std::pair<int64_t, double>> got;
  for (const auto& entry : std::filesystem::directory_iterator(dir_ / "out")) {
    std::string name = entry.path().filename().string();
    ASSERT_FALSE(name.starts_with(".")) << "unfinished file left: " << name;
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line);
      got[{j["device_id"].get<std::string>(), j["window_start"].get<int64_t>()}] = {
          j["n"].get<int64_t>(), j["lo"].get<double>()};
    }
  }
  EXPECT_EQ(got, expected);
}

TEST_F(RemoteExchangeRunTest, KeyByOnASinkSendsEachKeyToOneSubtask) {
  proto::JobGraph graph = Graph(R"(name: keyed-sink
parallelism: 2
operators:
  - {id: src, type: generator, devices: 40, count: 4000, start_time: "2026-01-01T00:00:00Z"}
  - {id: out, type: file_sink, input: src, key_by: device_id, path: out}
)");
  auto status = Run(graph);
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_EQ(status->state(), proto::FINISHED) << status->failure();
  // Part files are named part-<job>-<attempt>-<subtask>-<n>.jsonl.
  std::map<std::string, std::set<std::string>> subtasks_of_device;
  size_t rows = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_ / "out")) {
    const std::string name = entry.path().filename().string();
    ASSERT_TRUE(name.starts_with("part-" + status->job_id() + "-1-")) << name;
    const std::string subtask = name.substr(name.find("-1-") + 3, 1);
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) {
      ++rows;
      subtasks_of_device[nlohmann::json::parse(line)["device_id"].get<std::string>()].insert(
          subtask);
    }
  }
  EXPECT_EQ(rows, 4000u);
  ASSERT_EQ(subtasks_of_device.size(), 40u);
  std::set<std::string> used;
  for (const auto& [device, subtasks] : subtasks_of_device) {
    EXPECT_EQ(subtasks.size(), 1u) << device;
    used.insert(*subtasks.begin());
  }
  EXPECT_EQ(used.size(), 2u);  // both subtasks got keys
}

TEST_F(EmbeddedRunTest, LateEventsReachTheLateOutputNotTheWindow) {
  // One file, read in order. After the first 4096 lines (max ts 8190,
  // out-of-orderness 1 s) the watermark is 7189, so the line at 500 ms that
  // follows them is late.
  std::map<int64_t, int64_t> expected;
  {
    std::ofstream in(dir_ / "in.jsonl");
    for (int i = 0; i < 4096; ++i) {
      in << "{\"ts\": " << i * 2 << ", \"k\": \"a\", \"tag\": \"on-time\"}\n";
      ++expected[i * 2 / 1000 * 1000];
    }
    in << "{\"ts\": 500, \"k\": \"a\", \"tag\": \"late\"}\n";
    in << "{\"ts\": 8200, \"k\": \"a\", \"tag\": \"on-time\"}\n";
    ++expected[8000];
  }
  proto::JobGraph graph = Graph(R"(name: late
operators:
  - id: src
    type: file_source
    path: in.jsonl
    event_time: {field: ts, min_time: off}  # times from 1970
    watermark: {max_out_of_orderness: 1s}
  - {id: w, type: window, input: src, key_by: k, window: {size: 1s}, aggregates: {n: count()}}
  - {id: out, type: file_sink, input: w, path: out}
  - {id: late, type: file_sink, input: w.late, path: late}
)");
  auto status = Run(graph);
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_EQ(status->state(), proto::FINISHED) << status->failure();
  auto read_all = [](const std::filesystem::path& d) {
    std::vector<nlohmann::json> rows;
    for (const auto& entry : std::filesystem::directory_iterator(d)) {
      std::ifstream in(entry.path());
      std::string line;
      while (std::getline(in, line)) rows.push_back(nlohmann::json::parse(line));
    }
    return rows;
  };
  auto late = read_all(dir_ / "late");
  ASSERT_EQ(late.size(), 1u);
  // The record as it came, in the window it missed.
  EXPECT_EQ(late[0]["record"], nlohmann::json::parse(R"({"ts": 500, "k": "a", "tag": "late"})"));
  EXPECT_EQ(late[0]["window_start"], 0);
  EXPECT_EQ(late[0]["window_end"], 1000);
  std::map<int64_t, int64_t> counts;
  for (const auto& r : read_all(dir_ / "out"))
    counts[r["window_start"].get<int64_t>()] = r["n"].get<int64_t>();
  EXPECT_EQ(counts, expected);
  int64_t late_metric = 0, on_time_metric = 0, updated_metric = 0;
  for (const auto& st : status->subtasks()) {
    for (const auto& m : st.operators()) {
      if (m.operator_id() != "w") continue;
      late_metric += m.late();
      on_time_metric += m.on_time();
      updated_metric += m.updated();
    }
  }
  EXPECT_EQ(late_metric, 1);
  EXPECT_EQ(on_time_metric, 4097);
  EXPECT_EQ(updated_metric, 0);
}

TEST_F(EmbeddedRunTest, MissingInputFailsTheJobWithTheReason) {
  proto::JobGraph graph = Graph(R"(name: missing
operators:
  - id: src
    type: file_source
    path: no/such/file.jsonl
    event_time: {field: ts, min_time: off}  # times from 1970
  - {id: out, type: blackhole_sink, input: src}
)");
  auto status = Run(graph);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state(), proto::FAILED);
  EXPECT_NE(status->failure().find("no/such/file.jsonl"), std::string::npos) << status->failure();
}

TEST_F(EmbeddedRunTest, CancelStopsAnUnboundedJob) {
  proto::JobGraph graph = Graph(R"(name: endless
parallelism: 2
operators:
  - {id: src, type: generator, devices: 10, rate: 1000}
  - {id: w, type: window, input: src, key_by: device_id, window: {size: 1s}, aggregates: {n: count()}}
  - {id: out, type: blackhole_sink, input: w}
)");
  auto job = SubmitJob(cluster_->coordinator(), graph);
  ASSERT_TRUE(job.ok());
  absl::SleepFor(absl::Milliseconds(500));
  auto running = DescribeJob(cluster_->coordinator(), *job);
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(running->state(), proto::RUNNING);
  volatile bool interrupted = true;  // makes WaitForJob send the cancel
  auto status = WaitForJob(cluster_->coordinator(), *job, &interrupted);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->state(), proto::CANCELED);
}

// A throttle holds back what exceeds its rate (Operator::HasPending) and the
// task hands it on later. A file_source emits its whole input in the poll
// that ends it, and a window emits its open windows in Finish: either way
// the throttle chained after them still holds rows when the input ends,
// and they must reach the sink before end of stream goes out.
TEST_F(EmbeddedRunTest, AThrottleHandsOnWhatItHoldsAtTheEndOfInput) {
  constexpr int kLines = 3000;
  {
    std::ofstream in(dir_ / "in.jsonl");
    for (int i = 0; i < kLines; ++i) in << "{\"ts\": " << i << ", \"x\": " << i << "}\n";
  }
  proto::JobGraph graph = Graph(R"(name: throttled
operators:
  - id: src
    type: file_source
    path: in.jsonl
    event_time: {field: ts, min_time: off}  # times from 1970
  - {id: out, type: file_sink, input: src, path: out}
)");
  // Job files cannot name a throttle yet: src -> t -> out, chained.
  proto::OperatorSpec* t = graph.add_operators();
  t->set_id("t");
  t->set_type("throttle");
  t->set_input("src");
  t->set_parallelism(graph.operators(0).parallelism());
  proto::ThrottleConfig throttle;
  throttle.set_rate(20000);  // a burst of 1000 rows, the rest within 0.1 s
  t->mutable_config()->PackFrom(throttle);
  for (auto& op : *graph.mutable_operators()) {
    if (op.id() == "out") op.set_input("t");
  }
  auto status = Run(graph);
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_EQ(status->state(), proto::FINISHED) << status->failure();
  int64_t rows = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_ / "out")) {
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) ++rows;
  }
  EXPECT_EQ(rows, kLines);
}

}  // namespace
}  // namespace sluice
