// loadpilot-coordinator: reads a plan JSON on stdin (or --plan FILE) and prints one
// metrics snapshot per second as ndjson on stdout, the last one with "phase": "done".
// This stream is the contract the CLI and the service build on.
//
//   loadpilot-coordinator < plan.json                        the engine, on this machine
//   loadpilot-coordinator --agents 4 < plan.json             4 local agents, embedded broker on loopback
//   loadpilot-coordinator --external-agents 2 < plan.json    embedded broker on 0.0.0.0:4222, agents elsewhere
//   loadpilot-coordinator --external-agents 2 --nats-url nats://nats:4222 < plan.json
//   loadpilot-coordinator --serve --nats-url nats://nats:4222 --serve-agents 4
//                                                            the service: POST /run on :8080, Prometheus on :9090
//
// SIGINT / SIGTERM stop sending; requests in flight get 2 s, then count as
// `interrupted`. A second signal cuts them off at once. Either way the final snapshot is
// printed (and local agents are stopped: SIGTERM, then SIGKILL after 5 s).
//
// Exit codes: 0 the run completed (or was stopped by SIGINT/SIGTERM; with --serve: the
// service stopped by SIGINT/SIGTERM), 2 bad flags, bad JSON or an invalid plan (every
// problem on stderr), 3 the run (or the service) could not start (a host did not
// resolve; the agents did not come; the NATS server refused the token; a port in use).

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <random>
#include <sstream>
#include <string>

#include "cluster/coordinator.hpp"
#include "cluster/local_agents.hpp"
#include "cluster/nats_client.hpp"
#include "core/duration.hpp"
#include "core/plan_json.hpp"
#include "engine/runner.hpp"
#include "service/coordinator_service.hpp"

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

void install_signal_handlers() {
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

constexpr const char* kUsage =
    "usage: loadpilot-coordinator [--plan FILE] [--agents N | --external-agents N]\n"
    "                             [--nats-url URL] [--nats-token T] [--broker-addr ADDR:PORT]\n"
    "                             [--wait-for-agents DURATION]\n"
    "       loadpilot-coordinator --serve [--listen ADDR:PORT] [--metrics-listen ADDR:PORT]\n"
    "                             [--nats-url URL | --broker-addr ADDR:PORT] [--nats-token T]\n"
    "                             [--serve-agents N] [--wait-for-agents DURATION]\n"
    "  Reads a plan JSON on stdin (or from FILE), runs it and prints metric snapshots as\n"
    "  ndjson on stdout. See docs/architecture.md for the plan fields.\n"
    "  --agents N            run on N loadpilot-agent processes started on this machine\n"
    "                        (embedded NATS broker on 127.0.0.1, a random token)\n"
    "  --external-agents N   wait for N agents started elsewhere with\n"
    "                        loadpilot-agent --coordinator <this-host>:4222 --agent-id ID\n"
    "  --broker-addr A:P     where the embedded broker listens (default 0.0.0.0:4222 with\n"
    "                        --external-agents, 127.0.0.1:0 with --agents)\n"
    "  --nats-url URL        use this NATS server instead of the embedded broker\n"
    "  --nats-token T        NATS auth token (env NATS_TOKEN)\n"
    "  --wait-for-agents D   how long to wait for the agents (default 30s for --agents,\n"
    "                        5m for --external-agents, 30s per plan with --serve)\n"
    "  --serve               run as a service (the Kubernetes pod): POST /run takes a plan\n"
    "                        and streams ndjson back, POST /stop, GET /healthz, GET /readyz;\n"
    "                        it uses the agents connected to NATS (docs/distributed.md)\n"
    "  --listen A:P          where the API listens (default 0.0.0.0:8080)\n"
    "  --metrics-listen A:P  where Prometheus metrics are served (default 0.0.0.0:9090)\n"
    "  --serve-agents N      agents a run needs; /readyz waits for them (default: every\n"
    "                        agent connected when a plan comes, at least one)\n"
    "  env LOADPILOT_API_TOKEN  with --serve: POST /run and /stop need\n"
    "                        'Authorization: Bearer <token>' (without it the API is open)\n";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "loadpilot-coordinator: %s\n%s", message.c_str(), kUsage);
  return 2;
}

void print_error(const char* what, const lp::Error& e) {
  std::fprintf(stderr, "loadpilot-coordinator: %s%s\n", what, e.message.c_str());
  if (!e.hint.empty()) std::fprintf(stderr, "hint: %s\n", e.hint.c_str());
}

