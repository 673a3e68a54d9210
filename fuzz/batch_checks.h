#pragma once

// Checks the fuzz targets make on the batches they get out of the code under
// test (decoders of untrusted input). Each aborts through FUZZ_CHECK.

#include <cstddef>

#include "common/batch.h"

namespace sluice::fuzz {

// The layout batch.h promises: one column per field, of the field's type,
// with one value (a string: one offset more) and no or one validity byte per
// row, offsets non-decreasing from 0 to the size of chars.
void CheckWellFormed(const Batch& batch);

// Row `a_row` of `a` and row `b_row` of `b` (equal schemas) hold the same
// event time, nulls and values (doubles bit for bit).
void CheckSameRow(const Batch& a, size_t a_row, const Batch& b, size_t b_row);

// Touches every byte of `data`, so AddressSanitizer sees a dangling view.
void Touch(const void* data, size_t size);

}  // namespace sluice::fuzz
