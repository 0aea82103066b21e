// loadpilot-agent: one load generator of a distributed run. Connects to the
// coordinator's NATS (the broker `loadpilot run --external-agents` starts, or any
// nats-server), waits for a plan, fires its share with the C++ engine, reports, and
// waits for the next plan. No Python: it never links libpython.
//
//   loadpilot-agent --coordinator 10.0.0.5:4222 --agent-id agent-0
//   COORDINATOR=nats.example.com:4222 AGENT_ID=agent-0 loadpilot-agent
//
// Exit codes: 0 stopped by SIGINT / SIGTERM, 2 usage (bad flag, URL or id),
// 3 the NATS server refused the connection (e.g. the token).

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cluster/agent.hpp"
#include "cluster/messages.hpp"
#include "cluster/nats_client.hpp"

namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop.store(true); }

constexpr const char* kUsage =
    "usage: loadpilot-agent --coordinator HOST:PORT [--agent-id ID] [--nats-token T]\n"
    "  --coordinator HOST:PORT  the coordinator's NATS (env COORDINATOR); nats://host:port and\n"
    "                           tls://host:port are accepted too\n"
    "  --agent-id ID            this agent's name (env AGENT_ID; default <hostname>-<pid>):\n"
    "                           letters, digits, '-' and '_'\n"
    "  --nats-token T           NATS auth token (env NATS_TOKEN)\n"
    "  --clock-offset-ms N      test hook: shift this agent's view of the wall clock by N ms\n"
    "                           (env LOADPILOT_CLOCK_OFFSET_MS)\n"
    "  --version, --help\n";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "loadpilot-agent: %s\n%s", message.c_str(), kUsage);
  return 2;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

}  // namespace

int main(int argc, char** argv) {
  lp::cluster::AgentOptions options;
  std::string coordinator = env("COORDINATOR");
  options.agent_id = env("AGENT_ID");
  options.token = env("NATS_TOKEN");
  std::string offset = env("LOADPILOT_CLOCK_OFFSET_MS");
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--version") {
      std::puts("loadpilot-agent " LOADPILOT_VERSION);
      return 0;
    } else if (arg == "--coordinator" || arg == "--agent-id" || arg == "--nats-token" || arg == "--clock-offset-ms") {
      const char* v = value();
      if (v == nullptr) return usage_error(arg + " needs a value");
      if (arg == "--coordinator") coordinator = v;
      if (arg == "--agent-id") options.agent_id = v;
      if (arg == "--nats-token") options.token = v;
      if (arg == "--clock-offset-ms") offset = v;
    } else {
      return usage_error("unknown argument '" + arg + "'");
    }
  }
  if (coordinator.empty()) return usage_error("no coordinator: pass --coordinator HOST:PORT (or set COORDINATOR)");
  if (auto urls = lp::cluster::normalize_nats_urls({coordinator}); !urls) {
    return usage_error(urls.error().message + (urls.error().hint.empty() ? "" : " (" + urls.error().hint + ")"));
  }
  if (!options.agent_id.empty()) {
    if (auto valid = lp::cluster::validate_agent_id(options.agent_id); !valid) {
      return usage_error(valid.error().message + " (" + valid.error().hint + ")");
    }
  }
  if (!offset.empty()) {
    char* end = nullptr;
    options.clock_offset_ms = std::strtod(offset.c_str(), &end);
    if (end == offset.c_str() || *end != '\0') return usage_error("--clock-offset-ms must be a number of ms, got '" + offset + "'");
  }
  options.coordinator = {coordinator};

  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  auto status = lp::cluster::run_agent(options, g_stop);
  if (!status) {
    std::fprintf(stderr, "loadpilot-agent: %s\n", status.error().message.c_str());
    if (!status.error().hint.empty()) std::fprintf(stderr, "hint: %s\n", status.error().hint.c_str());
    return 3;
  }
  return 0;
}
