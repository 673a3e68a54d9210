#include "common/job_yaml.h"

#include <charconv>
#include <filesystem>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "common/json.h"
#include "common/status_macros.h"
#include "common/time_util.h"

namespace sluice::job_yaml {

absl::StatusOr<std::string> GetString(const Ctx& ctx, const YAML::Node& n,
                                      const std::string& field) {
  if (!n.IsScalar()) return ctx.Error(n, field, "expected a scalar value");
  std::string s = n.as<std::string>();
  if (!IsValidUtf8(s)) {
    return ctx.Error(n, field, std::string(kNotUtf8));
  }
  return s;
}

absl::StatusOr<int64_t> GetInt(const Ctx& ctx, const YAML::Node& n, const std::string& field) {
  int64_t v = 0;
  if (!n.IsScalar() || !YAML::convert<int64_t>::decode(n, v)) {
    return ctx.Error(n, field, "expected an integer");
  }
  return v;
}

absl::StatusOr<double> GetDouble(const Ctx& ctx, const YAML::Node& n, const std::string& field) {
  double v = 0;
  if (!n.IsScalar() || !YAML::convert<double>::decode(n, v)) {
    return ctx.Error(n, field, "expected a number");
  }
  return v;
}

absl::StatusOr<int64_t> GetDuration(const Ctx& ctx, const YAML::Node& n, const std::string& field) {
  ASSIGN_OR_RETURN(std::string s, GetString(ctx, n, field));
  auto d = ParseDurationMs(s);
  if (!d.ok()) return ctx.Error(n, field, std::string(d.status().message()));
  return *d;
}

absl::StatusOr<int64_t> ParseByteSize(std::string_view text) {
  const std::string trimmed(absl::StripAsciiWhitespace(std::string(text)));
  int64_t value = 0;
  auto [p, ec] = std::from_chars(trimmed.data(), trimmed.data() + trimmed.size(), value);
  if (ec != std::errc() || value < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad size '", std::string(text),
                     "': expected a whole number of bytes with a unit such as 512KiB or 8MiB"));
  }
  const std::string unit(absl::StripAsciiWhitespace(trimmed.substr(p - trimmed.data())));
  int shift = 0;
  if (unit.empty() || unit == "B") {
    shift = 0;
  } else if (unit == "KiB") {
    shift = 10;
  } else if (unit == "MiB") {
    shift = 20;
  } else if (unit == "GiB") {
    shift = 30;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad size '", std::string(text), "': unknown unit '", unit, "' (use B, KiB, MiB or GiB)"));
  }
  if (value > (std::numeric_limits<int64_t>::max() >> shift))
    return absl::InvalidArgumentError(absl::StrCat("size '", std::string(text), "' is too large"));
  return value << shift;
}

absl::StatusOr<int64_t> GetByteSize(const Ctx& ctx, const YAML::Node& n, const std::string& field) {
  ASSIGN_OR_RETURN(std::string s, GetString(ctx, n, field));
  auto bytes = ParseByteSize(s);
  if (!bytes.ok()) return ctx.Error(n, field, std::string(bytes.status().message()));
  return *bytes;
}

std::string ResolvePath(const std::string& base_dir, const std::string& p) {
  if (base_dir.empty() || p.empty() || p[0] == '/') return p;
  return (std::filesystem::path(base_dir) / p).lexically_normal().string();
}

absl::Status CheckKeys(const Ctx& ctx, const YAML::Node& map,
                       absl::Span<const char* const> allowed) {
  for (const auto& kv : map) {
    std::string key = kv.first.as<std::string>();
    bool ok = false;
    for (const char* a : allowed) ok = ok || key == a;
    if (!ok) {
      return ctx.Error(
          kv.first, key,
          absl::StrCat("unknown field (expected one of: ", absl::StrJoin(allowed, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> GetBool(const Ctx& ctx, const YAML::Node& n, const std::string& field) {
  bool v = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) {
    return ctx.Error(n, field, "expected true or false");
  }
  return v;
}

std::string FirstInvalidUtf8Field(const google::protobuf::Message& m) {
  const google::protobuf::Descriptor* d = m.GetDescriptor();
  const google::protobuf::Reflection* r = m.GetReflection();
  using google::protobuf::FieldDescriptor;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->type() == FieldDescriptor::TYPE_STRING) {
      const int n = f->is_repeated() ? r->FieldSize(m, f) : 1;
      for (int j = 0; j < n; ++j) {
        const std::string s = f->is_repeated() ? r->GetRepeatedString(m, f, j) : r->GetString(m, f);
        if (!IsValidUtf8(s)) return f->name();
      }
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (!f->is_repeated() && !r->HasField(m, f)) continue;
      const int n = f->is_repeated() ? r->FieldSize(m, f) : 1;
      for (int j = 0; j < n; ++j) {
        const std::string sub = FirstInvalidUtf8Field(
            f->is_repeated() ? r->GetRepeatedMessage(m, f, j) : r->GetMessage(m, f));
        if (!sub.empty()) return absl::StrCat(f->name(), ".", sub);
      }
    }
  }
  return "";
}

}  // namespace sluice::job_yaml
