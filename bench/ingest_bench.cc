// Benchmark: how fast file_source ingests JSON lines.
//
// Writes N sensor readings such as
//   {"device_id": "dev-00042", "ts": 1767225600123, "temperature": 21.37, "humidity": 55.2, "seq":
//   123456}
// (about 105 bytes a line) to a temporary file, then reads the file to the
// end with a FileSourceReader into an Output that only counts, and with a
// bare simdjson loop (read chunks, split lines, parse each line on demand,
// touch every field), which is the ceiling for any JSON-lines source.
// Each side runs --repeat times, alternating; the run with the least CPU
// time of each side is reported (this machine is a noisy VM). Prints
// lines/s, MB/s and lines per CPU-second.
//
// Usage: ingest_bench [--lines N] [--repeat R] [--dir D]

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_format.h"
#include "bench/bench_clock.h"
#include "connectors/file/file_source.h"
#include "simdjson.h"

namespace {

using sluice::bench::CpuSeconds;
using sluice::bench::WallSeconds;

// Writes `lines` readings; returns false on an I/O error.
bool WriteReadings(const std::string& path, int64_t lines) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  uint64_t x = 42;
  std::string line;
  for (int64_t i = 0; i < lines; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    line.clear();
    absl::StrAppendFormat(
        &line,
        "{\"device_id\": \"dev-%05d\", \"ts\": %d, \"temperature\": %.2f, \"humidity\": %.1f, "
        "\"seq\": %d}\n",
        (x >> 33) % 100000, 1'767'225'600'000 + i * 10 + static_cast<int64_t>((x >> 20) % 1000),
        15 + static_cast<double>((x >> 40) % 1500) / 100.0,
        30 + static_cast<double>((x >> 12) % 400) / 10.0, i);
    if (std::fwrite(line.data(), 1, line.size(), f) != line.size()) {
      std::fclose(f);
      return false;
    }
  }
  return std::fclose(f) == 0;
}

class CountingOutput : public sluice::Output {
 public:
  absl::Status Emit(sluice::Batch batch) override {
    rows += static_cast<int64_t>(batch.num_rows());
    ++batches;
    return absl::OkStatus();
  }
  absl::Status EmitSide(std::string_view, sluice::Batch batch) override {
    dead += static_cast<int64_t>(batch.num_rows());
    return absl::OkStatus();
  }
  absl::Status EmitWatermark(int64_t) override { return absl::OkStatus(); }
  int64_t rows = 0, batches = 0, dead = 0;
};

struct Run {
  double wall = 0, cpu = 1e300;
};

// Reads the file with file_source; returns the rows read, or -1.
int64_t RunReader(const std::string& path) {
  sluice::proto::OperatorSpec spec;
  spec.set_id("readings");
  sluice::proto::FileSourceConfig config;
  config.set_path(path);
  config.mutable_event_time()->set_field("ts");
  config.mutable_event_time()->set_unit("ms");
  config.mutable_watermark()->set_max_out_of_orderness_ms(2000);
  spec.mutable_config()->PackFrom(config);
  sluice::OperatorContext ctx;
  ctx.spec = &spec;
  sluice::FileSourceReader reader(config);
  CountingOutput out;
  absl::Status status = reader.Open(ctx);
  while (status.ok()) {
    absl::StatusOr<sluice::SourceReader::Poll> poll = reader.PollNext(out);
    if (!poll.ok()) {
      status = poll.status();
    } else if (*poll == sluice::SourceReader::Poll::kEnd) {
      break;
    }
  }
  if (!status.ok() || out.dead != 0) {
    std::fprintf(stderr, "file_source failed: %s, %ld dead letters\n", status.ToString().c_str(),
                 static_cast<long>(out.dead));
    return -1;
  }
  return out.rows;
}

