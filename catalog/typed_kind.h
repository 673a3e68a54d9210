#pragma once

// TypedKind<Settings>: the base of a kind whose settings are the protobuf
// message `Settings`. It packs and unpacks OperatorSpec::config, so the
// kind's own code reads and writes its message only:
//
//   class ThrottleKind final : public TypedKind<proto::ThrottleConfig> {
//     ... Parse(y, &settings), Check(c, settings), Output(c, settings, in),
//     ... Create(op, settings)
//   };

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "catalog/operator_kind.h"
#include "common/status_macros.h"

namespace sluice {

// The settings of `op`, unpacked; an error when it has none, or when they
// are another message or cannot be read.
template <typename Settings>
absl::StatusOr<Settings> UnpackSettings(const proto::OperatorSpec& op) {
  Settings settings;
  const std::string& want = Settings::descriptor()->full_name();
  if (!op.has_config()) {
    return absl::InvalidArgumentError(
        absl::StrCat("operator '", op.id(), "' has no settings (a ", want, ")"));
  }
  if (!op.config().Is<Settings>()) {
    return absl::InvalidArgumentError(absl::StrCat("operator '", op.id(), "': its settings ('",
                                                   op.config().type_url(), "') are not a ", want));
  }
  if (!op.config().UnpackTo(&settings)) {
    return absl::InvalidArgumentError(
        absl::StrCat("operator '", op.id(), "': its settings (a ", want, ") cannot be read"));
  }
  return settings;
}

template <typename Settings>
class TypedKind : public OperatorKind {
 public:
  const google::protobuf::Message& settings_prototype() const final {
    return Settings::default_instance();
  }

  absl::Status ParseYaml(const OperatorYaml& y) const final {
    Settings settings;
    RETURN_IF_ERROR(Parse(y, &settings));
    // Checked before packing: protobuf would not read such settings back.
    if (const std::string field = job_yaml::FirstInvalidUtf8Field(settings); !field.empty()) {
      return job_yaml::Ctx(y.ctx.file(), "")
          .ErrorAtLine(0, absl::StrCat("operators.", std::string(name()), ".", field),
                       std::string(job_yaml::kNotUtf8));
    }
    y.op->mutable_config()->PackFrom(settings);
    return absl::OkStatus();
  }
  absl::Status CheckSettings(const OperatorCheck& c) const final {
    ASSIGN_OR_RETURN(Settings settings, UnpackSettings<Settings>(c.op));
    return Check(c, settings);
  }
  absl::StatusOr<StaticSchema> OutputSchema(const OperatorCheck& c,
                                            const StaticSchema& in) const final {
    ASSIGN_OR_RETURN(Settings settings, UnpackSettings<Settings>(c.op));
    return Output(c, settings, in);
  }
  absl::StatusOr<std::unique_ptr<SourceReader>> CreateSource(
      const proto::OperatorSpec& op) const final {
    ASSIGN_OR_RETURN(Settings settings, UnpackSettings<Settings>(op));
    return NewSource(op, settings);
  }
  absl::StatusOr<std::unique_ptr<Operator>> CreateOperator(
      const proto::OperatorSpec& op) const final {
    ASSIGN_OR_RETURN(Settings settings, UnpackSettings<Settings>(op));
    return NewOperator(op, settings);
  }

 protected:
  virtual absl::Status Parse(const OperatorYaml& y, Settings* settings) const = 0;
  virtual absl::Status Check(const OperatorCheck& c, const Settings& settings) const {
    (void)c;
    (void)settings;
    return absl::OkStatus();
  }
  // Default: the input passes through unchanged (sinks' is unused).
  virtual absl::StatusOr<StaticSchema> Output(const OperatorCheck& c, const Settings& settings,
                                              const StaticSchema& in) const {
    (void)c;
    (void)settings;
    return in;
  }
  // A source overrides NewSource, any other kind NewOperator.
  virtual absl::StatusOr<std::unique_ptr<SourceReader>> NewSource(const proto::OperatorSpec& op,
                                                                  const Settings& settings) const {
    (void)settings;
    return OperatorKind::CreateSource(op);
  }
  virtual absl::StatusOr<std::unique_ptr<Operator>> NewOperator(const proto::OperatorSpec& op,
                                                                const Settings& settings) const {
    (void)settings;
    return OperatorKind::CreateOperator(op);
  }
};

}  // namespace sluice
