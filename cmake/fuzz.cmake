# libFuzzer build (docs/testing.md; `make fuzz` and `make test` do all this): clang, in a
# build directory of its own, with only the fuzz targets of tests/fuzz/ and the
# libraries they need,
#
#   cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DLOADPILOT_FUZZ=ON \
#         -DLOADPILOT_WITH_PYTHON=OFF
#   cmake --build build-fuzz --target fuzz_targets
#
# Everything is compiled with coverage feedback for libFuzzer plus ASan and UBSan (set
# up by cmake/sanitize.cmake); each fuzz target links libFuzzer's main.

option(LOADPILOT_FUZZ "Build the libFuzzer targets of tests/fuzz/ (clang only)" OFF)

if(NOT LOADPILOT_FUZZ)
  return()
endif()

if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "LOADPILOT_FUZZ needs clang (libFuzzer), got ${CMAKE_CXX_COMPILER_ID}: "
                      "configure a fresh build directory with -DCMAKE_CXX_COMPILER=clang++")
endif()
if(LOADPILOT_SANITIZE AND NOT LOADPILOT_SANITIZE STREQUAL "address,undefined")
  message(FATAL_ERROR "LOADPILOT_FUZZ runs with address,undefined; "
                      "drop -DLOADPILOT_SANITIZE=${LOADPILOT_SANITIZE} from this build directory")
endif()

set(LOADPILOT_SANITIZE "address,undefined")
add_compile_options(-fsanitize=fuzzer-no-link)
