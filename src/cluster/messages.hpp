#pragma once
// The control messages of distributed mode (everything but the stats, which are binary:
// metrics/stats_codec.hpp) and the NATS subjects they travel on. JSON, so an operator
// can read them with `nats sub 'loadpilot.>'`; nlohmann stays in messages.cpp.
// docs/distributed.md lists every field.
//
// Every message of a run carries its run_id; a receiver ignores another run's, so a
// stale message is harmless.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/plan.hpp"
#include "core/result.hpp"
#include "metrics/stats_codec.hpp"

namespace lp::cluster {

namespace subject {
inline constexpr std::string_view kPrefix = "loadpilot.";
std::string register_all();                     ///< loadpilot.register
std::string clock(std::string_view agent_id);   ///< loadpilot.clock.<id> (request/reply)
std::string shard(std::string_view agent_id);   ///< loadpilot.shard.<id>
std::string control(std::string_view agent_id); ///< loadpilot.control.<id>
std::string control_all();                      ///< loadpilot.control (broadcast)
std::string release(std::string_view agent_id); ///< loadpilot.release.<id> (request/reply)
std::string metrics(std::string_view agent_id); ///< loadpilot.metrics.<id>
std::string metrics_all();                      ///< loadpilot.metrics.*
}  // namespace subject

/// An agent id must be one NATS subject token: letters, digits, '-' and '_', at most
/// 128 characters. The error says what to use instead.
Status validate_agent_id(std::string_view id);

/// agent → coordinator, on loadpilot.register: at connect and every 3 s while idle or
/// paused.
struct Registration {
  std::string agent_id;
  std::uint64_t instance = 0;
  std::string version;
  std::string hostname;
  std::int64_t pid = 0;
  metrics::AgentState state = metrics::AgentState::Idle;
  std::string run_id;  ///< the run it is in (paused) or last failed to start; empty when none
  std::string error;   ///< why it could not start run_id (e.g. a host that does not resolve)

  friend bool operator==(const Registration&, const Registration&) = default;
};

struct ShardSlot {
  std::uint32_t slot = 0;
  std::uint64_t from_index = 0;

  friend bool operator==(const ShardSlot&, const ShardSlot&) = default;
};

/// coordinator → agent, on loadpilot.shard.<id>: its part of a run. Times are in the
/// AGENT's clock (the coordinator measured the offset).
struct Shard {
  std::string run_id;
  core::Plan plan;  ///< with vuser_configs = this agent's slice of the pre-auth pool
  std::uint32_t slot_count = 1;
  std::vector<ShardSlot> slots;
  double start_at_unix_ms = 0;
  double lease_until_unix_ms = 0;

  friend bool operator==(const Shard&, const Shard&) = default;
};

/// coordinator → agent, on loadpilot.control.<id> (and stop on loadpilot.control).
struct Control {
  enum class Type : std::uint8_t { Lease, Adopt, Stop };
  std::string run_id;
  Type type = Type::Lease;
  double lease_until_unix_ms = 0;  ///< Lease
  std::uint32_t slot = 0;          ///< Adopt
  std::uint64_t from_index = 0;    ///< Adopt

  friend bool operator==(const Control&, const Control&) = default;
};

/// coordinator → agent, request/reply on loadpilot.release.<id>.
struct ReleaseRequest {
  std::string run_id;
  std::uint32_t slot = 0;

  friend bool operator==(const ReleaseRequest&, const ReleaseRequest&) = default;
};

struct ReleaseReply {
  std::string run_id;
  std::uint32_t slot = 0;
  /// The first index of the slot the agent will not fire (it stopped at once); nullopt
  /// when it does not hold the slot (then it fires none of it).
  std::optional<std::uint64_t> next_index;
  std::string error;  ///< why it could not answer (another run, no run)

  friend bool operator==(const ReleaseReply&, const ReleaseReply&) = default;
};

std::string encode(const Registration& m);
std::string encode(const Shard& m);
std::string encode(const Control& m);
std::string encode(const ReleaseRequest& m);
std::string encode(const ReleaseReply& m);
/// The clock reply: {"unix_ms": agent_ms}.
std::string encode_clock_reply(double agent_unix_ms);

/// Each parses its message; the error names the field that is missing or of the wrong
/// type. decode_shard also validates the plan (every problem listed).
Result<Registration> decode_registration(std::string_view json);
Result<Shard> decode_shard(std::string_view json);
Result<Control> decode_control(std::string_view json);
Result<ReleaseRequest> decode_release_request(std::string_view json);
Result<ReleaseReply> decode_release_reply(std::string_view json);
Result<double> decode_clock_reply(std::string_view json);

}  // namespace lp::cluster
