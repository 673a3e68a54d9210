#pragma once

// The catalog: the operator kinds a job may use, by name. The built-in
// ones are listed in one table, job/builtin_kinds.cc (BuiltinCatalog()).
// Immutable once built; thread-safe.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "catalog/operator_kind.h"
#include "proto/sluice.pb.h"

namespace sluice {

class Catalog {
 public:
  // Names must be unique. Kinds may share a settings message (those that
  // take none share google.protobuf.Empty).
  explicit Catalog(std::vector<std::unique_ptr<OperatorKind>> kinds);

  // The kind spelled `name`; null when there is none.
  const OperatorKind* Find(std::string_view name) const;
  // The kind of `op` (its `type`); an error naming the known kinds when
  // there is none.
  absl::StatusOr<const OperatorKind*> KindOf(const proto::OperatorSpec& op) const;
  // The names of the kinds whose settings are the message named (its full
  // name), in registration order.
  std::vector<std::string_view> KindsWithSettings(std::string_view message_name) const;

  // In registration order.
  const std::vector<std::unique_ptr<OperatorKind>>& kinds() const { return kinds_; }
  // "generator, file_source, ... or blackhole_sink", for messages.
  std::string NameList() const;
  // The names of the kinds that have side port `port`.
  std::vector<std::string_view> KindsWithPort(std::string_view port) const;

 private:
  std::vector<std::unique_ptr<OperatorKind>> kinds_;
  absl::flat_hash_map<std::string, const OperatorKind*> by_name_;
};

}  // namespace sluice
