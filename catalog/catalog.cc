#include "catalog/catalog.h"

#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"

namespace sluice {

Catalog::Catalog(std::vector<std::unique_ptr<OperatorKind>> kinds) : kinds_(std::move(kinds)) {
  for (const auto& kind : kinds_) {
    const bool named = by_name_.emplace(std::string(kind->name()), kind.get()).second;
    const bool settled =
        by_settings_.emplace(kind->settings_prototype().GetDescriptor()->full_name(), kind.get())
            .second;
    // Two kinds sharing a settings message (stdout_sink and blackhole_sink
    // take none) cannot be told apart by their settings; that is fine, the
    // first one answers FindBySettings.
    (void)settled;
    if (!named) {
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
  return absl::InvalidArgumentError(absl::StrCat("operator '", op.id(), "': unknown operator type '",
                                                 op.type(), "' (use ", NameList(), ")"));
}

const OperatorKind* Catalog::FindBySettings(std::string_view message_name) const {
  auto it = by_settings_.find(std::string(message_name));
  return it == by_settings_.end() ? nullptr : it->second;
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
