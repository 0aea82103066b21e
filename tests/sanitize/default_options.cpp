// Runtime options of the sanitizer builds (cmake/sanitize.cmake links this file into
// every executable there, and only there). Compiled in rather than set in the
// environment so that a binary reports the same way whoever starts it: ctest, a pytest
// fixture, or a person rerunning a failure. ASAN_OPTIONS, UBSAN_OPTIONS, LSAN_OPTIONS and
// TSAN_OPTIONS in the environment are read after these and override single options.
//
// exitcode=66: a sanitizer report must never pass for one of LoadPilot's own exit codes
// (0 passed, 1 threshold breached, 2 usage, 3 could not start).

// Suppressions live in tests/sanitize/*.supp, each line with its reason; there are only
// as many files as there are findings that are not ours to fix.
#ifndef LP_SUPPRESSIONS_DIR
#error "cmake/sanitize.cmake defines LP_SUPPRESSIONS_DIR (tests/sanitize)"
#endif

#define LP_DEFAULT_OPTIONS extern "C" __attribute__((visibility("default"), used)) const char*

LP_DEFAULT_OPTIONS __asan_default_options() {
  return "halt_on_error=1:exitcode=66:check_initialization_order=1:strict_init_order=1"
         ":detect_stack_use_after_return=1:strict_string_checks=1:detect_leaks=1";
}

LP_DEFAULT_OPTIONS __lsan_default_options() {
  return "suppressions=" LP_SUPPRESSIONS_DIR "/lsan.supp:print_suppressions=0";
}

LP_DEFAULT_OPTIONS __ubsan_default_options() {
  return "halt_on_error=1:exitcode=66:print_stacktrace=1";
}

LP_DEFAULT_OPTIONS __tsan_default_options() {
  return "halt_on_error=1:exitcode=66:second_deadlock_stack=1";
}
