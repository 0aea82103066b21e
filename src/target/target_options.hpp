#pragma once

#include <span>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace lp::target {

/// Command-line settings of loadpilot-target.
struct TargetOptions {
  std::string host = "127.0.0.1";  ///< address to bind: IPv4/IPv6 literal or host name
  int port = 8000;                 ///< TCP port; 0 lets the kernel pick a free one
  int threads = 512;               ///< worker threads; each open connection holds one
  bool help = false;               ///< --help was given: print usage, serve nothing
};

/// Smallest and largest --threads accepted.
inline constexpr int kMinThreads = 1;
inline constexpr int kMaxThreads = 16384;

/// Parses the arguments after argv[0]: `--port N`, `--host ADDR`, `--threads N` (also
/// as `--flag=value`) and `-h`/`--help`. Every problem is reported at once, one per
/// line of the Error's message, with ErrorCode::Invalid.
Result<TargetOptions> parse_target_options(std::span<const char* const> args);

/// The usage text, ending in a newline.
std::string_view target_usage() noexcept;

}  // namespace lp::target
