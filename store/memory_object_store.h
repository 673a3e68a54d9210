#pragma once

// ObjectStore in memory, for unit tests: fast, with fault injection and
// counters of what was written.
//
// A store made with the constructor has a private namespace; Open(name) (and
// OpenObjectStore("mem://name")) attaches to a process-wide namespace shared by
// every store opened with that name, so code under test and the test itself
// can open "the same bucket". Namespaces live until the process exits.
//
// Thread-safe. The fault hook and the counters belong to this handle, not to
// the namespace.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "store/object_store.h"

namespace sluice {

class MemoryObjectStore final : public ObjectStore {
 public:
  enum class Op { kPut, kGet, kSize, kList, kDelete };  // PutFile is kPut, GetFile kGet
  // Called before each operation with its key (List: the prefix). A non-OK
  // result fails that call, without effect, with this status.
  using Fault = std::function<absl::Status(Op op, std::string_view key)>;

  // Counts of successful calls (failed and faulted calls are not counted).
  struct Stats {
    int64_t puts = 0;
    int64_t bytes_put = 0;
    int64_t gets = 0;
    int64_t lists = 0;
    int64_t deletes = 0;  // of present and absent keys alike
  };

  MemoryObjectStore();
  // Attaches to the process-wide namespace `name` (the "name" of mem://name).
  static std::unique_ptr<MemoryObjectStore> Open(std::string_view name);

  // Replaces the fault hook; an empty function removes it. The hook runs
  // without the store's locks held, so it may block (to hold a call in flight)
  // or call this store.
  void SetFault(Fault fault);
  Stats stats() const;

  absl::Status Put(std::string_view key, std::string_view data) override;
  absl::Status PutFile(std::string_view key, const std::string& local_path) override;
  absl::StatusOr<std::string> Get(std::string_view key) override;
  absl::Status GetFile(std::string_view key, const std::string& local_path) override;
  absl::StatusOr<std::optional<int64_t>> Size(std::string_view key) override;
  absl::StatusOr<std::vector<ObjectInfo>> List(std::string_view prefix) override;
  absl::Status Delete(std::string_view key) override;
  std::string uri() const override { return "mem://" + name_; }

 private:
  struct Namespace {
    absl::Mutex mu;
    std::map<std::string, std::string, std::less<>> objects ABSL_GUARDED_BY(mu);
  };

  MemoryObjectStore(std::string name, std::shared_ptr<Namespace> ns);
  // Validates the key (or prefix) and runs the fault hook.
  absl::Status Check(Op op, std::string_view key, bool is_prefix = false);
  absl::Status PutOwned(std::string_view key, std::string data);
  absl::Status NotFound(std::string_view key) const;

  const std::string name_;
  const std::shared_ptr<Namespace> ns_;
  mutable absl::Mutex mu_;
  Fault fault_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sluice
