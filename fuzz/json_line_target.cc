// What file_source does with the lines of a file: JsonLineParser on each
// line (in place in a buffer with kPadding readable bytes after it, as the
// LineReader hands lines out), then RowDecoder::Add under three schema
// setups: inferred (event time in seconds, which multiplies), declared with
// the event-time field among the columns (microseconds), and declared
// without it (nanoseconds, a field the schema does not name); and inferred
// with the "auto" unit where ParseTimeUnit knows it.

#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/batch_codec.h"
#include "common/time_util.h"
#include "connectors/file/internal/json_line_parser.h"
#include "connectors/file/internal/row_decoder.h"
#include "fuzz/batch_checks.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/targets.h"

namespace sluice::fuzz {
namespace {

using internal::JsonField;
using internal::JsonKind;
using internal::JsonLineError;
using internal::JsonLineParser;
using internal::RowDecoder;

// Batches are taken at this many rows, so inputs of many lines see several.
constexpr size_t kRowsPerBatch = 16;

bool IsBlank(std::string_view text) {
  for (char c : text) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

// Parses `json` on its own, padded, and returns the outcome.
JsonLineError ParseAlone(JsonLineParser& parser, std::string_view json) {
  std::unique_ptr<char[]> buf(new char[json.size() + JsonLineParser::kPadding]);
  std::memcpy(buf.get(), json.data(), json.size());
  std::memset(buf.get() + json.size(), ' ', JsonLineParser::kPadding);
  return parser.Parse(std::string_view(buf.get(), json.size()),
                      json.size() + JsonLineParser::kPadding);
}

// The fields of a parsed line: views that must be readable; nested values
// must be JSON again.
void CheckFields(const std::vector<JsonField>& fields, JsonLineParser& nested_parser) {
  for (const JsonField& f : fields) {
    Touch(f.key.data(), f.key.size());
    Touch(f.value.text.data(), f.value.text.size());
    if (f.value.kind == JsonKind::kObject || f.value.kind == JsonKind::kArray) {
      FUZZ_CHECK(!f.value.text.empty(), "a nested value keeps its text");
      // One level deeper than it was, so kTooDeep is possible.
      std::string wrapped = "{\"k\":";
      wrapped.append(f.value.text.data(), f.value.text.size());
      wrapped.push_back('}');
      const JsonLineError e = ParseAlone(nested_parser, wrapped);
      FUZZ_CHECK(e == JsonLineError::kNone || e == JsonLineError::kTooDeep,
                 "the compact text of a nested value is JSON");
    }
  }
}

struct Decoding {
  Decoding(std::vector<Field> declared, std::string event_time_field, TimeUnitScale unit)
      : declared_fields(declared),
        decoder(std::move(declared), std::move(event_time_field), unit) {}

  void Check(const Batch& batch) {
    CheckWellFormed(batch);
    if (!declared_fields.empty()) {
      FUZZ_CHECK(batch.schema()->fields() == declared_fields, "a declared schema stays");
    }
    if (batch.num_rows() == 0) return;  // file_source emits no empty batch
    // What the source emits must cross the wire unchanged.
    std::string encoded;
    EncodeBatch(batch, &encoded);
    absl::StatusOr<Batch> decoded = codec.Decode(encoded);
    FUZZ_CHECK(decoded.ok(), "a decoded line batch encodes");
    for (size_t r = 0; r < batch.num_rows(); ++r) CheckSameRow(batch, r, *decoded, r);
    FUZZ_CHECK(decoded->row_watermarks() == batch.row_watermarks(),
               "row watermarks cross the wire");
    FUZZ_CHECK(batch.row_watermarks().size() == batch.num_rows(), "a row watermark per row");
  }

  int64_t watermark = 0;  // stands for the source's, before each line

  void Add(const std::vector<JsonField>& fields) {
    reason.clear();
    RowDecoder::Outcome outcome = decoder.Add(fields, ++watermark, &reason);
    if (outcome == RowDecoder::Outcome::kNeedsFlush) {
      FUZZ_CHECK(declared_fields.empty(), "a declared schema never changes");
      FUZZ_CHECK(decoder.num_rows() > 0, "a flush is asked for with rows only");
      Check(decoder.Take());
      outcome = decoder.Add(fields, ++watermark, &reason);
      FUZZ_CHECK(outcome != RowDecoder::Outcome::kNeedsFlush, "after a flush the line is added");
    }
    if (outcome == RowDecoder::Outcome::kRejected) {
      FUZZ_CHECK(!reason.empty(), "a rejected line has a reason");
    }
    if (decoder.num_rows() >= kRowsPerBatch) Check(decoder.Take());
  }

  void Finish() { Check(decoder.Take()); }

  const std::vector<Field> declared_fields;
  RowDecoder decoder;
  BatchDecoder codec;
  std::string reason;
};

std::vector<Field> DeclaredWithTime() {
  return {{"id", FieldType::kInt64}, {"name", FieldType::kString}, {"x", FieldType::kDouble},
          {"ok", FieldType::kBool},  {"ts", FieldType::kInt64},    {"tags", FieldType::kString},
          {"n", FieldType::kDouble}};
}

std::vector<Field> DeclaredWithoutTime() {
  return {{"id", FieldType::kString}, {"x", FieldType::kInt64}, {"ts", FieldType::kBool}};
}

}  // namespace

int FuzzJsonLine(const uint8_t* data, size_t size) {
  // One buffer for the input, as the LineReader holds a chunk of the file:
  // a line is followed by the next ones, the last by the padding.
  std::unique_ptr<char[]> buf(new char[size + JsonLineParser::kPadding]);
  std::memcpy(buf.get(), data, size);
  std::memset(buf.get() + size, '"', JsonLineParser::kPadding);
  const char* const end = buf.get() + size;

  JsonLineParser parser, nested_parser;
  std::vector<std::unique_ptr<Decoding>> decodings;
  decodings.push_back(std::make_unique<Decoding>(std::vector<Field>{}, "ts", *ParseTimeUnit("s")));
  decodings.push_back(std::make_unique<Decoding>(DeclaredWithTime(), "ts", *ParseTimeUnit("us")));
  decodings.push_back(
      std::make_unique<Decoding>(DeclaredWithoutTime(), "time", *ParseTimeUnit("ns")));
  // The unit that follows each value's magnitude, where this version has it.
  if (absl::StatusOr<TimeUnitScale> unit = ParseTimeUnit("auto"); unit.ok()) {
    decodings.push_back(std::make_unique<Decoding>(std::vector<Field>{}, "ts", *unit));
  }
  for (const char* p = buf.get(); p < end;) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    const char* line_end = nl != nullptr ? nl : end;
    std::string_view line(p, static_cast<size_t>(line_end - p));
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const size_t capacity = static_cast<size_t>(end - p) + JsonLineParser::kPadding;
    p = nl != nullptr ? nl + 1 : end;
    if (IsBlank(line)) continue;

    if (parser.Parse(line, capacity) != JsonLineError::kNone) continue;  // a dead letter
    CheckFields(parser.fields(), nested_parser);
    for (auto& d : decodings) d->Add(parser.fields());
  }
  for (auto& d : decodings) d->Finish();
  return 0;
}

}  // namespace sluice::fuzz
