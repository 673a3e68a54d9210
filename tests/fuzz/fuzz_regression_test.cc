// Every file under fuzz/regressions/<target>/ (inputs that once crashed a
// fuzzer) and fuzz/corpus/<target>/ (the seeds) goes through the target's
// entry function, as the fuzzer runs it. A crash kills the test; there is
// nothing else to expect. Files whose names start with '.' (.gitkeep) are
// skipped.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/targets.h"
#include "gtest/gtest.h"

namespace sluice::fuzz {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> InputsIn(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file() || entry.path().filename().string().starts_with(".")) continue;
    out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs every input in fuzz/<kind>/<target>/; returns how many ran.
size_t Replay(const FuzzTarget& target, const std::string& kind) {
  const fs::path dir = fs::path(SLUICE_FUZZ_DIR) / kind / target.name;
  EXPECT_TRUE(fs::is_directory(dir)) << dir << " is missing";
  if (!fs::is_directory(dir)) return 0;
  size_t ran = 0;
  for (const fs::path& input : InputsIn(dir)) {
    SCOPED_TRACE(input.string());
    const std::string bytes = ReadFile(input);
    EXPECT_EQ(target.fn(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), 0);
    ++ran;
  }
  return ran;
}

class FuzzRegressionTest : public ::testing::TestWithParam<FuzzTarget> {};

TEST_P(FuzzRegressionTest, SavedCrashInputsNoLongerCrash) { Replay(GetParam(), "regressions"); }

TEST_P(FuzzRegressionTest, SeedCorpusRuns) {
  EXPECT_GT(Replay(GetParam(), "corpus"), 0u) << "no seeds for " << GetParam().name;
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzRegressionTest,
                         ::testing::ValuesIn(AllFuzzTargets().begin(), AllFuzzTargets().end()),
                         [](const ::testing::TestParamInfo<FuzzTarget>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace sluice::fuzz
