#pragma once

// Reading a job file's YAML: typed getters that name the line and the field
// in their errors, and the parsers of the job-wide settings maps (network,
// checkpoint, restart, state, watermark). Used by the job-file parser
// (job/job_file.cc) and by operator kinds reading their own settings.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "proto/sluice.pb.h"
#include "yaml-cpp/yaml.h"

namespace sluice::job_yaml {

// Carries the location for error messages while walking one operator (or
// the job's top level, with an empty operator id).
class Ctx {
 public:
  Ctx(const std::string& file, std::string op) : file_(file), op_(std::move(op)) {}

  const std::string& file() const { return file_; }

  absl::Status Error(const YAML::Node& node, const std::string& field,
                     const std::string& msg) const {
    int line = node.IsDefined() ? node.Mark().line + 1 : 0;
    return ErrorAtLine(line, field, msg);
  }
  absl::Status ErrorAtLine(int line, const std::string& field, const std::string& msg) const {
    std::string where = line > 0 ? absl::StrCat(file_, ":", line) : file_;
    std::string who = op_.empty() ? "" : absl::StrCat(" operator '", op_, "',");
    return absl::InvalidArgumentError(absl::StrCat(where, ":", who, " field '", field, "': ", msg));
  }

 private:
  const std::string& file_;
  std::string op_;
};

absl::StatusOr<std::string> GetString(const Ctx& ctx, const YAML::Node& n,
                                      const std::string& field);
absl::StatusOr<int64_t> GetInt(const Ctx& ctx, const YAML::Node& n, const std::string& field);
absl::StatusOr<double> GetDouble(const Ctx& ctx, const YAML::Node& n, const std::string& field);
absl::StatusOr<bool> GetBool(const Ctx& ctx, const YAML::Node& n, const std::string& field);
// A duration such as "30s" or "1m", in milliseconds.
absl::StatusOr<int64_t> GetDuration(const Ctx& ctx, const YAML::Node& n, const std::string& field);
// "8MiB", "512KiB", "1GiB", "4096B" or a bare number of bytes.
absl::StatusOr<int64_t> ParseByteSize(std::string_view text);
absl::StatusOr<int64_t> GetByteSize(const Ctx& ctx, const YAML::Node& n, const std::string& field);
// `p` relative to the job file's directory, unless absolute.
std::string ResolvePath(const std::string& base_dir, const std::string& p);
// An error naming the first key of `map` that is not `allowed`.
absl::Status CheckKeys(const Ctx& ctx, const YAML::Node& map,
                       absl::Span<const char* const> allowed);

// The path of the first string field in `m` (recursively, map keys
// included) that is not valid UTF-8; empty when there is none. A YAML escape
// such as "\_" or "\N" makes such a string out of valid text (yaml-cpp
// writes the code point as one byte).
std::string FirstInvalidUtf8Field(const google::protobuf::Message& m);
inline constexpr std::string_view kNotUtf8 =
    "not valid UTF-8 (a YAML escape such as \\_ or \\N makes bytes that are not text)";

// The settings maps; absent settings keep their defaults.
absl::Status ParseWatermark(const Ctx& ctx, const YAML::Node& n, proto::WatermarkConfig* wm);
absl::Status ParseNetwork(const Ctx& ctx, const YAML::Node& n, proto::NetworkConfig* net);
absl::Status ParseCheckpoint(const Ctx& ctx, const YAML::Node& n, proto::CheckpointConfig* c);
absl::Status ParseRestart(const Ctx& ctx, const YAML::Node& n, proto::RestartConfig* r);
absl::Status ParseState(const Ctx& ctx, const YAML::Node& n, proto::StateConfig* st);
absl::Status ParseSideOutputs(const Ctx& ctx, const YAML::Node& n, const std::string& base_dir,
                              proto::SideOutputsConfig* so);

}  // namespace sluice::job_yaml
