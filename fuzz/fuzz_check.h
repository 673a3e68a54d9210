#pragma once

// FUZZ_CHECK(cond, what): a property a fuzz target checks. When it fails the
// target prints what and where, and aborts, which libFuzzer reports as a
// crash (and the regression test as a dead test). Active in every build
// type, unlike assert().

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond, what)                                                              \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed: %s\n", __FILE__, __LINE__, #cond, \
                   (what));                                                                 \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)
