#pragma once
// The coordinator's view of every agent's figures: the latest cumulative stats of each
// (agent, instance) by seq, with split messages joined back, merged exactly on demand.
// A restarted agent is a new instance: the old one's last figures stay in the totals,
// frozen, and nothing is counted twice. Not thread-safe: the coordinator's loop owns it.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "metrics/stats.hpp"
#include "metrics/stats_codec.hpp"

namespace lp::cluster {

class Aggregator {
 public:
  explicit Aggregator(std::size_t task_count) : task_count_(task_count) {}

  /// Takes one decoded message (or part). Returns the joined message when it made a
  /// newer seq of its instance the latest (older and repeated ones are ignored: nullopt).
  /// An error when its parts do not join or its stats do not fit the run.
  Result<std::optional<metrics::StatsHeader>> add(metrics::StatsMessage message);

  /// Every instance's latest stats, merged (histograms merged, not averaged).
  metrics::RunStats merged() const;
  /// The latest header of the agent's most recent instance, if any message came.
  const metrics::StatsHeader* latest(const std::string& agent_id) const;
  /// Requests of the agent, over all its instances.
  std::uint64_t requests(const std::string& agent_id) const;
  /// The agent's first instance's start (its start_unix_ms, agent clock), 0 when unknown.
  double first_start_unix_ms(const std::string& agent_id) const;

 private:
  struct Instance {
    metrics::StatsHeader header;
    metrics::WireStats stats;
    std::uint64_t requests = 0;
    std::uint64_t order = 0;  ///< when first seen: the agent's most recent instance is the largest
    std::map<std::uint64_t, std::vector<metrics::StatsMessage>> pending;  ///< seq → parts so far
  };
  using Key = std::pair<std::string, std::uint64_t>;  ///< (agent_id, instance)

  std::size_t task_count_;
  std::map<Key, Instance> instances_;
  std::uint64_t seen_ = 0;
};

}  // namespace lp::cluster
