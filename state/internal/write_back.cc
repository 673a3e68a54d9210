#include "state/internal/write_back.h"

#include <algorithm>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "state/internal/state_db.h"

namespace sluice {

std::shared_ptr<SnapshotCompletion> SnapshotCompletion::Done() {
  auto done = std::make_shared<SnapshotCompletion>();
  done->Finish(absl::OkStatus());
  return done;
}

absl::Status SnapshotCompletion::Wait() const {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&done_));
  return status_;
}

void SnapshotCompletion::Finish(absl::Status status) {
  absl::MutexLock lock(&mu_);
  status_ = std::move(status);
  done_ = true;
}

namespace state_internal {

int64_t FrozenRun::EstimateBytes(size_t segments, size_t entries, size_t key_bytes,
                                 size_t value_width) {
  return static_cast<int64_t>(key_bytes + entries * (value_width + sizeof(Entry)) +
                              segments * sizeof(size_t));
}

void FrozenRun::Reserve(size_t segments, size_t entries, size_t key_bytes) {
  bytes_.reserve(key_bytes + entries * width_);
  entries_.reserve(entries);
  segments_.reserve(segments);
}

void FrozenRun::Add(std::string_view store_key, const char* value) {
  entries_.push_back({bytes_.size(), static_cast<uint32_t>(store_key.size()), value == nullptr});
  bytes_.append(store_key.data(), store_key.size());
  if (value != nullptr) bytes_.append(value, width_);
}

void FrozenRun::Sort() {
  for (size_t s = 0; s < segments_.size(); ++s) {
    const size_t end = s + 1 < segments_.size() ? segments_[s + 1] : entries_.size();
    std::sort(entries_.begin() + static_cast<ptrdiff_t>(segments_[s]),
              entries_.begin() + static_cast<ptrdiff_t>(end),
              [this](const Entry& a, const Entry& b) {
                return std::string_view(bytes_.data() + a.offset, a.key_size) <
                       std::string_view(bytes_.data() + b.offset, b.key_size);
              });
  }
}

int64_t FrozenRun::bytes() const {
  return static_cast<int64_t>(bytes_.capacity() + entries_.capacity() * sizeof(Entry) +
                              segments_.capacity() * sizeof(size_t));
}

WriteBack::WriteBack(StateDb* db, std::function<void()> before_write)
    : db_(db), before_write_(std::move(before_write)), nonce_(std::random_device()()) {
  nonce_ = nonce_ << 32 | std::random_device()();
}

WriteBack::~WriteBack() {
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<SnapshotCompletion> WriteBack::Start(FrozenRun run, std::string dir) {
  auto done = std::make_shared<SnapshotCompletion>();
  if (thread_.joinable()) thread_.join();  // finished: Wait() came first
  {
    absl::MutexLock lock(&mu_);
    running_ = true;
  }
  thread_ = std::thread([this, run = std::move(run), dir = std::move(dir), done]() mutable {
    Run(std::move(run), dir, done);
  });
  return done;
}

bool WriteBack::pending() const {
  absl::MutexLock lock(&mu_);
  return running_;
}

absl::Status WriteBack::Wait() {
  if (thread_.joinable()) thread_.join();
  absl::MutexLock lock(&mu_);
  return status_;
}

absl::Status WriteBack::DeleteValuesAfter(std::string begin, std::string end) {
  {
    absl::MutexLock lock(&mu_);
    if (!status_.ok()) return status_;
    if (running_) {
      deferred_.emplace_back(std::move(begin), std::move(end));
      return absl::OkStatus();
    }
  }
  return db_->DeleteValues(begin, end);
}

absl::Status WriteBack::Write(FrozenRun& run, const std::string& dir) {
  if (before_write_) before_write_();
  run.Sort();
  std::unique_ptr<SortedWriter> writer = db_->NewSortedWriter(
      dir, absl::StrCat("delta-", absl::Hex(nonce_, absl::kZeroPad16), "-", next_file_++));
  for (size_t i = 0; i < run.size(); ++i) {
    const char* value = run.value(i);
    RETURN_IF_ERROR(value != nullptr ? writer->Put(run.key(i), {value, run.value_width()})
                                     : writer->Delete(run.key(i)));
  }
  ASSIGN_OR_RETURN(std::vector<std::string> files, writer->Finish());
  return db_->AddFiles(files);
}

void WriteBack::Run(FrozenRun run, const std::string& dir,
                    const std::shared_ptr<SnapshotCompletion>& done) {
  absl::Status status = Write(run, dir);
  run = FrozenRun(0);  // frees its memory before the state stops counting it
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [begin, end] : deferred_) {
      if (status.ok()) status = db_->DeleteValues(begin, end);
    }
    deferred_.clear();
    if (!status.ok()) {
      status = absl::DataLossError(absl::StrCat(
          "keyed state: writing a snapshot's entries failed, so RocksDB lacks entries the "
          "cache holds as written: ",
          status.message()));
      status_ = status;
    }
    running_ = false;
  }
  done->Finish(status);
}

}  // namespace state_internal
}  // namespace sluice
