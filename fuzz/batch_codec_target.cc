// Record batches as they arrive from another worker: BatchDecoder::Decode
// on arbitrary bytes. What it accepts must be a well-formed batch that
// encodes and decodes to the same rows, and that the row-copying helpers of
// batch.h copy faithfully (they run on every received batch downstream).

#include <string>
#include <string_view>
#include <vector>

#include "common/batch_codec.h"
#include "fuzz/batch_checks.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/targets.h"

namespace sluice::fuzz {

int FuzzBatchCodec(const uint8_t* data, size_t size) {
  BatchDecoder decoder;
  absl::StatusOr<Batch> first =
      decoder.Decode(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!first.ok()) return 0;
  CheckWellFormed(*first);
  const size_t rows = first->num_rows();

  std::string encoded;
  EncodeBatch(*first, &encoded);
  absl::StatusOr<Batch> second = decoder.Decode(encoded);
  FUZZ_CHECK(second.ok(), "a decoded batch, encoded again, decodes");
  FUZZ_CHECK(second->schema().get() == first->schema().get(), "the decoder reuses an equal schema");
  FUZZ_CHECK(second->num_rows() == rows, "same number of rows");
  for (size_t r = 0; r < rows; ++r) CheckSameRow(*first, r, *second, r);
  std::string again;
  EncodeBatch(*second, &again);
  FUZZ_CHECK(again == encoded, "encoding is stable");

  // Copies: all rows at once, every other row, and row by row from the middle.
  Batch range(first->schema());
  range.AppendRange(*first, 0, rows);
  CheckWellFormed(range);
  for (size_t r = 0; r < rows; ++r) CheckSameRow(*first, r, range, r);

  std::vector<uint32_t> picked;
  for (size_t r = 0; r < rows; r += 2) picked.push_back(static_cast<uint32_t>(r));
  Batch some(first->schema());
  some.AppendRows(*first, picked);
  some.AppendRange(*first, rows / 2, rows);
  for (size_t r = rows / 2; r < rows; ++r) some.AppendRowFrom(*first, r);
  CheckWellFormed(some);
  for (size_t i = 0; i < picked.size(); ++i) CheckSameRow(*first, picked[i], some, i);
  for (size_t r = rows / 2, i = picked.size(); r < rows; ++r, ++i) {
    CheckSameRow(*first, r, some, i);
    CheckSameRow(*first, r, some, i + (rows - rows / 2));
  }
  return 0;
}

}  // namespace sluice::fuzz