void print_snapshot(const lp::metrics::Snapshot& s) {
  std::string line = s.to_json();
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

std::string random_token() {
  std::random_device rd;
  char buf[33];
  std::snprintf(buf, sizeof buf, "%08x%08x%08x%08x", rd(), rd(), rd(), rd());
  return buf;
}

std::optional<std::uint32_t> count_of(const std::string& text) {
  if (text.empty() || text.size() > 6 || text.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  const unsigned long n = std::stoul(text);
  if (n == 0) return std::nullopt;
  return static_cast<std::uint32_t>(n);
}

struct Flags {
  std::string plan_path;
  std::uint32_t agents = 0, external = 0;
  std::string nats_url, token, broker_addr;
  std::optional<double> wait_secs;
  bool serve = false;
  std::string listen, metrics_listen;
  std::optional<std::uint32_t> serve_agents;
};

struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};

/// ADDR:PORT, [IPv6]:PORT; nullopt when it is not one.
std::optional<HostPort> parse_host_port(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  const std::string port = text.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) > 65535) {
    return std::nullopt;
  }
  HostPort out{text.substr(0, colon), static_cast<std::uint16_t>(std::stoul(port))};
  if (out.host.front() == '[') {
    if (out.host.size() < 3 || out.host.back() != ']') return std::nullopt;
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  return out;
}

