#pragma once
// An agent's cumulative stats on the wire (distributed mode): a header saying whose
// figures they are and how far its run got, then RunStats in full — every counter and
// every histogram as sparse buckets plus min/max/sum/saturated — never percentiles, so
// the coordinator merges agents exactly. Binary: a version byte, LEB128 varints, and
// two little-endian doubles; docs/distributed.md lists it field by field.
//
// Cumulative on purpose: a lost or repeated message is harmless, the next one carries
// everything. Decoding never trusts the input: a short, long or malformed message is an
// Error, never a crash or an allocation sized by the sender.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "metrics/stats.hpp"

namespace lp::metrics {

/// Format of encode_stats(); decode_stats() refuses any other.
inline constexpr std::uint8_t kStatsWireVersion = 1;

/// What an agent is doing, as it reports it.
enum class AgentState : std::uint8_t {
  Idle,     ///< waiting for a plan
  Running,  ///< firing its slots under a valid lease (or waiting for start_at)
  Paused,   ///< its lease expired: sending nothing until it adopts a slot again
  kCount
};

/// "idle", "running", "paused".
std::string_view to_string(AgentState state) noexcept;

/// How far an agent got in one slot of the run's iteration sequence.
struct SlotProgress {
  std::uint32_t slot = 0;
  /// First index of the slot this agent has not fired (nor dropped) yet; when `closed`,
  /// the first one it will never fire (it gave the rest up: release, lease expiry).
  std::uint64_t next_index = 0;
  bool closed = false;

  friend bool operator==(const SlotProgress&, const SlotProgress&) = default;
};

struct StatsHeader {
  std::string run_id;
  std::string agent_id;
  std::uint64_t instance = 0;  ///< random per agent process: a restart is a new instance
  std::uint64_t seq = 0;       ///< increases with every message of a run; the newest wins
  std::uint32_t part = 0;      ///< this message's part of `seq`, 0 .. parts-1 (see encode_stats_parts)
  std::uint32_t parts = 1;
  bool final = false;          ///< the last message of the run, after the drain
  AgentState state = AgentState::Running;
  double elapsed_secs = 0;     ///< since start_unix_ms, by the agent's clock
  /// When the agent actually began its schedule (agent's clock): the moment it sent its
  /// first iteration, minus that iteration's offset in the profile. 0 until then.
  double start_unix_ms = 0;
  std::uint32_t active_workers = 0;  ///< event-loop threads still running
  std::vector<SlotProgress> slots;

  friend bool operator==(const StatsHeader&, const StatsHeader&) = default;
};

/// A histogram as it travels: non-empty buckets ascending, plus the exact extras.
struct WireHistogram {
  std::vector<std::pair<std::uint32_t, std::uint64_t>> buckets;
  std::uint64_t min_us = 0, max_us = 0, sum_us = 0, saturated = 0;

  friend bool operator==(const WireHistogram&, const WireHistogram&) = default;
};

struct WireTask {
  std::uint32_t index = 0;  ///< into the plan's tasks
  std::uint64_t requests = 0, errors = 0, errors_without_request = 0;
  std::array<std::uint64_t, kErrorKindCount> errors_by_kind{};
  WireHistogram latency, service, success;

  friend bool operator==(const WireTask&, const WireTask&) = default;
};

/// RunStats in sparse form: cheap to decode, keep per agent and merge (no 30 KiB
/// histogram per field until the merge).
struct WireStats {
  std::uint32_t task_count = 0;  ///< tasks in the run (a part may carry only some)
  std::vector<WireTask> tasks;   ///< ascending index; tasks with nothing recorded included
  std::uint64_t iterations = 0, late = 0, dropped = 0, retries = 0, in_flight = 0, connections = 0;

  friend bool operator==(const WireStats&, const WireStats&) = default;
};

struct StatsMessage {
  StatsHeader header;
  WireStats stats;

  friend bool operator==(const StatsMessage&, const StatsMessage&) = default;
};

/// The sparse form of `stats` (every task, in order).
WireStats to_wire(const RunStats& stats);
/// Adds `wire` to `into` (grown to wire.task_count tasks): the same as merging the
/// RunStats it came from. Bucket indices out of range are an Error (nothing is added
/// for that histogram's buckets past the bad one).
Status merge_wire(RunStats& into, const WireStats& wire);

/// One message, whatever its size.
std::string encode_stats(const StatsMessage& message);
/// Parses encode_stats()'s bytes. Errors name what is wrong ("truncated stats message",
/// "stats message version 7 (this build reads 1)", a bucket out of range, bytes left over).
Result<StatsMessage> decode_stats(std::string_view bytes);

/// As encode_stats(), split per task so that no message exceeds `max_bytes` (a NATS
/// server's max_payload): each part carries the header (part i of n) and a run of
/// whole tasks; the run counters travel in every part. One part when it all fits.
/// Fails, with the size and the limit, when one task alone does not fit: never truncates.
Result<std::vector<std::string>> encode_stats_parts(const StatsMessage& message, std::size_t max_bytes);

/// Joins the parts of one seq (any order, each exactly once) back into one message.
/// Fails when a part is missing, repeated, or from another seq.
Result<StatsMessage> join_stats_parts(std::vector<StatsMessage> parts);

}  // namespace lp::metrics
