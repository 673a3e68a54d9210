#include "store/memory_object_store.h"

#include <atomic>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "store/internal/file_util.h"
#include "store/internal/keys.h"

namespace sluice {

using store_internal::Sv;

MemoryObjectStore::MemoryObjectStore()
    : MemoryObjectStore(
          [] {
            static std::atomic<int64_t> next{0};
            return absl::StrCat("private-", next.fetch_add(1));
          }(),
          std::make_shared<Namespace>()) {}

MemoryObjectStore::MemoryObjectStore(std::string name, std::shared_ptr<Namespace> ns)
    : name_(std::move(name)), ns_(std::move(ns)) {}

std::unique_ptr<MemoryObjectStore> MemoryObjectStore::Open(std::string_view name) {
  static absl::Mutex registry_mu(absl::kConstInit);
  static auto* registry = new absl::flat_hash_map<std::string, std::shared_ptr<Namespace>>();
  std::shared_ptr<Namespace> ns;
  {
    absl::MutexLock lock(&registry_mu);
    std::shared_ptr<Namespace>& slot = (*registry)[Sv(name)];
    if (slot == nullptr) slot = std::make_shared<Namespace>();
    ns = slot;
  }
  return std::unique_ptr<MemoryObjectStore>(new MemoryObjectStore(std::string(name), ns));
}

void MemoryObjectStore::SetFault(Fault fault) {
  absl::MutexLock lock(&mu_);
  fault_ = std::move(fault);
}

MemoryObjectStore::Stats MemoryObjectStore::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

absl::Status MemoryObjectStore::Check(Op op, std::string_view key, bool is_prefix) {
  RETURN_IF_ERROR(is_prefix ? store_internal::ValidatePrefix(key)
                            : store_internal::ValidateKey(key));
  Fault fault;
  {
    absl::MutexLock lock(&mu_);
    fault = fault_;
  }
  return fault ? fault(op, key) : absl::OkStatus();
}

absl::Status MemoryObjectStore::NotFound(std::string_view key) const {
  return absl::NotFoundError(absl::StrCat("object '", Sv(key), "' not found in ", uri()));
}

absl::Status MemoryObjectStore::PutOwned(std::string_view key, std::string data) {
  const int64_t size = static_cast<int64_t>(data.size());
  {
    absl::MutexLock lock(&ns_->mu);
    ns_->objects.insert_or_assign(std::string(key), std::move(data));
  }
  absl::MutexLock lock(&mu_);
  ++stats_.puts;
  stats_.bytes_put += size;
  return absl::OkStatus();
}

absl::Status MemoryObjectStore::Put(std::string_view key, std::string_view data) {
  RETURN_IF_ERROR(Check(Op::kPut, key));
  return PutOwned(key, std::string(data));
}

absl::Status MemoryObjectStore::PutFile(std::string_view key, const std::string& local_path) {
  RETURN_IF_ERROR(Check(Op::kPut, key));
  ASSIGN_OR_RETURN(std::string data, store_internal::ReadFile(local_path));
  return PutOwned(key, std::move(data));
}

absl::StatusOr<std::string> MemoryObjectStore::Get(std::string_view key) {
  RETURN_IF_ERROR(Check(Op::kGet, key));
  std::string data;
  {
    absl::MutexLock lock(&ns_->mu);
    auto it = ns_->objects.find(key);
    if (it == ns_->objects.end()) return NotFound(key);
    data = it->second;
  }
  absl::MutexLock lock(&mu_);
  ++stats_.gets;
  return data;
}

absl::Status MemoryObjectStore::GetFile(std::string_view key, const std::string& local_path) {
  RETURN_IF_ERROR(Check(Op::kGet, key));
  std::string data;
  {
    absl::MutexLock lock(&ns_->mu);
    auto it = ns_->objects.find(key);
    if (it == ns_->objects.end()) return NotFound(key);
    data = it->second;
  }
  RETURN_IF_ERROR(store_internal::WriteFileAtomically(
      local_path,
      [&](int fd) { return store_internal::WriteAll(fd, data.data(), data.size(), local_path); },
      store_internal::Durability::kNotSynced));
  absl::MutexLock lock(&mu_);
  ++stats_.gets;
  return absl::OkStatus();
}

absl::StatusOr<std::optional<int64_t>> MemoryObjectStore::Size(std::string_view key) {
  RETURN_IF_ERROR(Check(Op::kSize, key));
  absl::MutexLock lock(&ns_->mu);
  auto it = ns_->objects.find(key);
  if (it == ns_->objects.end()) return std::nullopt;
  return static_cast<int64_t>(it->second.size());
}

absl::StatusOr<std::vector<ObjectInfo>> MemoryObjectStore::List(std::string_view prefix) {
  RETURN_IF_ERROR(Check(Op::kList, prefix, /*is_prefix=*/true));
  std::vector<ObjectInfo> out;
  {
    absl::MutexLock lock(&ns_->mu);
    for (auto it = ns_->objects.lower_bound(prefix);
         it != ns_->objects.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      out.push_back(ObjectInfo{it->first, static_cast<int64_t>(it->second.size())});
    }
  }
  absl::MutexLock lock(&mu_);
  ++stats_.lists;
  return out;
}

absl::Status MemoryObjectStore::Delete(std::string_view key) {
  RETURN_IF_ERROR(Check(Op::kDelete, key));
  {
    absl::MutexLock lock(&ns_->mu);
    if (auto it = ns_->objects.find(key); it != ns_->objects.end()) ns_->objects.erase(it);
  }
  absl::MutexLock lock(&mu_);
  ++stats_.deletes;
  return absl::OkStatus();
}

}  // namespace sluice
