#pragma once
// Internal to the coordinator: one distributed run once its agents are chosen and their
// clocks measured — shards, leases, liveness and handovers, aggregation, snapshots, the
// end. coordinator.cpp does what comes before (broker, connection, waiting, clocks).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cluster/coordinator.hpp"
#include "cluster/messages.hpp"
#include "cluster/nats_client.hpp"
#include "cluster/slot_book.hpp"
#include "cluster/wall_clock.hpp"
#include "metrics/stats_codec.hpp"

namespace lp::cluster::detail {

using Steady = std::chrono::steady_clock;

struct ReleaseAnswer {
  SlotBook::Release request;
  std::optional<std::uint64_t> next_index;
  std::string error;
};

/// The latest registration of one agent id.
struct Known {
  Registration registration;
  Steady::time_point seen{};
  std::uint64_t order = 0;  ///< when first seen: agents are picked in the order they came
};

/// What the NATS handlers hand to the coordinator's loop. Shared with the handlers
/// (they keep it alive), so it outlives any handler still finishing.
struct Inbox {
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, Known> registry;  ///< every agent id heard of (one id counts once)
  std::uint64_t registered = 0;
  std::deque<Registration> registrations;
  std::deque<metrics::StatsMessage> stats;
  std::deque<ReleaseAnswer> releases;
  std::uint64_t bad_messages = 0;
  std::string last_bad;  ///< the last message that did not decode, and why

  /// Waits (at most `wait`) until something arrived.
  void wait(std::chrono::milliseconds wait) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, wait, [&] { return !registrations.empty() || !stats.empty() || !releases.empty(); });
  }
};

/// One agent of the run.
struct Member {
  enum class State : std::uint8_t { Waiting, Running, Suspect, TimedOut, Rejoined, Done };
  std::string id;
  std::uint64_t instance = 0;  ///< the process that registered
  double offset_ms = 0;        ///< its clock minus ours
  double rtt_ms = 0;
  double start_at_ms = 0;      ///< start_at in its clock, as sent
  double lease_sent_ms = 0;    ///< the latest lease sent, its clock
  Steady::time_point last_heard{};
  State state = State::Waiting;
  bool final_seen = false;
  bool release_pending = false;  ///< its home slot is being released for it
};

const char* to_string(Member::State s);

struct SessionContext {
  NatsClient& nats;
  std::shared_ptr<Inbox> inbox;
  const CoordinatorOptions& options;
  const WallClock& clock;
  std::function<void(const std::string&)> status;
};

/// Runs one plan on chosen agents whose clocks were measured.
Result<DistributedResult> run_session(SessionContext& ctx, const core::Plan& plan, const std::string& run_id,
                                      std::vector<Member> members);

}  // namespace lp::cluster::detail
