# Sanitizer builds (docs/testing.md; `make test-sanitize` does all this): a build
# directory of its own for each,
#
#   cmake -S . -B build-asan -G Ninja -DLOADPILOT_SANITIZE=address,undefined
#   cmake -S . -B build-tsan -G Ninja -DLOADPILOT_SANITIZE=thread -DLOADPILOT_WITH_PYTHON=OFF
#
# The fuzz build (cmake/fuzz.cmake) comes through here too, with address,undefined.

# Every target is instrumented (but the few named below), and every executable gets
# tests/sanitize/default_options.cpp, which compiles the runtime options in (halt on the
# first error, full stacks, the suppression files), so a binary reports the same way
# whether ctest, pytest or a person starts it. ASAN_OPTIONS / UBSAN_OPTIONS / TSAN_OPTIONS in the environment still override
# single options (make test-sanitize adds log_path that way).

set(LOADPILOT_SANITIZE "" CACHE STRING
    "Sanitizers for every target: empty (none), address,undefined, or thread")
set_property(CACHE LOADPILOT_SANITIZE PROPERTY STRINGS "" "address,undefined" "thread")

if(NOT LOADPILOT_SANITIZE)
  return()
endif()

if(LOADPILOT_SANITIZE STREQUAL "address,undefined")
  # float-cast-overflow is real undefined behaviour that g++ leaves out of "undefined".
  set(_lp_sanitizers address,undefined,float-cast-overflow)
elseif(LOADPILOT_SANITIZE STREQUAL "thread")
  set(_lp_sanitizers thread)
else()
  message(FATAL_ERROR "LOADPILOT_SANITIZE='${LOADPILOT_SANITIZE}' is not supported: "
                      "use address,undefined or thread (or leave it empty)")
endif()

# -O1 keeps the build and the tests quick while stacks stay readable; asserts stay on
# (no NDEBUG) and libstdc++ checks operator[] and friends, which ASan alone misses
# inside a container's capacity.
set(CMAKE_CXX_FLAGS_RELWITHDEBINFO "-O1 -g -D_GLIBCXX_ASSERTIONS")
set(_lp_compile_flags -fsanitize=${_lp_sanitizers} -fno-sanitize-recover=all -fno-omit-frame-pointer)
add_compile_options(${_lp_compile_flags})
add_link_options(-fsanitize=${_lp_sanitizers})

# Targets left uninstrumented. TSan: the demo/test target server runs on cpp-httplib,
# a shared library Debian builds without TSan, whose synchronisation TSan cannot see
# (it reports races inside httplib's thread pool); the TSan run checks the engine, and
# build-asan still checks the target server.
set(_lp_uninstrumented "")
if(LOADPILOT_SANITIZE STREQUAL "thread")
  set(_lp_uninstrumented loadpilot-target lp_target)
endif()

# Runtime options, compiled into each executable (tests/sanitize/default_options.cpp).
set(_lp_supp ${CMAKE_SOURCE_DIR}/tests/sanitize)
add_library(lp_sanitizer_defaults OBJECT ${_lp_supp}/default_options.cpp)
target_compile_definitions(lp_sanitizer_defaults PRIVATE LP_SUPPRESSIONS_DIR="${_lp_supp}")

# Links the options into every instrumented executable, and strips the flags from the
# uninstrumented targets, once all targets exist (at the end of the top directory, after
# tests/ and cmake/python.cmake have defined theirs).
function(_lp_link_sanitizer_defaults)
  set(_dirs ${CMAKE_SOURCE_DIR})
  while(_dirs)
    list(POP_FRONT _dirs _dir)
    get_property(_subdirs DIRECTORY ${_dir} PROPERTY SUBDIRECTORIES)
    list(APPEND _dirs ${_subdirs})
    get_property(_targets DIRECTORY ${_dir} PROPERTY BUILDSYSTEM_TARGETS)
    foreach(_t ${_targets})
      get_target_property(_type ${_t} TYPE)
      if(_t IN_LIST _lp_uninstrumented)
        get_target_property(_compile ${_t} COMPILE_OPTIONS)
        get_target_property(_link ${_t} LINK_OPTIONS)
        list(REMOVE_ITEM _compile ${_lp_compile_flags})
        list(REMOVE_ITEM _link -fsanitize=${_lp_sanitizers})
        set_target_properties(${_t} PROPERTIES COMPILE_OPTIONS "${_compile}" LINK_OPTIONS "${_link}")
      elseif(_type STREQUAL "EXECUTABLE")
        target_link_libraries(${_t} PRIVATE lp_sanitizer_defaults)
      endif()
    endforeach()
  endwhile()
endfunction()
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL _lp_link_sanitizer_defaults)
