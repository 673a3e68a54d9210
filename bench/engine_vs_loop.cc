// Benchmark: sluice in embedded mode against a hand-written loop, same run.
//
//   generator (devices cycling, N events) -> key_by device_id
//     -> 10 s tumbling count + sum(temperature) -> blackhole sink
//
// The engine runs with 2 subtasks per operator. The baseline is one thread
// producing the same events (the same EventModel) and aggregating them into
// per-window hash maps, firing a window once event time has passed it. Both
// must produce the same number of (device, window) results. Prints events/s,
// CPU seconds, events per CPU-second and the engine/loop ratios.
//
// Each side runs --repeat times (default 3), alternating; the run with the
// least CPU time of each side is reported (this machine is a noisy VM).
//
// Usage: engine_vs_loop [--events N] [--devices D] [--parallelism P] [--repeat R]
//                       [--checkpoint-interval-ms MS]
// With a checkpoint interval, each round also runs the engine taking
// checkpoints into a local store, and reports its throughput against the
// run without, and the checkpoints' durations.

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "bench/bench_clock.h"
#include "common/checkpoint_layout.h"
#include "google/protobuf/empty.pb.h"
#include "tools/embedded_cluster.h"
#include "tools/job_client.h"
#include "worker/operators/generator/generator_source.h"
#include "worker/operators/window/window.pb.h"

