#pragma once

// An operator kind (generator, window, file_sink, ...) describes itself in
// one place: its YAML spelling and defaults, the checks of its settings,
// the schema it outputs for the schema it reads, its side ports, its
// traits, and the runtime objects that execute it. Code outside a kind asks
// the catalog (catalog.h) for these instead of switching on type names.
//
// A kind's settings are a protobuf message of its own folder, carried
// packed in OperatorSpec::config; TypedKind<Settings> (typed_kind.h) does
// the packing, so a kind is written against its own message. Kinds are
// immutable and thread-safe: one instance serves every job.
//
// docs/ADDING_AN_OPERATOR.md walks through writing one.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "catalog/operator.h"
#include "common/batch.h"
#include "common/job_yaml.h"
#include "google/protobuf/message.h"
#include "proto/sluice.pb.h"
#include "yaml-cpp/yaml.h"

namespace sluice {

// What is known before run time about the records on one stream. An open
// schema (a file source without a declared schema) may hold any field.
struct StaticSchema {
  bool open = false;
  std::map<std::string, FieldType> fields;

  // The field's type; kNull for any field of an open schema; nullopt when
  // the stream cannot have it.
  std::optional<FieldType> Lookup(std::string_view name) const;
};

struct OperatorTraits {
  bool source = false;  // has no input; runs as a SourceReader at the head of its task
  bool sink = false;    // has no output
  // Always reads its input partitioned by PartitionKeys(), even when there
  // are none (then every record goes to one key group). Other kinds are
  // partitioned only when given `key_by`.
  bool keyed = false;
  bool stateful = false;       // keeps keyed state, which checkpoints snapshot
  bool own_task = false;       // never chained behind its upstream
  bool transactional = false;  // commits its output when a checkpoint completes
  // Outputs besides the main one (common/ports.h), read as `input: op.port`.
  std::vector<std::string_view> side_ports = {};
};

// A file or directory an operator's settings name.
struct PathUse {
  std::string path;
  bool writes = false;  // an output (a sink's directory); else read
};

// Where a sink's output files go, for the summary `sluice run` prints:
// files in `dir` whose names start with `prefix`.
struct OutputFiles {
  std::string dir;
  std::string prefix;
  std::string pattern;  // for people, e.g. "part-<job>-*.jsonl"
};

// One operator of a job file, while it is read. The generic fields (id,
// type, input, parallelism, and key_by unless the kind is keyed) are parsed
// and stored in `op` before the kind reads its own.
struct OperatorYaml {
  const job_yaml::Ctx& ctx;
  const YAML::Node& node;
  // Relative paths in settings are resolved against this (job_yaml::ResolvePath).
  const std::string& base_dir;
  proto::OperatorSpec* op;

  // An error unless the operator has `field`.
  absl::Status Require(const char* field) const;
  // Records the line of a nested setting (such as "set.x") for messages.
  void NoteLine(const std::string& field, const YAML::Node& n) const;
};

// One operator of a graph, while it is checked; errors name the job file,
// the line of the field (or of the operator), the operator and the field.
struct OperatorCheck {
  const proto::JobGraph& graph;
  const proto::OperatorSpec& op;

  absl::Status Error(const std::string& field, const std::string& msg) const;
};

class OperatorKind {
 public:
  virtual ~OperatorKind() = default;

  // The `type:` spelling in job files; the catalog's key.
  virtual std::string_view name() const = 0;
  virtual const OperatorTraits& traits() const = 0;
  // The YAML fields the kind reads besides id, type, parallelism and input,
  // in the order messages list them. With "key_by", the kind's input may be
  // partitioned by key: the parser reads it into OperatorSpec.key_by, unless
  // the kind is keyed (traits().keyed), which reads its keys itself.
  virtual std::vector<const char*> yaml_fields() const = 0;
  // The kind's settings message (its default instance).
  virtual const google::protobuf::Message& settings_prototype() const = 0;

  // Reads the kind's settings from the job file into y.op->config, with
  // the kind's defaults for what is absent.
  virtual absl::Status ParseYaml(const OperatorYaml& y) const = 0;
  // Range checks of the settings; they hold for graphs from API clients
  // too, which no job file spelled.
  virtual absl::Status CheckSettings(const OperatorCheck& c) const = 0;
  // The schema of the main output for input `in` (for a source, `in` is
  // empty): type-checks expressions and fields against `in`.
  virtual absl::StatusOr<StaticSchema> OutputSchema(const OperatorCheck& c,
                                                    const StaticSchema& in) const = 0;

  // The fields input records are partitioned by: `key_by` unless the kind
  // keeps its keys in its settings.
  virtual std::vector<std::string> PartitionKeys(const proto::OperatorSpec& op) const;
  // Paths the settings name (checked so that no two sinks share one and no
  // sink writes where a source reads).
  virtual std::vector<PathUse> Paths(const proto::OperatorSpec& op) const;
  // Where a sink's output files go; nullopt when it writes none.
  virtual std::optional<OutputFiles> Outputs(const proto::OperatorSpec& op,
                                             std::string_view job_id) const;

  // The runtime, on the worker: a source's reader, or any other kind's
  // operator. The settings were checked before.
  virtual absl::StatusOr<std::unique_ptr<SourceReader>> CreateSource(
      const proto::OperatorSpec& op) const;
  virtual absl::StatusOr<std::unique_ptr<Operator>> CreateOperator(
      const proto::OperatorSpec& op) const;

  bool HasSidePort(std::string_view port) const;
};

// Checks that several kinds' settings share.
// A duration setting is from 0 to 366 days (kMaxSettingDurationMs).
bool IsSettingDuration(int64_t ms);
inline constexpr std::string_view kSettingDurationRange = "must be between 0 and 366 days";
// A source's `watermark:` settings.
absl::Status CheckWatermarkSettings(const OperatorCheck& c, const proto::WatermarkConfig& wm);

// The type of a declared field (FieldSpec), kNull for unspecified.
FieldType FieldTypeFromProto(proto::FieldType type);

// `key_by: field` or `key_by: [a, b]` of the operator node, when present (a
// keyed kind's Parse reads its keys with it).
absl::Status ParseKeyBy(const job_yaml::Ctx& ctx, const YAML::Node& n,
                        google::protobuf::RepeatedPtrField<std::string>* keys);

}  // namespace sluice
