#include "catalog/catalog.h"

#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"

namespace sluice {

Catalog::Catalog(std::vector<std::unique_ptr<OperatorKind>> kinds) : kinds_(std::move(kinds)) {
  for (const auto& kind : kinds_) {
    if (!by_name_.emplace(std::string(kind->name()), kind.get()).second) {
      std::cerr << "sluice: two operator kinds are named '" << kind->name() << "'\n";
      std::abort();
    }
  }
}

const OperatorKind* Catalog::Find(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : it->second;
}

absl::StatusOr<const OperatorKind*> Catalog::KindOf(const proto::OperatorSpec& op) const {
  if (const OperatorKind* kind = Find(op.type()); kind != nullptr) return kind;
  return absl::InvalidArgumentError(absl::StrCat(
      "operator '", op.id(), "': unknown operator type '", op.type(), "' (use ", NameList(), ")"));
}

std::vector<std::string_view> Catalog::KindsWithSettings(std::string_view message_name) const {
  std::vector<std::string_view> out;
  for (const auto& kind : kinds_) {
    if (kind->settings_prototype().GetDescriptor()->full_name() == message_name) {
      out.push_back(kind->name());
    }
  }
  return out;
}

std::string Catalog::NameList() const {
  std::string out;
  for (size_t i = 0; i < kinds_.size(); ++i) {
    if (i > 0) out += i + 1 == kinds_.size() ? " or " : ", ";
    absl::StrAppend(&out, std::string(kinds_[i]->name()));
  }
  return out;
}

std::vector<std::string_view> Catalog::KindsWithPort(std::string_view port) const {
  std::vector<std::string_view> out;
  for (const auto& kind : kinds_) {
    if (kind->HasSidePort(port)) out.push_back(kind->name());
  }
  return out;
}

}  // namespace sluice
