#pragma once

// Entry points of the fuzz targets: one per input that a user or a peer
// controls. Each takes arbitrary bytes and returns 0; it crashes only on a
// bug: a sanitizer report, an uncaught exception, or abort() from FUZZ_CHECK
// when a property the target checks (a round trip, a documented invariant)
// does not hold.
//
// The libFuzzer executables (fuzz/<name>_fuzzer.cc) call them, and so does
// tests/fuzz/fuzz_regression_test.cc, which replays the seed corpora and the
// saved crash inputs in every build. So these build without libFuzzer.

#include <cstddef>
#include <cstdint>
#include <span>

namespace sluice::fuzz {

// job/job_file.h: ParseJobYaml (YAML text -> JobGraph, ValidateJobGraph).
int FuzzJobFile(const uint8_t* data, size_t size);
// common/expression.h: ParseExpression, CheckExpression, Bind, Eval per row.
int FuzzExpression(const uint8_t* data, size_t size);
// worker/operators/internal: JsonLineParser, then RowDecoder::Add (inferred
// and declared schemas), line by line.
int FuzzJsonLine(const uint8_t* data, size_t size);
// common/batch_codec.h: BatchDecoder::Decode; a decoded batch round-trips.
int FuzzBatchCodec(const uint8_t* data, size_t size);
// What worker/remote_exchange.cc does with the DataFrames a peer sends: a
// sequence of frames on a few streams into one InputGate.
int FuzzExchangeFrame(const uint8_t* data, size_t size);

struct FuzzTarget {
  const char* name;  // the directory under fuzz/corpus and fuzz/regressions
  int (*fn)(const uint8_t* data, size_t size);
};

// Every target, by name ("job_file", "expression", ...).
std::span<const FuzzTarget> AllFuzzTargets();

}  // namespace sluice::fuzz
