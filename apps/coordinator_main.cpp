// loadpilot-coordinator: with no flags, reads a plan JSON on stdin, runs it on this
// machine and prints one metrics snapshot per second as ndjson on stdout, the last one
// with "phase": "done". This stream is the contract the CLI and the service build on.
//
// SIGINT / SIGTERM stop sending; requests in flight get 2 s, then count as
// `interrupted`. A second signal cuts them off at once. Either way the final snapshot is
// printed.
//
// Exit codes: 0 the run completed (or was stopped by SIGINT/SIGTERM), 2 bad JSON or an
// invalid plan (every problem on stderr), 3 the run could not start (e.g. DNS).

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>

#include "core/plan_json.hpp"
#include "engine/runner.hpp"

namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_stop_now{false};

void say(const char* text) {
  std::size_t n = 0;
  while (text[n] != '\0') ++n;
  [[maybe_unused]] auto written = ::write(STDERR_FILENO, text, n);  // async-signal-safe
}

void on_signal(int) {
  if (!g_stop.exchange(true)) {
    say("loadpilot-coordinator: stopping; requests in flight get 2 s (signal again to cut them off)\n");
  } else if (!g_stop_now.exchange(true)) {
    say("loadpilot-coordinator: cutting off the requests in flight\n");
  }
}

constexpr const char* kUsage =
    "usage: loadpilot-coordinator [--plan FILE]\n"
    "  Reads a plan JSON on stdin (or from FILE), runs it locally and prints metric\n"
    "  snapshots as ndjson on stdout. See docs/architecture.md for the plan fields.\n";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "loadpilot-coordinator: %s\n%s", message.c_str(), kUsage);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string plan_path;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--version") {
      std::puts("loadpilot-coordinator " LOADPILOT_VERSION);
      return 0;
    } else if (arg == "--plan" && i + 1 < argc) {
      plan_path = argv[++i];
    } else {
      return usage_error("unknown argument '" + arg + "'");
    }
  }

  std::string text;
  if (plan_path.empty()) {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(plan_path);
    if (!in) return usage_error("cannot read plan file '" + plan_path + "': " + std::strerror(errno));
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  auto plan = lp::core::parse_plan_json(text);
  if (!plan) {
    std::fprintf(stderr, "loadpilot-coordinator: invalid plan:\n");
    std::istringstream lines(plan.error().message);
    for (std::string line; std::getline(lines, line);) std::fprintf(stderr, "  - %s\n", line.c_str());
    if (!plan.error().hint.empty()) std::fprintf(stderr, "hint: %s\n", plan.error().hint.c_str());
    return 2;
  }

  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  lp::engine::RunOptions options;
  options.stop = &g_stop;
  options.stop_now = &g_stop_now;
  options.on_snapshot = [](const lp::metrics::Snapshot& s) {
    std::string line = s.to_json();
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
  };
  auto result = lp::engine::run_plan(*plan, options);
  if (!result) {
    std::fprintf(stderr, "loadpilot-coordinator: cannot start the run: %s\n", result.error().message.c_str());
    if (!result.error().hint.empty()) std::fprintf(stderr, "hint: %s\n", result.error().hint.c_str());
    return 3;
  }
  return 0;
}
