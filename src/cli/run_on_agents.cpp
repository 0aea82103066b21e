#include "cli/run_on_agents.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string_view>
#include <tuple>

#include "cli/run_display.hpp"
#include "cli/stop_signals.hpp"
#include "cli/terminal.hpp"
#include "cluster/coordinator.hpp"
#include "cluster/local_agents.hpp"
#include "cluster/nats_client.hpp"
#include "core/duration.hpp"
#include "core/plan_json.hpp"
#include "core/validate.hpp"
#include "python/preauth_pool.hpp"
#include "python/vuser_pool.hpp"

namespace lp::cli {

namespace {

/// ADDR:PORT ("0.0.0.0:4222", "[::1]:4222") for the embedded broker.
std::optional<std::pair<std::string, std::uint16_t>> parse_host_port(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  const std::string port = text.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  const unsigned long n = std::stoul(port);
  if (n > 65535) return std::nullopt;
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return std::make_pair(host, static_cast<std::uint16_t>(n));
}

std::string random_token() {
  std::random_device rd;
  char buf[33];
  std::snprintf(buf, sizeof buf, "%08x%08x%08x%08x", rd(), rd(), rd(), rd());
  return buf;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

/// What runs where, said once before anything is sent.
void print_distributed_notes(const python::ScenarioInfo& scenario, const core::Plan& plan, std::uint32_t pool) {
  std::vector<std::string> checks;
  for (const auto& t : scenario.checked_tasks) checks.push_back("check_" + t);
  if (!checks.empty()) {
    std::fprintf(stderr,
                 "note: checks are not run on agents (they have no Python): %s; there a task's errors are "
                 "status-based only (a status >= 400 or no response)\n",
                 join(checks).c_str());
  }
  if (pool > 0) {
    std::fprintf(stderr,
                 "note: pre-auth pool: on_start runs here for %u virtual user%s (%s) against %s; the agents replay "
                 "the calls captured for each user, every agent its own slice of the pool\n",
                 pool, pool == 1 ? "" : "s", plan.vusers ? "vusers" : "the default for the rate; set --vusers N for another",
                 plan.target_url.c_str());
  } else if (plan.vusers != 0) {
    std::fprintf(stderr, "note: vusers (%u) has no effect: %s has no on_start or on_stop, so agents replay its plan\n",
                 plan.vusers, plan.name.c_str());
  }
}

}  // namespace

std::uint32_t preauth_pool_size(const python::ScenarioInfo& scenario, const core::Plan& plan) {
  if (!scenario.has_on_start && !scenario.has_on_stop) return 0;
  return plan.vusers ? plan.vusers : python::VUserPool::default_size(plan.rps);
}

void print_distributed_notes(const python::ScenarioInfo& scenario, const core::Plan& plan) {
  print_distributed_notes(scenario, plan, preauth_pool_size(scenario, plan));
}

std::optional<ExitCode> fill_preauth_pool(const python::ScenarioInfo& scenario, core::Plan& plan,
                                          std::uint32_t users, python::PreAuthPool& pool) {
  if (users == 0) return std::nullopt;
  auto started = python::PreAuthPool::start(scenario, plan, {users, &stop_requested(), &stop_now_requested()});
  if (!started) {
    print_error(started.error());  // the first on_start's traceback: never run unauthenticated
    return ExitCode::Usage;
  }
  pool = std::move(*started);
  if (pool.stopped_early()) {
    pool.stop();
    std::fprintf(stderr, "stopped during on_start of the pre-auth pool: no agent was given the plan, no iteration was sent\n");
    return ExitCode::CannotStart;  // nothing ran: never a pass
  }
  auto captured = pool.capture();
  if (!captured) {
    print_error(captured.error());
    return ExitCode::Usage;
  }
  std::vector<std::string> problems = std::move(captured->problems);
  if (captured->users.empty()) problems.push_back("every virtual user's on_start failed: there is no user to run");
  plan.vuser_configs = std::move(captured->users);
  for (auto& p : core::validate(plan)) problems.push_back(std::move(p));
  if (!problems.empty()) {
    print_problems("scenario " + scenario.name + " cannot run on agents:", problems);
    return ExitCode::Usage;  // the pool's on_stop runs on the way out
  }
  if (captured->failed > 0) {
    std::fprintf(stderr, "note: %u of %u virtual users failed on_start (the first traceback is above) and are left out: agents rotate through the other %zu\n",
                 captured->failed, pool.size(), plan.vuser_configs.size());
  }
  return std::nullopt;
}

std::optional<Distribution> parse_distribution(const RunArgs& args, std::vector<std::string>& problems) {
  const std::size_t before = problems.size();
  const bool local = !args.agents.empty(), external = !args.external_agents.empty();
  if (!local && !external) {
    for (const auto& [flag, value] : {std::pair{"--broker-addr", &args.broker_addr}, std::pair{"--nats-url", &args.nats_url},
                                      std::pair{"--wait-for-agents", &args.wait_for_agents}}) {
      if (!value->empty()) problems.push_back(std::string(flag) + " needs --agents N or --external-agents N");
    }
    return std::nullopt;
  }
  Distribution d;
  d.local = local;
  if (local && external) problems.push_back("--agents and --external-agents cannot be combined: pick one");
  // A bound, so that a slip of the keyboard is not a million processes; the coordinator
  // is measured at 1,000 and 3,000 agents (docs/benchmark.md).
  constexpr std::uint32_t kMaxAgents = 10'000;
  if (auto n = parse_count(local ? "--agents" : "--external-agents", local ? args.agents : args.external_agents,
                           kMaxAgents, problems)) {
    d.agents = *n;
  }
  d.token = args.nats_token;
  if (!args.nats_url.empty()) {
    if (!args.broker_addr.empty()) problems.push_back("--broker-addr is for the embedded broker; with --nats-url there is none");
    if (auto urls = cluster::normalize_nats_urls({args.nats_url}); !urls) {
      problems.push_back("--nats-url: " + urls.error().message);
    } else {
      d.nats_urls = {args.nats_url};
    }
  } else {
    const std::string addr = !args.broker_addr.empty() ? args.broker_addr : local ? "127.0.0.1:0" : "0.0.0.0:4222";
    if (auto hp = parse_host_port(addr)) {
      std::tie(d.broker_host, d.broker_port) = *hp;
    } else {
      problems.push_back("--broker-addr must be ADDR:PORT (e.g. 0.0.0.0:4222), got '" + args.broker_addr + "'");
    }
  }
  d.wait_secs = local ? 30 : 300;
  if (!args.wait_for_agents.empty()) {
    auto secs = core::parse_duration(args.wait_for_agents);
    if (!secs || !(*secs > 0)) {
      problems.push_back("--wait-for-agents must be a duration such as 30s or 5m, got '" + args.wait_for_agents + "'");
    } else {
      d.wait_secs = *secs;
    }
  }
  if (problems.size() != before) return std::nullopt;
  return d;
}

ExitCode run_on_agents(const python::ScenarioInfo& scenario, core::Plan plan, const Distribution& d,
                       const RunArgs& args) {
  StopSignals signals;
  const std::uint32_t pool_users = preauth_pool_size(scenario, plan);
  print_distributed_notes(scenario, plan, pool_users);

  // Declared in this order so that they stop in the reverse: the local agents first,
  // then the coordinator and its broker, then the pool (on_stop), then the display.
  std::unique_ptr<RunDisplay> display;
  python::PreAuthPool pool;
  std::unique_ptr<cluster::Coordinator> coordinator;
  cluster::LocalAgents agents;

  cluster::CoordinatorOptions o;
  o.agents = d.agents;
  o.nats_urls = d.nats_urls;
  o.broker_addr = d.broker_host;
  o.broker_port = d.broker_port;
  o.token = d.token;
  if (d.local && d.nats_urls.empty() && o.token.empty()) o.token = random_token();  // only our own agents can join
  o.wait_for_agents = std::chrono::milliseconds(static_cast<std::int64_t>(d.wait_secs * 1000));
  o.stop = &stop_requested();
  o.stop_now = &stop_now_requested();
  if (d.local) {
    for (std::uint32_t i = 0; i < d.agents; ++i) o.expected_ids.push_back("agent-" + std::to_string(i));
    o.agents_failed = [&agents]() -> std::optional<std::string> {
      auto gone = agents.exited();
      if (gone.empty()) return std::nullopt;
      return gone.front().first + " exited (status " + std::to_string(gone.front().second) +
             ") before it registered; its messages are above";
    };
  }
  if (!args.dry_run) {
    auto started = RunDisplay::start(plan, display_options(args, "static"));
    if (!started) {
      print_error(started.error());  // before any traffic
      return ExitCode::Usage;
    }
    display = std::move(*started);
    o.on_snapshot = [&display](const metrics::Snapshot& s) { display->show(s); };
    o.on_stats = [&display](const metrics::Snapshot& s, const metrics::RunStats& st) { display->keep(s, st); };
    o.on_status = [&display](std::string_view line) { display->say("loadpilot: " + std::string(line)); };
    // The broker and NATS before any traffic: a taken port or a refused token must not
    // cost the target an on_start round.
    coordinator = std::make_unique<cluster::Coordinator>(o);
    if (auto s = coordinator->connect(); !s) {
      print_error(s.error());
      return ExitCode::CannotStart;
    }
  }

  if (auto out = fill_preauth_pool(scenario, plan, pool_users, pool)) return *out;
  if (args.dry_run) {
    std::printf("%s\n", core::plan_to_json(plan, /*pretty=*/true).c_str());
    std::fflush(stdout);
    pool.stop();  // the seed: on_stop after --dry-run too, so nothing leaks
    return ExitCode::Ok;
  }

  if (d.local) {
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    cluster::LocalAgentsOptions lo;
    lo.bin_dir = ec ? std::filesystem::path(".") : self.parent_path();
    lo.count = d.agents;
    lo.coordinator_url = coordinator->agent_url();
    lo.token = o.token;
    if (stdout_is_terminal()) {
      // Their lines would tear the dashboard's in-place redraw apart.
      lo.log_file = std::filesystem::temp_directory_path() / ("loadpilot-agents-" + std::to_string(::getpid()) + ".log");
      std::fprintf(stderr, "note: the local agents log to %s\n", lo.log_file.c_str());
    }
    auto spawned = cluster::LocalAgents::spawn(lo);
    if (!spawned) {
      print_error(spawned.error());
      return ExitCode::CannotStart;
    }
    agents = std::move(*spawned);
  }

  RunEnd end;
  auto result = coordinator->run(plan);
  end.finished_at = unix_now();
  display->stop_live();
  agents.stop();  // before on_stop: nothing of this run is still sending
  if (!result) {
    if (stop_requested().load()) {
      // Nothing ran: a run that never happened must not read as a pass (a CI job's
      // SIGTERM during the wait for agents, say). As --coordinator-url does.
      std::fprintf(stderr, "stopped before the load started: no agent was given the plan, no iteration was sent\n");
      return ExitCode::CannotStart;
    }
    print_error(result.error());
    return ExitCode::CannotStart;
  }
  if (pool_users > 0) {
    const python::SetupCounts setup = pool.stop();
    end.setup = SetupStats{setup.requests, setup.errors};
  }
  end.final = std::move(result->final_snapshot);
  // The load began at the shards' start_at, after the wait for the agents and their clocks.
  end.started_at = end.final.timestamp_secs - end.final.elapsed_secs;
  end.stats = std::move(result->stats);
  end.thresholds = std::move(result->thresholds);
  if (!result->missing.empty()) {
    end.notes.push_back("  no final stats from " + join(result->missing) +
                        ": their last figures are in the totals, anything after them is not");
  }
  const bool passed = metrics::all_passed(end.thresholds);
  if (!display->finish(std::move(end))) return ExitCode::Usage;
  return passed ? ExitCode::Ok : ExitCode::ThresholdsFailed;
}

}  // namespace lp::cli