namespace {

constexpr int64_t kWindowMs = 10'000;
constexpr int64_t kStartMs = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

using sluice::bench::CpuSeconds;
using sluice::bench::WallSeconds;

sluice::proto::GeneratorConfig Generator(int64_t events, int64_t devices) {
  sluice::proto::GeneratorConfig g;
  g.set_devices(devices);
  g.set_count(events);
  g.set_start_time_ms(kStartMs);
  g.set_interval_ms(1000);
  g.set_jitter_ms(2000);
  g.set_seed(42);
  g.mutable_watermark()->set_max_out_of_orderness_ms(2000);
  return g;
}

struct Result {
  double wall, cpu;
  int64_t results;
};

Result RunLoop(int64_t events, int64_t devices) {
  const double wall0 = WallSeconds(), cpu0 = CpuSeconds();
  sluice::EventModel model(Generator(events, devices));
  struct Acc {
    int64_t count = 0;
    double sum = 0;
  };
  std::map<int64_t, absl::flat_hash_map<std::string, Acc>> windows;
  std::string device;
  int64_t results = 0, max_ts = INT64_MIN, current_start = 0;
  absl::flat_hash_map<std::string, Acc>* current = nullptr;
  double checksum = 0;
  auto fire_before = [&](int64_t before) {
    for (auto it = windows.begin(); it != windows.end() && it->first < before;) {
      for (const auto& [key, acc] : it->second)
        checksum += acc.sum / static_cast<double>(acc.count);
      results += static_cast<int64_t>(it->second.size());
      if (current == &it->second) current = nullptr;
      it = windows.erase(it);
    }
  };
  for (int64_t i = 0; i < events; ++i) {
    sluice::GeneratedEvent e = model.Make(i);
    model.FormatDevice(e.device, &device);
    int64_t start = e.ts / kWindowMs * kWindowMs;
    if (start != current_start || current == nullptr) {
      current = &windows[start];
      current_start = start;
      current->reserve(
          static_cast<size_t>(devices));  // a window sees every device once per interval
    }
    Acc& acc = (*current)[device];
    ++acc.count;
    acc.sum += e.temperature;
    if (e.ts > max_ts) {
      max_ts = e.ts;
      fire_before(max_ts - 2000 - 1 - kWindowMs + 2);
    }
  }
  fire_before(INT64_MAX);
  if (checksum == 0.12345) std::printf(" ");  // keep the aggregation observable
  return {WallSeconds() - wall0, CpuSeconds() - cpu0, results};
}

// Checkpoint durations (ms) of the engine run that took checkpoints: from
// the trigger to the metadata, and the longest synchronous part of a
// subtask's snapshot (what its task waited for).
std::vector<int64_t> g_checkpoint_ms;
std::vector<int64_t> g_sync_ms;

Result RunEngine(int64_t events, int64_t devices, int parallelism, int64_t checkpoint_ms = 0) {
  sluice::proto::JobGraph graph;
  graph.set_name("bench");
  std::string store_dir;
  if (checkpoint_ms > 0) {
    store_dir = (std::filesystem::temp_directory_path() /
                 ("sluice-bench-checkpoints-" + std::to_string(getpid())))
                    .string();
    graph.mutable_checkpoint()->set_interval_ms(checkpoint_ms);
    graph.mutable_checkpoint()->set_retain(1000);  // keep every one, to list their durations
    graph.mutable_checkpoint()->set_store("file://" + store_dir);
  }
  graph.set_parallelism(parallelism);
  graph.set_max_parallelism(128);
  graph.set_source_file("(benchmark)");
  auto* src = graph.add_operators();
  src->set_id("sensors");
  src->set_type("generator");
  src->set_parallelism(parallelism);
  src->mutable_config()->PackFrom(Generator(events, devices));
  auto* win = graph.add_operators();
  win->set_id("per_device");
  win->set_type("window");
  win->set_input("sensors");
  win->set_parallelism(parallelism);
  sluice::proto::WindowConfig window;
  window.add_key_by("device_id");
  window.set_type("tumbling");
  window.set_size_ms(kWindowMs);
  auto* count = window.add_aggregates();
  count->set_name("n");
  count->set_function(sluice::proto::AGGREGATE_COUNT);
  auto* sum = window.add_aggregates();
  sum->set_name("total");
  sum->set_function(sluice::proto::AGGREGATE_SUM);
  sum->set_field("temperature");
  win->mutable_config()->PackFrom(window);
  auto* sink = graph.add_operators();
  sink->set_id("sink");
  sink->set_type("blackhole_sink");
  sink->mutable_config()->PackFrom(google::protobuf::Empty());
  sink->set_input("per_device");
  sink->set_parallelism(parallelism);

  auto cluster = sluice::EmbeddedCluster::Start(1, parallelism);
  if (!cluster.ok()) {
    std::fprintf(stderr, "cannot start cluster: %s\n",
                 std::string(cluster.status().message()).c_str());
    std::exit(1);
  }
  const double wall0 = WallSeconds(), cpu0 = CpuSeconds();
  auto job = sluice::SubmitJob((*cluster)->coordinator(), graph);
  if (!job.ok()) {
    std::fprintf(stderr, "submit failed: %s\n", std::string(job.status().message()).c_str());
    std::exit(1);
  }
  auto status = sluice::WaitForJob((*cluster)->coordinator(), *job, nullptr);
  const double wall = WallSeconds() - wall0, cpu = CpuSeconds() - cpu0;
  if (!status.ok() || status->state() != sluice::proto::FINISHED) {
    std::fprintf(
        stderr, "job did not finish: %s\n",
        status.ok() ? status->failure().c_str() : std::string(status.status().message()).c_str());
    std::exit(1);
  }
  int64_t results = 0;
  for (const auto& st : status->subtasks()) {
    for (const auto& m : st.operators()) {
      if (m.operator_id() == "sink") results += m.records_in();
    }
  }
  if (checkpoint_ms > 0) {
    sluice::proto::ListCheckpointsRequest req;
    req.set_job_id(*job);
    sluice::proto::ListCheckpointsResponse resp;
    grpc::ClientContext ctx;
    if ((*cluster)->coordinator().ListCheckpoints(&ctx, req, &resp).ok()) {
      g_checkpoint_ms.clear();
      g_sync_ms.clear();
      for (const auto& c : resp.checkpoints()) {
        g_checkpoint_ms.push_back(c.duration_ms());
        // The listing leaves the subtasks out: read them from the store.
        std::ifstream in(
            absl::StrCat(store_dir, "/", sluice::CheckpointDir(*job, c.checkpoint_id()),
                         sluice::kMetadataFile),
            std::ios::binary);
        sluice::proto::CheckpointMetadata full;
        if (!full.ParseFromIstream(&in)) continue;
        int64_t sync = 0;
        for (const auto& s : full.subtasks()) sync = std::max(sync, s.sync_ms());
        g_sync_ms.push_back(sync);
      }
    }
    std::error_code ec;
    std::filesystem::remove_all(store_dir, ec);
  }
  return {wall, cpu, results};
}

}  // namespace

