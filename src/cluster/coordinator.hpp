#pragma once
// The coordinator of a distributed run, as a library: `loadpilot run --agents /
// --external-agents`, `loadpilot-coordinator` and the service all drive this.
//
//   cluster::Coordinator coordinator(options);          // agents, NATS or broker, token, callbacks
//   if (auto s = coordinator.connect(); !s) ...          // starts the embedded broker if asked
//   auto agents = cluster::LocalAgents::spawn({bin, n, coordinator.agent_url(), token});  // --agents
//   auto result = coordinator.run(plan);                  // may be called again with the next plan
//
// run(): waits for N agents (one id counts once), measures each one's clock offset,
// shards the plan (slot i and a disjoint slice of the pre-auth pool to agent i) with a
// start_at in each agent's own clock, renews their leases, hands a silent agent's slots
// to the others (and gives them back when it returns), merges every agent's cumulative
// stats into the same snapshots as a local run, and returns the final one once every
// live agent has sent its final stats (bounded). docs/distributed.md has the protocol.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/plan.hpp"
#include "core/result.hpp"
#include "metrics/snapshot.hpp"
#include "metrics/stats.hpp"
#include "metrics/thresholds.hpp"

namespace lp::cluster {

struct CoordinatorOptions {
  std::uint32_t agents = 1;  ///< N: the run starts once N distinct agents registered
  /// An existing NATS server (`--nats-url`; several comma-separated allowed). Empty: the
  /// embedded broker, listening on broker_addr:broker_port.
  std::vector<std::string> nats_urls;
  std::string broker_addr = "127.0.0.1";  ///< 0.0.0.0 for agents on other machines
  std::uint16_t broker_port = 0;          ///< 0: a free port (see agent_url())
  std::string token;                      ///< NATS auth token; empty: none
  /// How long to wait for the agents: 30 s suits `--agents`, 5 min external agents.
  std::chrono::milliseconds wait_for_agents{std::chrono::seconds(30)};
  /// The ids expected, when known (local agents): named in the waiting line and in the
  /// error when some never came.
  std::vector<std::string> expected_ids;
  /// Polled while waiting: a reason the agents cannot come (a local agent exited), to
  /// fail at once rather than at the end of the wait.
  std::function<std::optional<std::string>()> agents_failed;
  double grace_secs = 2.0;  ///< after a stop, what in-flight requests get on the agents
  /// Each snapshot (once a second, then the final one, phase "done"), on the caller's thread.
  std::function<void(const metrics::Snapshot&)> on_snapshot;
  /// Called right after each on_snapshot, on the same thread, with the merged cumulative
  /// stats the snapshot was built from (as engine::RunOptions::on_stats): for figures a
  /// snapshot cannot carry (Prometheus histograms, per-step differences). Copy what you keep.
  std::function<void(const metrics::Snapshot&, const metrics::RunStats&)> on_stats;
  /// Progress lines ("waiting for agents: 2/4 (agent-0, agent-1)", clock offsets, an
  /// agent suspect, timed out or rejoined). Default: stderr, "loadpilot-coordinator: ".
  std::function<void(std::string_view)> on_status;
  /// Set from anywhere (a signal handler) to stop the run: the agents stop sending and
  /// their in-flight requests get grace_secs; the final snapshot follows.
  const std::atomic<bool>* stop = nullptr;
  /// Set after `stop` to cut the grace short.
  const std::atomic<bool>* stop_now = nullptr;
};

/// One agent at the end of a run (the snapshot's `agents` row, and more).
struct AgentSummary {
  std::string id;
  std::string state;  ///< done | timed_out | lost | ... (metrics::AgentSnapshot::state)
  std::uint64_t requests = 0;
  std::optional<double> start_skew_ms;
  double clock_offset_ms = 0;  ///< its clock minus ours, as measured
  double round_trip_ms = 0;    ///< of the best clock sample
};

struct DistributedResult {
  metrics::Snapshot final_snapshot;  ///< phase "done", with agents and start_skew_ms
  metrics::RunStats stats;           ///< merged over every agent, histograms included
  std::vector<AgentSummary> agents;
  std::vector<metrics::ThresholdResult> thresholds;  ///< the plan's, on the final snapshot
  std::optional<double> start_skew_ms;               ///< latest start minus earliest, our clock
  std::vector<std::string> missing;  ///< agents whose final stats never came (named in the summary)
  bool stopped_early = false;
};

class Coordinator {
 public:
  explicit Coordinator(CoordinatorOptions options);
  ~Coordinator();
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  /// Starts the embedded broker (when no nats_urls) and connects to NATS. Errors: the
  /// broker's port cannot be bound, the NATS server does not answer or refuses the token.
  Status connect();
  /// What agents connect to: the embedded broker's URL (127.0.0.1 for a wildcard bind)
  /// or the first of nats_urls.
  std::string agent_url() const;

  /// Runs `plan` (validated; vuser_configs is the pre-auth pool) on the agents. Errors:
  /// the agents did not come in time (ErrorCode::Unavailable, naming who came and who did
  /// not), an agent could not start the plan (a host that does not resolve), a shard
  /// above the server's max_payload. Each error is one line and a hint.
  Result<DistributedResult> run(const core::Plan& plan);
  /// As run(plan), on `agents` agents instead of options.agents (a service that uses
  /// whichever agents are connected when a plan comes), under `run_id` when given (one
  /// subject-safe token the caller already showed its user; empty: a random one).
  /// `agents` must be at least 1.
  Result<DistributedResult> run(const core::Plan& plan, std::uint32_t agents, const std::string& run_id = {});

  /// The agents a run would pick now: ids whose latest announcement is `idle` and recent
  /// (agents re-announce every 3 s), in the order they first came. Thread-safe, callable
  /// during a run (which it does not disturb); agents busy in a run are not in it.
  std::vector<std::string> idle_agents() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lp::cluster
