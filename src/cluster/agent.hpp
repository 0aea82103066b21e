#pragma once
// loadpilot-agent's loop (apps/agent_main.cpp is its command line): connect to the
// coordinator's NATS (reconnecting forever), announce itself, take a shard, sleep until
// its start_at, fire its slots with the engine under the coordinator's lease, send
// cumulative stats every second and a final one after the drain, then wait for the next
// plan. No Python anywhere: the plan is static, the pre-auth pool comes in the shard.
//
// It obeys lease (pauses when it runs out), adopt, release and stop; it abandons a run
// (no orphan load on the target) when it hears nothing from the coordinator for 15 s
// while awake. docs/distributed.md has the protocol.

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace lp::cluster {

struct AgentOptions {
  /// The coordinator's NATS: host:port, nats://host:port or tls://host:port (several
  /// comma-separated allowed).
  std::vector<std::string> coordinator;
  std::string agent_id;  ///< one subject token (validate_agent_id); default: hostname-pid
  std::string token;     ///< NATS auth token; empty: none
  /// Test hook: shifts this agent's view of the wall clock, as a machine whose clock is
  /// off would see it. The coordinator's offset measurement must absorb it.
  double clock_offset_ms = 0;
  std::chrono::milliseconds register_interval{std::chrono::seconds(3)};
  std::chrono::milliseconds stats_interval{std::chrono::seconds(1)};
  /// A run is abandoned when nothing came from the coordinator for this long (counted
  /// only while this process was awake: a stopped process heard nothing, it was not told
  /// nothing).
  std::chrono::milliseconds abandon_after{std::chrono::seconds(15)};
  /// One line per state change ("agent agent-0: running run 7f3a… slots [0]"); default: stderr.
  std::function<void(std::string_view)> log;
};

/// The agent id to use when none is given: `<hostname>-<pid>`, with characters a NATS
/// subject token cannot hold replaced by '-'.
std::string default_agent_id();

/// Runs the agent until `stop` is set (SIGINT / SIGTERM): a run in progress is stopped
/// (in-flight requests get 2 s) and its final stats are sent first. Returns an error
/// only when it cannot start: a bad URL or agent id, or a server that refuses the token.
/// A coordinator that is not there yet is waited for.
Status run_agent(const AgentOptions& options, const std::atomic<bool>& stop);

}  // namespace lp::cluster