int main(int argc, char** argv) {
  int64_t events = 20'000'000, devices = 1'000'000;
  int parallelism = 2;
  int repeat = 3;
  int64_t checkpoint_ms = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--checkpoint-interval-ms") == 0)
      checkpoint_ms = std::atoll(argv[i + 1]);
    if (std::strcmp(argv[i], "--events") == 0)
      events = std::atoll(argv[i + 1]);
    else if (std::strcmp(argv[i], "--devices") == 0)
      devices = std::atoll(argv[i + 1]);
    else if (std::strcmp(argv[i], "--parallelism") == 0)
      parallelism = std::atoi(argv[i + 1]);
    else if (std::strcmp(argv[i], "--repeat") == 0)
      repeat = std::max(1, std::atoi(argv[i + 1]));
  }
  std::printf(
      "events=%lld devices=%lld window=10s parallelism=%d repeat=%d (best run of each side)\n",
      static_cast<long long>(events), static_cast<long long>(devices), parallelism, repeat);
  Result loop{1e300, 1e300, 0}, engine{1e300, 1e300, 0}, checkpointed{1e300, 1e300, 0};
  std::vector<int64_t> durations, syncs;
  for (int r = 0; r < repeat; ++r) {
    Result l = RunLoop(events, devices);
    Result e = RunEngine(events, devices, parallelism);
    if (l.cpu < loop.cpu) loop = l;
    if (e.cpu < engine.cpu) engine = e;
    if (checkpoint_ms > 0) {
      Result c = RunEngine(events, devices, parallelism, checkpoint_ms);
      if (c.wall < checkpointed.wall) checkpointed = c;
      durations.insert(durations.end(), g_checkpoint_ms.begin(), g_checkpoint_ms.end());
      syncs.insert(syncs.end(), g_sync_ms.begin(), g_sync_ms.end());
    }
  }
  auto report = [&](const char* name, const Result& r) {
    std::printf(
        "%-14s wall %7.2f s  cpu %7.2f s  %12.0f events/s  %12.0f events/cpu-s  results %lld\n",
        name, r.wall, r.cpu, static_cast<double>(events) / r.wall,
        static_cast<double>(events) / r.cpu, static_cast<long long>(r.results));
  };
  report("hand loop", loop);
  report("sluice", engine);
  std::printf("ratio sluice/loop: %.2f of events/s, %.2f of events/cpu-s\n",
              loop.wall / engine.wall, loop.cpu / engine.cpu);
  if (checkpoint_ms > 0) {
    report("sluice+ckpt", checkpointed);
    auto pct = [](std::vector<int64_t> v, double p) -> long long {
      std::sort(v.begin(), v.end());
      return v.empty() ? -1 : v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
    };
    std::printf(
        "checkpoints every %lld ms: throughput %.3f of no checkpoints (events/s); %zu "
        "checkpoints, duration p50 %lld ms, p99 %lld ms; synchronous part p50 %lld ms, "
        "p99 %lld ms\n",
        static_cast<long long>(checkpoint_ms), engine.wall / checkpointed.wall, durations.size(),
        pct(durations, 0.5), pct(durations, 0.99), pct(syncs, 0.5), pct(syncs, 0.99));
    if (checkpointed.results != loop.results) {
      std::printf("MISMATCH: with checkpoints sluice produced %lld results\n",
                  static_cast<long long>(checkpointed.results));
      return 1;
    }
  }
  if (loop.results != engine.results) {
    std::printf("MISMATCH: the loop produced %lld results, sluice %lld\n",
                static_cast<long long>(loop.results), static_cast<long long>(engine.results));
    return 1;
  }
  return 0;
}
