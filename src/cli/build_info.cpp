#include "cli/build_info.hpp"

#include "cli/build_info_generated.hpp"

#ifndef LOADPILOT_BUILD_TYPE
#define LOADPILOT_BUILD_TYPE "unknown"
#endif

namespace lp::cli {
namespace {

std::string compiler_name() {
#if defined(__clang__)
  return std::string("clang++ ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("g++ ") + __VERSION__;
#else
  return "unknown";
#endif
}

}  // namespace

const BuildInfo& build_info() {
  static const BuildInfo info{LOADPILOT_VERSION, LOADPILOT_GIT_COMMIT,
                              LOADPILOT_BUILD_TYPE[0] != '\0' ? LOADPILOT_BUILD_TYPE : "unknown",
                              compiler_name()};
  return info;
}

std::string version_text() {
  const BuildInfo& b = build_info();
  return "loadpilot " + b.version + "\n" +
         "  commit    " + b.commit + "\n" +
         "  build     " + b.build_type + "\n" +
         "  compiler  " + b.compiler + "\n";
}

}  // namespace lp::cli
