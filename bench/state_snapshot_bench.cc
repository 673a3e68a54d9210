// Benchmark: the synchronous part of a keyed-state snapshot.
//
// Fills a KeyedState with N entries (device keys, 32-byte values: a window
// of count + sum), snapshots it, changes --change of the entries and
// snapshots again, then restores the second snapshot. Prints each
// snapshot's synchronous time (flush the memtables, write a checkpoint of
// hard links, copy the dirty entries aside) and when its directory was
// complete (the dirty entries sorted and written in the background), the
// checkpoints' SST bytes (the second: total and new), and the restore's
// time.
//
// Usage: state_snapshot_bench [--entries N] [--change F] [--budget-mib M] [--dir D]

#include <stdlib.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "bench/bench_clock.h"
#include "common/key_encoding.h"
#include "state/keyed_state.h"

namespace {

using sluice::bench::WallSeconds;

// SST files by inode: a file two snapshots share is one file (hard links),
// whatever its name in each.
std::map<ino_t, uintmax_t> SstFiles(const std::string& dir) {
  std::map<ino_t, uintmax_t> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    struct stat st;
    if (e.path().extension() == ".sst" && ::stat(e.path().c_str(), &st) == 0) {
      files[st.st_ino] = e.file_size();
    }
  }
  return files;
}

std::string KeyOf(int64_t i) {
  std::string out;
  const std::string name = absl::StrCat("dev-", i);
  const sluice::KeyValue v = sluice::KeyValue::String(name);
  sluice::EncodeKey({&v, 1}, &out);
  return out;
}

bool Check(const absl::Status& s, const char* what) {
  if (s.ok()) return true;
  std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t entries = 1'000'000;
  double change = 0.05;
  int64_t budget_mib = 256;
  std::string base = (std::filesystem::temp_directory_path() / "sluice-bench-XXXXXX").string();
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--entries") == 0) {
      entries = std::atoll(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--change") == 0) {
      change = std::atof(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--budget-mib") == 0) {
      budget_mib = std::atoll(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--dir") == 0) {
      base = std::string(argv[i + 1]) + "/sluice-bench-XXXXXX";
    }
  }
  if (mkdtemp(base.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  sluice::KeyedStateOptions options;
  options.dir = base + "/db";
  options.memory_budget = budget_mib << 20;
  options.value_width = 32;
  int rc = 0;
  {
    auto state = sluice::KeyedState::Open(options);
    if (!Check(state.status(), "open")) return 1;
    sluice::KeyedState& s = **state;
    double t0 = WallSeconds();
    for (int64_t i = 0; i < entries; ++i) {
      const std::string key = KeyOf(i);
      auto v = s.Merge(0, s.Key(key));
      if (!Check(v.status(), "merge")) return 1;
      std::memcpy(*v, &i, sizeof i);
    }
    const double fill = WallSeconds() - t0;
    std::printf("entries=%lld budget=%lld MiB cache=%.1f MiB (of %.1f) filled in %.2f s\n",
                static_cast<long long>(entries), static_cast<long long>(budget_mib),
                static_cast<double>(s.cache_bytes()) / (1 << 20),
                static_cast<double>(s.cache_budget()) / (1 << 20), fill);

    // Each snapshot: the synchronous part (StartSnapshot: what the task
    // waits for), then until its directory is complete (the background
    // write of the dirty entries).
    auto snapshot = [&](const std::string& dir, const char* what) -> bool {
      const double start = WallSeconds();
      auto started = s.StartSnapshot(dir);
      if (!Check(started.status(), what)) return false;
      const double sync = WallSeconds() - start;
      if (!Check((*started)->Wait(), what)) return false;
      std::printf("%s: %.3f s synchronous, complete after %.3f s\n", what, sync,
                  WallSeconds() - start);
      return true;
    };
    if (!snapshot(base + "/chk-1", "snapshot 1 (all entries dirty)")) return 1;
    uintmax_t bytes1 = 0;
    for (const auto& [inode, size] : SstFiles(base + "/chk-1")) bytes1 += size;
    std::printf("  %.1f MB of SST\n", static_cast<double>(bytes1) / 1e6);

    std::mt19937_64 rng(1);
    const int64_t changes = static_cast<int64_t>(static_cast<double>(entries) * change);
    for (int64_t n = 0; n < changes; ++n) {
      const int64_t i = static_cast<int64_t>(rng() % static_cast<uint64_t>(entries));
      const std::string key = KeyOf(i);
      auto v = s.Merge(0, s.Key(key));
      if (!Check(v.status(), "merge")) return 1;
      (*v)[8] ^= 1;
    }
    const std::string what = absl::StrCat("snapshot 2 (", change * 100, "% changed)");
    if (!snapshot(base + "/chk-2", what.c_str())) return 1;
    const auto first = SstFiles(base + "/chk-1");
    uintmax_t total = 0, added = 0;
    for (const auto& [inode, size] : SstFiles(base + "/chk-2")) {
      total += size;
      if (!first.contains(inode)) added += size;
    }
    std::printf("  %.1f MB of SST, %.1f MB new (%.1f%%)\n", static_cast<double>(total) / 1e6,
                static_cast<double>(added) / 1e6,
                total == 0 ? 0.0 : 100.0 * static_cast<double>(added) / static_cast<double>(total));
    if (!snapshot(base + "/chk-3", "snapshot 3 (nothing changed)")) return 1;
  }
  {
    sluice::KeyedStateOptions restore = options;
    restore.dir = base + "/db2";
    restore.restore_dir = base + "/chk-2";
    const double t0 = WallSeconds();
    auto state = sluice::KeyedState::Open(restore);
    if (!Check(state.status(), "restore")) rc = 1;
    if (rc == 0) {
      std::printf("restore (link files, open, read into the cache): %.3f s, cache %.1f MiB\n",
                  WallSeconds() - t0, static_cast<double>((*state)->cache_bytes()) / (1 << 20));
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(base, ec);
  return rc;
}
