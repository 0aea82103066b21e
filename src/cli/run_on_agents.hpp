#pragma once
// `loadpilot run --agents N` / `--external-agents N`: the plan runs on loadpilot-agent
// processes through the cluster library (cluster::Coordinator) in this process, with
// the same dashboard, summary, outputs and exit codes as a run here, plus the agents.
//
//   --agents N            N agents started from next to this binary, on the embedded
//                         NATS broker on 127.0.0.1 (a random token); stopped on every
//                         way out (SIGTERM, then SIGKILL after 5 s)
//   --external-agents N   the embedded broker on --broker-addr (0.0.0.0:4222), or the
//                         NATS server of --nats-url; N agents started elsewhere
//
// A scenario with on_start/on_stop gets the pre-auth pool (python/preauth_pool.hpp):
// on_start here before the run, per-user calls shipped to the agents, on_stop after.
// docs/distributed.md tells what runs where.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/run_command.hpp"
#include "core/plan.hpp"
#include "python/preauth_pool.hpp"
#include "python/scenario.hpp"

namespace lp::cli {

/// Distributed mode's flags, checked.
struct Distribution {
  std::uint32_t agents = 0;            ///< how many
  bool local = false;                  ///< --agents: we start them; else --external-agents
  std::vector<std::string> nats_urls;  ///< --nats-url; empty: the embedded broker
  std::string broker_host;             ///< the embedded broker's address
  std::uint16_t broker_port = 0;       ///< 0: a free one
  std::string token;                   ///< --nats-token / NATS_TOKEN; empty: none
  double wait_secs = 30;               ///< how long to wait for the agents
};

/// The distributed flags of `args`: nullopt when there are none (a run here) or when
/// they have problems, each added to `problems` (listed with the scenario's).
std::optional<Distribution> parse_distribution(const RunArgs& args, std::vector<std::string>& problems);

/// The pre-auth pool's size for `plan`: vusers, else Python mode's default for the rate;
/// 0 when the scenario has no on_start or on_stop to run.
std::uint32_t preauth_pool_size(const python::ScenarioInfo& scenario, const core::Plan& plan);

/// What runs where (checks not run on agents, the pool), said once before anything is sent.
void print_distributed_notes(const python::ScenarioInfo& scenario, const core::Plan& plan);

/// With `users` > 0: starts the pre-auth pool into `pool` (on_start for each user) and
/// puts the calls captured per user into plan.vuser_configs, validated. nullopt: go on
/// (the caller stops the pool after the run); else the way out, said on stderr: Usage
/// (the first on_start failed, a task agents cannot replay), Ok (Ctrl+C during
/// on_start). Shared by run_on_agents and `--coordinator-url` (run_command.cpp).
std::optional<ExitCode> fill_preauth_pool(const python::ScenarioInfo& scenario, core::Plan& plan,
                                          std::uint32_t users, python::PreAuthPool& pool);

/// Runs `plan` (built with BuildOptions::distributed, validated) on the agents.
/// ExitCode::Usage: the first on_start failed (its traceback), a task agents cannot
/// replay, an output that could not be written; CannotStart: the broker, NATS or the
/// agents (named); Ok / ThresholdsFailed as for a run here. Ctrl+C before the load
/// started stops with Ok. The pool's on_stop runs on every way out.
ExitCode run_on_agents(const python::ScenarioInfo& scenario, core::Plan plan, const Distribution& d,
                       const RunArgs& args);

}  // namespace lp::cli
