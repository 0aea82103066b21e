#pragma once
// What this binary is: the version, and the build it came from (`loadpilot version`,
// the results file and the HTML report say which LoadPilot produced them).

#include <string>

namespace lp::cli {

struct BuildInfo {
  std::string version;     ///< the project version, e.g. "0.1.0"
  std::string commit;      ///< `git describe --always --dirty` at build time; "unknown" without git
  std::string build_type;  ///< CMAKE_BUILD_TYPE, e.g. "RelWithDebInfo"
  std::string compiler;    ///< e.g. "g++ 12.2.0"
};

/// This binary's build.
const BuildInfo& build_info();

/// `loadpilot version`'s text: "loadpilot 0.1.0\n" then commit, build type and compiler
/// on a line each.
std::string version_text();

}  // namespace lp::cli
