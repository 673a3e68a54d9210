#pragma once

// The behaviour every ObjectStore promises (store/object_store.h), as a
// parameterised test suite. Each implementation's test instantiates it:
//
//   INSTANTIATE_TEST_SUITE_P(Local, ObjectStoreContractTest,
//                            ::testing::Values(StoreFactory{"Local", ...}), FactoryName);

#include <functional>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/object_store.h"

namespace sluice::testing {

inline const absl::Status& ToStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& ToStatus(const absl::StatusOr<T>& s) {
  return s.status();
}
// EXPECT_THAT(store->Put(...), IsOk()) shows the status when it fails.
MATCHER(IsOk, "is OK") {
  const absl::Status& s = ToStatus(arg);
  if (!s.ok()) *result_listener << s;
  return s.ok();
}

struct StoreFactory {
  std::string name;
  // A fresh, empty store for one test. `scratch` is a directory the test owns
  // (removed afterwards); a local store may live in it.
  std::function<std::unique_ptr<ObjectStore>(const std::string& scratch)> make;
};

std::string FactoryName(const ::testing::TestParamInfo<StoreFactory>& info);
inline void PrintTo(const StoreFactory& factory, std::ostream* os) { *os << factory.name; }

// A fresh temporary directory, removed on destruction.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Deterministic pseudo-random bytes.
std::string RandomBytes(size_t size, uint32_t seed);
void WriteLocalFile(const std::string& path, const std::string& data);
std::string ReadLocalFile(const std::string& path);
// Names in `dir` (not recursive), sorted; empty when it does not exist.
std::vector<std::string> DirEntries(const std::string& dir);

class ObjectStoreContractTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override;

  ScratchDir scratch_;
  std::string local_;  // a directory for local files, next to (not in) any store
  std::unique_ptr<ObjectStore> store_;
};

}  // namespace sluice::testing