// The ceiling: chunks, lines, one on-demand parse per line, every field read.
int64_t RunBare(const std::string& path) {
  constexpr size_t kChunk = 1 << 20;
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return -1;
  auto buf = std::make_unique<char[]>(kChunk + simdjson::SIMDJSON_PADDING);
  simdjson::ondemand::parser parser;
  size_t held = 0;
  int64_t rows = 0;
  double checksum = 0;
  while (true) {
    const ssize_t n = ::read(fd, buf.get() + held, kChunk - held);
    if (n < 0) break;
    const size_t end = held + static_cast<size_t>(n);
    size_t begin = 0;
    while (begin < end) {
      const char* nl = static_cast<const char*>(std::memchr(buf.get() + begin, '\n', end - begin));
      if (nl == nullptr && n > 0) break;
      const size_t stop = nl != nullptr ? static_cast<size_t>(nl - buf.get()) : end;
      simdjson::ondemand::document doc;
      if (parser
              .iterate(buf.get() + begin, stop - begin, kChunk + simdjson::SIMDJSON_PADDING - begin)
              .get(doc) == simdjson::SUCCESS) {
        std::string_view device;
        int64_t ts = 0, seq = 0;
        double temperature = 0, humidity = 0;
        if (doc["device_id"].get_string().get(device) == simdjson::SUCCESS &&
            doc["ts"].get_int64().get(ts) == simdjson::SUCCESS &&
            doc["temperature"].get_double().get(temperature) == simdjson::SUCCESS &&
            doc["humidity"].get_double().get(humidity) == simdjson::SUCCESS &&
            doc["seq"].get_int64().get(seq) == simdjson::SUCCESS) {
          checksum += static_cast<double>(device.size() + ts + seq) + temperature + humidity;
          ++rows;
        }
      }
      begin = stop + 1;
    }
    if (n == 0) break;
    held = begin < end ? end - begin : 0;
    std::memmove(buf.get(), buf.get() + (end - held), held);
  }
  ::close(fd);
  if (checksum == 0) return -1;
  return rows;
}

void Print(const char* name, const Run& run, int64_t lines, double bytes) {
  const double n = static_cast<double>(lines);
  std::printf("%-20s %6.2f s wall  %6.2f s CPU  %6.2fM lines/s  %7.1f MB/s  %6.2fM lines/CPU-s\n",
              name, run.wall, run.cpu, n / run.wall / 1e6, bytes / run.wall / 1e6,
              n / run.cpu / 1e6);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t lines = 2'000'000;
  int repeat = 3;
  std::string dir = std::filesystem::temp_directory_path().string();
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--lines") == 0) {
      lines = std::atoll(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--repeat") == 0) {
      repeat = std::atoi(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--dir") == 0) {
      dir = argv[i + 1];
    } else {
      std::fprintf(stderr, "usage: ingest_bench [--lines N] [--repeat R] [--dir D]\n");
      return 2;
    }
  }
  const std::string path = dir + "/sluice-ingest-bench-" + std::to_string(::getpid()) + ".jsonl";
  if (!WriteReadings(path, lines)) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    return 1;
  }
  const double bytes = static_cast<double>(std::filesystem::file_size(path));

  Run reader, bare;
  int status = 0;
  for (int r = 0; r < repeat && status == 0; ++r) {
    for (int side = 0; side < 2; ++side) {
      const double wall0 = WallSeconds(), cpu0 = CpuSeconds();
      const int64_t rows = side == 0 ? RunReader(path) : RunBare(path);
      const double wall = WallSeconds() - wall0, cpu = CpuSeconds() - cpu0;
      if (rows != lines) {
        std::fprintf(stderr, "%s read %ld of %ld lines\n", side == 0 ? "file_source" : "bare loop",
                     static_cast<long>(rows), static_cast<long>(lines));
        status = 1;
        break;
      }
      Run& best = side == 0 ? reader : bare;
      if (cpu < best.cpu) best = {wall, cpu};
    }
  }
  std::filesystem::remove(path);
  if (status != 0) return status;

  std::printf("%ld lines, %.1f MB (%.1f bytes/line), best of %d runs\n", static_cast<long>(lines),
              bytes / 1e6, bytes / static_cast<double>(lines), repeat);
  Print("file_source reader", reader, lines, bytes);
  Print("bare simdjson loop", bare, lines, bytes);
  std::printf("reader / bare: %.2f per CPU-second\n", bare.cpu / reader.cpu);
  return 0;
}
