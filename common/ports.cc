#include "common/ports.h"

namespace sluice {

const SchemaRef& DeadLetterSchema() {
  static const SchemaRef* schema = new SchemaRef(std::make_shared<const Schema>(std::vector<Field>{
      {"source", FieldType::kString},
      {"file", FieldType::kString},
      {"line", FieldType::kInt64},
      {"reason", FieldType::kString},
      {"raw", FieldType::kString},
      {"raw_base64", FieldType::kString},
  }));
  return *schema;
}

const SchemaRef& LateSchema() {
  static const SchemaRef* schema = new SchemaRef(std::make_shared<const Schema>(std::vector<Field>{
      {"window_start", FieldType::kInt64},
      {"window_end", FieldType::kInt64},
      {"record", FieldType::kString, /*json=*/true},
  }));
  return *schema;
}

const SchemaRef& SidePortSchema(std::string_view port) {
  return port == kLatePort ? LateSchema() : DeadLetterSchema();
}

std::pair<std::string, std::string> SplitInput(std::string_view input) {
  for (std::string_view port : {kDeadLetterPort, kLatePort}) {
    if (input.size() > port.size() + 1 && input.ends_with(port) &&
        input[input.size() - port.size() - 1] == '.') {
      return {std::string(input.substr(0, input.size() - port.size() - 1)), std::string(port)};
    }
  }
  return {std::string(input), ""};
}

}  // namespace sluice
