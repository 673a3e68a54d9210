#pragma once

// Key rules shared by every ObjectStore implementation (see object_store.h),
// so that a key accepted in tests is accepted everywhere.

#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace sluice::store_internal {

// Names of in-progress writes in the local store start with this; no key
// segment may, so listings never confuse the two.
inline constexpr std::string_view kTempPrefix = ".sluice-tmp";

inline constexpr size_t kMaxKeyBytes = 1024;     // S3's limit
inline constexpr size_t kMaxSegmentBytes = 255;  // a file name's (NAME_MAX)

// Debian's Abseil has its own string_view; this converts without copying.
inline absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// OK, or InvalidArgument naming the key and the rule it breaks.
absl::Status ValidateKey(std::string_view key);

// A List prefix: "" or a key whose last segment may be partial or empty
// (so "a/", "a/b" and "a/ckpt-" are fine), under the same rules otherwise.
absl::Status ValidatePrefix(std::string_view prefix);

}  // namespace sluice::store_internal