int run_serve(const Flags& f) {
  lp::service::ServiceOptions o;
  if (!f.listen.empty()) {
    const auto hp = *parse_host_port(f.listen);
    o.listen_host = hp.host;
    o.listen_port = hp.port;
  }
  if (!f.metrics_listen.empty()) {
    const auto hp = *parse_host_port(f.metrics_listen);
    o.metrics_host = hp.host;
    o.metrics_port = hp.port;
  }
  o.agents = f.serve_agents.value_or(0);
  o.wait_for_agents = std::chrono::milliseconds(static_cast<std::int64_t>(f.wait_secs.value_or(30.0) * 1000));
  if (const char* t = std::getenv("LOADPILOT_API_TOKEN")) o.api_token = t;
  o.coordinator.token = f.token;
  if (!f.nats_url.empty()) {
    o.coordinator.nats_urls = {f.nats_url};
  } else {
    const auto hp = *parse_host_port(f.broker_addr.empty() ? "0.0.0.0:4222" : f.broker_addr);
    o.coordinator.broker_addr = hp.host;
    o.coordinator.broker_port = hp.port;
  }
  auto service = lp::service::CoordinatorService::start(std::move(o));
  if (!service) {
    print_error("", service.error());
    return 3;
  }
  // The service runs on its own threads; this one only waits for SIGINT / SIGTERM.
  while (!g_stop.load()) ::usleep(100'000);
  (*service)->shutdown(&g_stop_now);
  return 0;
}

int run_local(const lp::core::Plan& plan) {
  lp::engine::RunOptions options;
  options.stop = &g_stop;
  options.stop_now = &g_stop_now;
  options.on_snapshot = print_snapshot;
  auto result = lp::engine::run_plan(plan, options);
  if (!result) {
    print_error("cannot start the run: ", result.error());
    return 3;
  }
  return 0;
}

int run_distributed(const lp::core::Plan& plan, const Flags& f) {
  lp::cluster::CoordinatorOptions o;
  const bool local = f.agents > 0;
  o.agents = local ? f.agents : f.external;
  o.token = f.token;
  if (!f.nats_url.empty()) {
    o.nats_urls = {f.nats_url};
  } else {
    std::string addr = f.broker_addr.empty() ? (local ? "127.0.0.1:0" : "0.0.0.0:4222") : f.broker_addr;
    const auto colon = addr.rfind(':');
    o.broker_addr = addr.substr(0, colon);
    if (!o.broker_addr.empty() && o.broker_addr.front() == '[') o.broker_addr = o.broker_addr.substr(1, o.broker_addr.size() - 2);
    o.broker_port = static_cast<std::uint16_t>(std::stoul(addr.substr(colon + 1)));
    if (local && o.token.empty()) o.token = random_token();  // only our own agents can join
  }
  const double wait = f.wait_secs.value_or(local ? 30.0 : 300.0);
  o.wait_for_agents = std::chrono::milliseconds(static_cast<std::int64_t>(wait * 1000));
  o.stop = &g_stop;
  o.stop_now = &g_stop_now;
  o.on_snapshot = print_snapshot;

  lp::cluster::LocalAgents agents;  // stopped on every way out of this function
  if (local) {
    for (std::uint32_t i = 0; i < f.agents; ++i) o.expected_ids.push_back("agent-" + std::to_string(i));
    o.agents_failed = [&agents]() -> std::optional<std::string> {
      auto gone = agents.exited();
      if (gone.empty()) return std::nullopt;
      return gone.front().first + " exited (status " + std::to_string(gone.front().second) +
             ") before it registered; its messages are above";
    };
  }
  lp::cluster::Coordinator coordinator(o);
  // Declared after the coordinator, so the agents stop before its broker does.
  struct StopAgents {
    lp::cluster::LocalAgents& agents;
    ~StopAgents() { agents.stop(); }
  } stop_agents{agents};
  if (auto s = coordinator.connect(); !s) {
    print_error("", s.error());
    return 3;
  }
  if (local) {
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    lp::cluster::LocalAgentsOptions lo;
    lo.bin_dir = ec ? std::filesystem::path(".") : self.parent_path();
    lo.count = f.agents;
    lo.coordinator_url = coordinator.agent_url();
    lo.token = o.token;
    auto spawned = lp::cluster::LocalAgents::spawn(lo);
    if (!spawned) {
      print_error("", spawned.error());
      return 3;
    }
    agents = std::move(*spawned);
  }
  auto result = coordinator.run(plan);
  if (!result) {
    print_error("cannot run on the agents: ", result.error());
    return 3;
  }
  for (const auto& a : result->agents) {
    char skew[32] = "-";
    if (a.start_skew_ms) std::snprintf(skew, sizeof skew, "%.3f ms", *a.start_skew_ms);
    std::fprintf(stderr, "  %-20s %-10s %10llu requests  start skew %s\n", a.id.c_str(), a.state.c_str(),
                 static_cast<unsigned long long>(a.requests), skew);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  if (const char* t = std::getenv("NATS_TOKEN")) f.token = t;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--version") {
      std::puts("loadpilot-coordinator " LOADPILOT_VERSION);
      return 0;
    } else if (arg == "--serve") {
      f.serve = true;
    } else if (arg == "--plan" || arg == "--agents" || arg == "--external-agents" || arg == "--nats-url" ||
               arg == "--nats-token" || arg == "--broker-addr" || arg == "--wait-for-agents" || arg == "--listen" ||
               arg == "--metrics-listen" || arg == "--serve-agents") {
      auto v = value();
      if (!v) return usage_error(arg + " needs a value");
      if (arg == "--plan") f.plan_path = *v;
      if (arg == "--listen" || arg == "--metrics-listen") {
        if (!parse_host_port(*v)) return usage_error(arg + " must be ADDR:PORT (e.g. 0.0.0.0:8080), got '" + *v + "'");
        (arg == "--listen" ? f.listen : f.metrics_listen) = *v;
      }
      if (arg == "--serve-agents") {
        auto n = *v == "0" ? std::optional<std::uint32_t>(0) : count_of(*v);
        if (!n) return usage_error("--serve-agents must be a whole number of agents (0: any connected), got '" + *v + "'");
        f.serve_agents = *n;
      }
      if (arg == "--nats-url") f.nats_url = *v;
      if (arg == "--nats-token") f.token = *v;
      if (arg == "--broker-addr") f.broker_addr = *v;
      if (arg == "--agents" || arg == "--external-agents") {
        auto n = count_of(*v);
        if (!n) return usage_error(arg + " must be a whole number of agents >= 1, got '" + *v + "'");
        (arg == "--agents" ? f.agents : f.external) = *n;
      }
      if (arg == "--wait-for-agents") {
        auto d = lp::core::parse_duration(*v);
        if (!d || *d <= 0) return usage_error("--wait-for-agents must be a duration such as 30s or 5m, got '" + *v + "'");
        f.wait_secs = *d;
      }
    } else {
      return usage_error("unknown argument '" + arg + "'");
    }
  }
  if (f.serve) {
    if (f.agents > 0 || f.external > 0 || !f.plan_path.empty()) {
      return usage_error(std::string(!f.plan_path.empty() ? "--plan" : f.agents > 0 ? "--agents" : "--external-agents") +
                         " cannot be combined with --serve: the service takes plans by POST /run and uses the agents "
                         "connected to NATS (--serve-agents N)");
    }
  } else if (!f.listen.empty() || !f.metrics_listen.empty() || f.serve_agents) {
    return usage_error(std::string(!f.listen.empty() ? "--listen" : !f.metrics_listen.empty() ? "--metrics-listen"
                                                                                               : "--serve-agents") +
                       " needs --serve");
  }
  if (f.agents > 0 && f.external > 0) return usage_error("--agents and --external-agents cannot be combined: pick one");
  const bool distributed = f.agents > 0 || f.external > 0;
  if (!distributed && !f.serve && (!f.nats_url.empty() || !f.broker_addr.empty())) {
    return usage_error(std::string(f.nats_url.empty() ? "--broker-addr" : "--nats-url") +
                       " needs --agents N or --external-agents N");
  }
  if (!f.nats_url.empty() && !f.broker_addr.empty()) {
    return usage_error("--broker-addr is for the embedded broker; with --nats-url there is none");
  }
  if (!f.broker_addr.empty() && !parse_host_port(f.broker_addr)) {
    return usage_error("--broker-addr must be ADDR:PORT (e.g. 0.0.0.0:4222), got '" + f.broker_addr + "'");
  }
  if (!f.nats_url.empty()) {
    if (auto urls = lp::cluster::normalize_nats_urls({f.nats_url}); !urls) return usage_error(urls.error().message);
  }
  if (f.serve) {
    install_signal_handlers();
    return run_serve(f);
  }

  std::string text;
  if (f.plan_path.empty()) {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(f.plan_path);
    if (!in) return usage_error("cannot read plan file '" + f.plan_path + "': " + std::strerror(errno));
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

  install_signal_handlers();

  return distributed ? run_distributed(*plan, f) : run_local(*plan);
}
