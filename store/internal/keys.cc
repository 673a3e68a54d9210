#include "store/internal/keys.h"

#include "absl/strings/str_cat.h"

namespace sluice::store_internal {
namespace {

absl::Status Invalid(std::string_view what, std::string_view key, std::string_view rule) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid object ", Sv(what), " '", Sv(key), "': ", Sv(rule)));
}

// Checks the characters and every complete segment; with `partial_last`, the
// text after the last '/' may be empty or any string of allowed characters.
absl::Status Validate(std::string_view what, std::string_view key, bool partial_last) {
  if (key.size() > kMaxKeyBytes) {
    return Invalid(what, key.substr(0, 64), absl::StrCat("longer than ", kMaxKeyBytes, " bytes"));
  }
  for (char c : key) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) return Invalid(what, key, "contains a control character");
  }
  if (key.empty()) return partial_last ? absl::OkStatus() : Invalid(what, key, "empty");
  if (key.front() == '/') return Invalid(what, key, "starts with '/' (keys are relative)");
  size_t start = 0;
  while (true) {
    const size_t slash = key.find('/', start);
    const bool last = slash == std::string_view::npos;
    const std::string_view segment =
        key.substr(start, last ? std::string_view::npos : slash - start);
    if (last && partial_last) return absl::OkStatus();
    if (segment.empty()) {
      return Invalid(what, key, last ? "ends with '/'" : "has an empty segment ('//')");
    }
    if (segment.size() > kMaxSegmentBytes) {
      return Invalid(what, key,
                     absl::StrCat("a segment is longer than ", kMaxSegmentBytes, " bytes"));
    }
    if (segment == "." || segment == "..") {
      return Invalid(what, key, "has a '.' or '..' segment");
    }
    if (segment.substr(0, kTempPrefix.size()) == kTempPrefix) {
      return Invalid(what, key,
                     absl::StrCat("a segment starts with the reserved '", Sv(kTempPrefix), "'"));
    }
    if (last) return absl::OkStatus();
    start = slash + 1;
  }
}

}  // namespace

absl::Status ValidateKey(std::string_view key) { return Validate("key", key, false); }

absl::Status ValidatePrefix(std::string_view prefix) { return Validate("prefix", prefix, true); }

}  // namespace sluice::store_internal
