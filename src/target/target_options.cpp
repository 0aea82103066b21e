#include "target/target_options.hpp"

#include <charconv>
#include <optional>
#include <vector>

namespace lp::target {
namespace {

constexpr std::string_view kUsage =
    "usage: loadpilot-target [--port N] [--host ADDR] [--threads N]\n"
    "\n"
    "Demo and test HTTP server for LoadPilot. Once it accepts connections it prints\n"
    "one line, \"loadpilot-target listening on http://HOST:PORT\". SIGINT or SIGTERM\n"
    "stops it.\n"
    "\n"
    "  --port N      TCP port; 0 picks a free one (default 8000)\n"
    "  --host ADDR   address to bind (default 127.0.0.1)\n"
    "  --threads N   worker threads, 1..16384; each open keep-alive connection\n"
    "                holds one (default 512)\n"
    "  -h, --help    print this help\n";

std::optional<int> parse_int(std::string_view text, int min, int max) {
  int value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end || value < min || value > max) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

Result<TargetOptions> parse_target_options(std::span<const char* const> args) {
  TargetOptions options;
  std::vector<std::string> problems;

  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "-h" || arg == "--help") {
      options.help = true;
      continue;
    }

    std::string_view flag = arg;
    std::optional<std::string_view> value;
    if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      flag = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    if (flag != "--port" && flag != "--host" && flag != "--threads") {
      problems.push_back("unknown argument '" + std::string(arg) + "'");
      continue;
    }
    if (!value) {
      if (i + 1 == args.size()) {
        problems.push_back(std::string(flag) + " needs a value");
        continue;
      }
      value = args[++i];
    }

    if (flag == "--port") {
      if (const auto port = parse_int(*value, 0, 65535)) {
        options.port = *port;
      } else {
        problems.push_back("--port must be an integer in 0..65535, got '" + std::string(*value) +
                           "'");
      }
    } else if (flag == "--threads") {
      if (const auto threads = parse_int(*value, kMinThreads, kMaxThreads)) {
        options.threads = *threads;
      } else {
        problems.push_back("--threads must be an integer in " + std::to_string(kMinThreads) +
                           ".." + std::to_string(kMaxThreads) + ", got '" +
                           std::string(*value) + "'");
      }
    } else if (value->empty()) {
      problems.push_back("--host must not be empty");
    } else {
      options.host = std::string(*value);
    }
  }

  if (problems.empty()) return options;
  std::string message;
  for (const std::string& problem : problems) {
    if (!message.empty()) message += '\n';
    message += problem;
  }
  return make_error(ErrorCode::Invalid, std::move(message), "see --help");
}

std::string_view target_usage() noexcept { return kUsage; }

}  // namespace lp::target
