#pragma once

// ObjectStore over a local directory (the default store).
//
// Each key is a file under the root; '/' separates directories. Put writes a
// temp file next to the target, fsyncs it, renames it over the target and
// fsyncs the directory, so an object is either whole or absent, also after a
// crash. Delete removes directories that become empty (up to, not including,
// the root). The root is created on first write; a missing root lists empty.
//
// Thread-safe without locks: the file system serializes renames, and readers
// only ever see renamed (complete) files.

#include <string>

#include "store/object_store.h"

namespace sluice {

class LocalObjectStore final : public ObjectStore {
 public:
  // `root` is made absolute (against the working directory) here.
  explicit LocalObjectStore(std::string root);

  absl::Status Put(std::string_view key, std::string_view data) override;
  absl::Status PutFile(std::string_view key, const std::string& local_path) override;
  absl::StatusOr<std::string> Get(std::string_view key) override;
  absl::Status GetFile(std::string_view key, const std::string& local_path) override;
  absl::StatusOr<std::optional<int64_t>> Size(std::string_view key) override;
  absl::StatusOr<std::vector<ObjectInfo>> List(std::string_view prefix) override;
  absl::Status Delete(std::string_view key) override;
  std::string uri() const override;

  const std::string& root() const { return root_; }

 private:
  // The file of a key; InvalidArgument for keys that break the rules.
  absl::StatusOr<std::string> PathOf(std::string_view key) const;

  const std::string root_;  // absolute, no trailing '/'
};

}  // namespace sluice
