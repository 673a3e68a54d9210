// Graphs written before the catalog (job_file.h: UpgradeLegacySettings).

#include "absl/strings/str_cat.h"
#include "google/protobuf/any.pb.h"
#include "google/protobuf/unknown_field_set.h"
#include "job/job_file.h"

namespace sluice {
namespace {

// OperatorSpec's old oneof: field number -> the settings message it held.
// The messages moved to their kinds' folders with their field numbers, so
// the bytes of the old field are the message as it is now (the sinks'
// empty SinkConfig reads as google.protobuf.Empty).
struct LegacyField {
  int number;
  const char* message;
};
constexpr LegacyField kLegacyFields[] = {
    {10, "sluice.proto.GeneratorConfig"}, {11, "sluice.proto.FileSourceConfig"},
    {12, "sluice.proto.FilterConfig"},    {13, "sluice.proto.MapConfig"},
    {14, "sluice.proto.WindowConfig"},    {15, "sluice.proto.FileSinkConfig"},
    {16, "google.protobuf.Empty"},        {17, "google.protobuf.Empty"},
    {18, "sluice.proto.ThrottleConfig"},
};

const char* LegacyMessage(int number) {
  for (const LegacyField& f : kLegacyFields) {
    if (f.number == number) return f.message;
  }
  return nullptr;
}

}  // namespace

void UpgradeLegacySettings(proto::JobGraph* graph) {
  for (proto::OperatorSpec& op : *graph->mutable_operators()) {
    google::protobuf::UnknownFieldSet* unknown = op.GetReflection()->MutableUnknownFields(&op);
    for (int i = 0; i < unknown->field_count(); ++i) {
      const google::protobuf::UnknownField& field = unknown->field(i);
      const char* message = LegacyMessage(field.number());
      if (message == nullptr ||
          field.type() != google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) {
        continue;
      }
      // As the oneof held it; ValidateJobGraph checks that it is the type's.
      if (!op.has_config()) {
        op.mutable_config()->set_type_url(absl::StrCat("type.googleapis.com/", message));
        op.mutable_config()->set_value(field.length_delimited());
      }
      unknown->DeleteSubrange(i, 1);
      break;
    }
  }
}

}  // namespace sluice
