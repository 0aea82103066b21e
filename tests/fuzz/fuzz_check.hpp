#pragma once
// What a fuzz target does when a property does not hold: say which one, with the
// details, and abort, so libFuzzer saves the input as a reproducer (crash-<sha1>).

#include <cstdio>
#include <cstdlib>

/// Aborts with `printf`-style details when `cond` is false.
#define LP_FUZZ_CHECK(cond, ...)                                                 \
  do {                                                                           \
    if (!(cond)) {                                                               \
      std::fprintf(stderr, "fuzz property failed: %s (%s:%d)\n", #cond, __FILE__, \
                   __LINE__);                                                    \
      std::fprintf(stderr, __VA_ARGS__);                                         \
      std::fputc('\n', stderr);                                                  \
      std::abort();                                                              \
    }                                                                            \
  } while (0)
