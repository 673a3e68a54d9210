// Writes the seed inputs of the binary fuzz targets (batch_codec,
// exchange_frame) under the corpus directory given, from the encoders the
// senders use (EncodeBatch, proto::DataFrame). The text targets' seeds are
// written by hand. Usage: fuzz_seeds fuzz/corpus
//
// Re-running it rewrites the same files; the output is deterministic.

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "common/batch.h"
#include "common/batch_codec.h"
#include "proto/sluice.pb.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

SchemaRef MakeSchema(std::vector<Field> fields) {
  return std::make_shared<const Schema>(std::move(fields));
}

// The mixed batch of tests/common/batch_codec_test.cc: values, nulls, an
// empty string.
Batch Mixed() {
  BatchBuilder b(MakeSchema({{"id", FieldType::kInt64},
                             {"name", FieldType::kString},
                             {"x", FieldType::kDouble},
                             {"ok", FieldType::kBool}}));
  b.SetInt(0, 1);
  b.SetString(1, "alpha");
  b.SetDouble(2, 1.5);
  b.SetBool(3, true);
  b.FinishRow(100);
  b.SetInt(0, 2);
  b.FinishRow(200);
  b.SetInt(0, 3);
  b.SetString(1, "");
  b.SetDouble(2, -2.25);
  b.SetBool(3, false);
  b.FinishRow(300);
  return b.Take();
}

Batch Extremes() {
  BatchBuilder b(
      MakeSchema({{"i", FieldType::kInt64}, {"d", FieldType::kDouble}, {"s", FieldType::kString}}));
  const int64_t ints[] = {std::numeric_limits<int64_t>::min(), -1, 0,
                          std::numeric_limits<int64_t>::max()};
  const double doubles[] = {std::numeric_limits<double>::quiet_NaN(),
                            -std::numeric_limits<double>::infinity(), -0.0,
                            std::numeric_limits<double>::denorm_min()};
  const std::string strings[] = {"", "\xc3\xa9t\xc3\xa9", std::string(300, 'x'),
                                 std::string("a\0b", 3)};
  for (int r = 0; r < 4; ++r) {
    b.SetInt(0, ints[r]);
    b.SetDouble(1, doubles[r]);
    b.SetString(2, strings[r]);
    b.FinishRow(ints[3 - r]);
  }
  return b.Take();
}

Batch AllNull() {
  BatchBuilder b(
      MakeSchema({{"n", FieldType::kNull}, {"s", FieldType::kString}, {"b", FieldType::kBool}}));
  b.FinishRow(0);
  b.FinishRow(-1);
  return b.Take();
}

// (No seed has zero rows: fuzz/regressions/batch_codec/zero_rows_memcpy_null
// has.)
Batch NoFields(int rows) {
  Batch batch(MakeSchema({}));
  for (int r = 0; r < rows; ++r) batch.event_time().push_back(r);
  return batch;
}

Batch Wide() {
  std::vector<Field> fields;
  for (int f = 0; f < 20; ++f) {
    fields.push_back({"f" + std::to_string(f), static_cast<FieldType>(f % 5)});
  }
  BatchBuilder b(MakeSchema(fields));
  for (int r = 0; r < 3; ++r) {
    for (int f = 0; f < 20; ++f) {
      if ((f + r) % 3 == 0) continue;  // null
      switch (static_cast<FieldType>(f % 5)) {
        case FieldType::kBool:
          b.SetBool(f, r % 2 == 0);
          break;
        case FieldType::kInt64:
          b.SetInt(f, r * 1000 + f);
          break;
        case FieldType::kDouble:
          b.SetDouble(f, r + f / 8.0);
          break;
        case FieldType::kString:
          b.SetString(f, std::string(static_cast<size_t>(r + f), 'a' + static_cast<char>(f)));
          break;
        case FieldType::kNull:
          break;
      }
    }
    b.FinishRow(1767225600000 + r);
  }
  return b.Take();
}

std::string Encode(const Batch& batch) {
  std::string out;
  EncodeBatch(batch, &out);
  return out;
}

void Write(const fs::path& dir, const std::string& name, const std::string& bytes) {
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary | std::ios::trunc) << bytes;
}

// exchange_frame input: control byte, u16 little-endian length, DataFrame.
class Frames {
 public:
  Frames& Add(int stream, bool drain, const proto::DataFrame& frame) {
    const std::string bytes = frame.SerializeAsString();
    out_.push_back(static_cast<char>(stream | (drain ? 0x80 : 0)));
    out_.push_back(static_cast<char>(bytes.size() & 0xff));
    out_.push_back(static_cast<char>(bytes.size() >> 8));
    out_ += bytes;
    return *this;
  }
  Frames& Raw(int stream, bool drain, const std::string& bytes) {
    out_.push_back(static_cast<char>(stream | (drain ? 0x80 : 0)));
    out_.push_back(static_cast<char>(bytes.size() & 0xff));
    out_.push_back(static_cast<char>(bytes.size() >> 8));
    out_ += bytes;
    return *this;
  }
  const std::string& bytes() const { return out_; }

 private:
  std::string out_;
};

