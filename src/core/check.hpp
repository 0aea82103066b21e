#pragma once
// Bugs, not user errors: LP_CHECK is always on and fatal; LP_ASSERT only in debug
// builds. Put the reason beside each use.

#include <cstdio>
#include <cstdlib>

#define LP_CHECK(cond)                                                              \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "loadpilot: internal check failed: %s (%s:%d)\n", #cond, \
                   __FILE__, __LINE__);                                             \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

#ifdef NDEBUG
#define LP_ASSERT(cond) ((void)0)
#else
#define LP_ASSERT(cond) LP_CHECK(cond)
#endif
