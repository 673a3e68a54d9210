// Graphs written before the catalog (job_file.h: UpgradeLegacySettings).

#include "absl/strings/str_cat.h"
#include "catalog/catalog.h"
#include "google/protobuf/any.pb.h"
#include "google/protobuf/unknown_field_set.h"
#include "job/builtin_kinds.h"
#include "job/job_file.h"

namespace sluice {

void UpgradeLegacySettings(proto::JobGraph* graph) {
  // Fields 10 to 18 of OperatorSpec were a oneof of the settings messages,
  // which moved to their kinds' folders with their field numbers intact:
  // the bytes of the old field are the kind's settings message.
  constexpr int kFirstLegacyField = 10, kLastLegacyField = 18;
  for (proto::OperatorSpec& op : *graph->mutable_operators()) {
    google::protobuf::UnknownFieldSet* unknown =
        op.GetReflection()->MutableUnknownFields(&op);
    for (int i = 0; i < unknown->field_count(); ++i) {
      const google::protobuf::UnknownField& field = unknown->field(i);
      if (field.number() < kFirstLegacyField || field.number() > kLastLegacyField ||
          field.type() != google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) {
        continue;
      }
      const OperatorKind* kind = BuiltinCatalog().Find(op.type());
      if (kind != nullptr && !op.has_config()) {
        op.mutable_config()->set_type_url(absl::StrCat(
            "type.googleapis.com/", kind->settings_prototype().GetDescriptor()->full_name()));
        op.mutable_config()->set_value(field.length_delimited());
      }
      unknown->DeleteSubrange(i, 1);
      break;
    }
  }
}

}  // namespace sluice