proto::DataFrame Header(int channel) {
  proto::DataFrame f;
  proto::ChannelHeader* h = f.mutable_header();
  h->set_job_id("job-1");
  h->set_attempt(1);
  h->set_target_task(2);
  h->set_target_subtask(0);
  h->set_channel(channel);
  h->set_sender_worker_id("worker-1");
  h->set_sender_address("127.0.0.1:7001");
  h->set_sender_task(1);
  h->set_sender_subtask(channel);
  return f;
}

proto::DataFrame BatchFrame(const Batch& batch, int backlog = 0) {
  proto::DataFrame f;
  f.set_batch(Encode(batch));
  f.set_backlog(backlog);
  return f;
}

proto::DataFrame Watermark(int64_t wm) {
  proto::DataFrame f;
  f.set_watermark(wm);
  return f;
}

proto::DataFrame Barrier(int64_t id, proto::CheckpointKind kind = proto::CHECKPOINT,
                         const std::string& name = "") {
  proto::DataFrame f;
  proto::Barrier* b = f.mutable_barrier();
  b->set_checkpoint_id(id);
  b->set_timestamp_ms(1767225600000);
  b->set_kind(kind);
  b->set_savepoint_name(name);
  return f;
}

proto::DataFrame EndOfStream() {
  proto::DataFrame f;
  f.set_end_of_stream(true);
  return f;
}

void WriteBatchCodec(const fs::path& dir) {
  Write(dir, "mixed", Encode(Mixed()));
  Write(dir, "extremes", Encode(Extremes()));
  Write(dir, "all_null", Encode(AllNull()));
  Write(dir, "no_fields_rows", Encode(NoFields(3)));
  Write(dir, "wide", Encode(Wide()));
  std::string two = Encode(Mixed());
  Write(dir, "trailing_batch", two + Encode(Mixed()));  // refused: trailing bytes
  Write(dir, "truncated", two.substr(0, two.size() / 2));
}

void WriteExchangeFrame(const fs::path& dir) {
  const Batch mixed = Mixed();
  Write(dir, "one_channel_in_order",
        Frames()
            .Add(0, false, Header(0))
            .Add(0, true, BatchFrame(mixed, 1))
            .Add(0, true, Watermark(150))
            .Add(0, false, BatchFrame(Extremes()))
            .Add(0, true, Barrier(1))
            .Add(0, true, Watermark(300))
            .Add(0, true, EndOfStream())
            .bytes());
  Write(dir, "two_channels_aligned",
        Frames()
            .Add(0, false, Header(0))
            .Add(1, false, Header(1))
            .Add(0, true, BatchFrame(mixed))
            .Add(0, true, Barrier(7))
            .Add(0, true, BatchFrame(mixed))  // held back
            .Add(1, true, Watermark(50))
            .Add(1, true, Barrier(7))
            .Add(1, true, Barrier(9, proto::SAVEPOINT, "sp-1"))
            .Add(0, true, Barrier(8))  // older than 9
            .Add(0, true, Barrier(9, proto::SAVEPOINT, "sp-1"))
            .Add(0, true, EndOfStream())
            .Add(1, true, EndOfStream())
            .bytes());
  Frames over;
  over.Add(0, false, Header(0));
  for (int i = 0; i < 6; ++i) over.Add(0, false, BatchFrame(mixed));
  Write(dir, "credit_exceeded", over.Add(0, true, EndOfStream()).bytes());
  Write(dir, "duplicate_and_bad_channels",
        Frames()
            .Add(0, false, Header(1))
            .Add(1, false, Header(1))
            .Add(2, false, Header(5))
            .Add(1, true, BatchFrame(mixed))
            .Add(0, true, BatchFrame(AllNull()))
            .Add(0, true, EndOfStream())
            .bytes());
  Write(dir, "no_header_first",
        Frames().Add(0, true, BatchFrame(mixed)).Add(0, true, EndOfStream()).bytes());
  std::string corrupt = Encode(mixed);
  corrupt[0] = 'X';
  proto::DataFrame bad;
  bad.set_batch(corrupt);
  Write(dir, "corrupt_batch",
        Frames().Add(0, false, Header(0)).Add(0, true, bad).Add(1, true, Header(1)).bytes());
  Write(dir, "empty_frame_and_garbage",
        Frames()
            .Add(0, false, Header(0))
            .Add(1, false, Header(1))
            .Add(0, true, proto::DataFrame())
            .Raw(1, true, "\xff\xff\xff")
            .bytes());
  Write(dir, "extreme_watermarks",
        Frames()
            .Add(0, false, Header(0))
            .Add(1, false, Header(1))
            .Add(0, true, Watermark(std::numeric_limits<int64_t>::min()))
            .Add(1, true, Watermark(std::numeric_limits<int64_t>::max()))
            .Add(0, true, Watermark(-1))
            .Add(0, true, Barrier(-5))
            .Add(0, true, Barrier(std::numeric_limits<int64_t>::max()))
            .Add(1, true, EndOfStream())
            .Add(1, true, BatchFrame(mixed))  // after end of stream
            .Add(0, true, EndOfStream())
            .bytes());
}

}  // namespace
}  // namespace sluice

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " CORPUS_DIR (fuzz/corpus)\n";
    return 2;
  }
  const std::filesystem::path corpus = argv[1];
  sluice::WriteBatchCodec(corpus / "batch_codec");
  sluice::WriteExchangeFrame(corpus / "exchange_frame");
  return 0;
}
