#include "cluster/messages.hpp"

#include <nlohmann/json.hpp>

#include "core/plan_json.hpp"

namespace lp::cluster {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::size_t kMaxAgentIdLength = 128;

// Field readers: the error names the message and the field.
class Fields {
 public:
  Fields(const char* what, std::string_view text) : what_(what) {
    json_ = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (!json_.is_object()) error_ = std::string(what_) + " is not a JSON object";
  }

  bool ok() const { return error_.empty(); }
  Error error() const { return make_error(ErrorCode::Invalid, error_); }
  const Json& json() const { return json_; }

  std::string string(const char* key, bool required = true) {
    const Json* v = find(key, required);
    if (v == nullptr) return {};
    if (!v->is_string()) {
      wrong(key, "a string");
      return {};
    }
    return v->get<std::string>();
  }
  double number(const char* key, bool required = true) {
    const Json* v = find(key, required);
    if (v == nullptr) return 0;
    if (!v->is_number()) {
      wrong(key, "a number");
      return 0;
    }
    return v->get<double>();
  }
  std::uint64_t unsigned_int(const char* key, bool required = true) {
    const Json* v = find(key, required);
    if (v == nullptr) return 0;
    if (!v->is_number_unsigned()) {
      wrong(key, "a non-negative integer");
      return 0;
    }
    return v->get<std::uint64_t>();
  }
  std::int64_t integer(const char* key, bool required = true) {
    const Json* v = find(key, required);
    if (v == nullptr) return 0;
    if (!v->is_number_integer()) {
      wrong(key, "an integer");
      return 0;
    }
    return v->get<std::int64_t>();
  }
  const Json* find(const char* key, bool required) {
    const auto it = json_.find(key);
    if (it == json_.end() || it->is_null()) {
      if (required && error_.empty()) error_ = std::string(what_) + ": '" + key + "' is missing";
      return nullptr;
    }
    return &*it;
  }
  void wrong(const char* key, const char* type) {
    if (error_.empty()) error_ = std::string(what_) + ": '" + key + "' must be " + type;
  }
  void fail(std::string why) {
    if (error_.empty()) error_ = std::string(what_) + ": " + why;
  }

 private:
  const char* what_;
  Json json_;
  std::string error_;
};

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::optional<metrics::AgentState> state_of(std::string_view s) {
  for (auto st : {metrics::AgentState::Idle, metrics::AgentState::Running, metrics::AgentState::Paused}) {
    if (metrics::to_string(st) == s) return st;
  }
  return std::nullopt;
}

const char* type_name(Control::Type t) {
  switch (t) {
    case Control::Type::Lease: return "lease";
    case Control::Type::Adopt: return "adopt";
    case Control::Type::Stop: return "stop";
  }
  return "stop";
}

}  // namespace

namespace subject {
std::string register_all() { return "loadpilot.register"; }
std::string clock(std::string_view id) { return "loadpilot.clock." + std::string(id); }
std::string shard(std::string_view id) { return "loadpilot.shard." + std::string(id); }
std::string control(std::string_view id) { return "loadpilot.control." + std::string(id); }
std::string control_all() { return "loadpilot.control"; }
std::string release(std::string_view id) { return "loadpilot.release." + std::string(id); }
std::string metrics(std::string_view id) { return "loadpilot.metrics." + std::string(id); }
std::string metrics_all() { return "loadpilot.metrics.*"; }
}  // namespace subject

Status validate_agent_id(std::string_view id) {
  const bool allowed = !id.empty() && id.size() <= kMaxAgentIdLength &&
                       id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") ==
                           std::string_view::npos;
  if (allowed) return Ok{};
  return make_error(ErrorCode::Invalid, "agent id '" + std::string(id) + "' is not usable",
                    "use letters, digits, '-' and '_' only (at most 128), e.g. --agent-id agent-0");
}

std::string encode(const Registration& m) {
  Json j = {{"agent_id", m.agent_id}, {"instance", m.instance}, {"version", m.version}, {"hostname", m.hostname},
            {"pid", m.pid}, {"state", std::string(metrics::to_string(m.state))}};
  if (!m.run_id.empty()) j["run_id"] = m.run_id;
  if (!m.error.empty()) j["error"] = m.error;
  return dump(j);
}

Result<Registration> decode_registration(std::string_view text) {
  Fields f("registration", text);
  Registration m;
  if (!f.ok()) return f.error();
  m.agent_id = f.string("agent_id");
  m.instance = f.unsigned_int("instance");
  m.version = f.string("version", false);
  m.hostname = f.string("hostname", false);
  m.pid = f.integer("pid", false);
  const std::string state = f.string("state");
  m.run_id = f.string("run_id", false);
  m.error = f.string("error", false);
  if (!f.ok()) return f.error();
  if (auto s = state_of(state)) {
    m.state = *s;
  } else {
    return make_error(ErrorCode::Invalid, "registration: unknown state '" + state + "'");
  }
  if (auto valid = validate_agent_id(m.agent_id); !valid) return valid.error();
  return m;
}

std::string encode(const Shard& m) {
  Json slots = Json::array();
  for (const ShardSlot& s : m.slots) slots.push_back({{"slot", s.slot}, {"from_index", s.from_index}});
  Json j = {{"run_id", m.run_id},
            {"plan", Json::parse(core::plan_to_json(m.plan))},
            {"slot_count", m.slot_count},
            {"slots", std::move(slots)},
            {"start_at_unix_ms", m.start_at_unix_ms},
            {"lease_until_unix_ms", m.lease_until_unix_ms}};
  return dump(j);
}

Result<Shard> decode_shard(std::string_view text) {
  Fields f("shard", text);
  Shard m;
  if (!f.ok()) return f.error();
  m.run_id = f.string("run_id");
  m.slot_count = static_cast<std::uint32_t>(f.unsigned_int("slot_count"));
  m.start_at_unix_ms = f.number("start_at_unix_ms");
  m.lease_until_unix_ms = f.number("lease_until_unix_ms");
  const Json* plan = f.find("plan", true);
  const Json* slots = f.find("slots", true);
  if (!f.ok()) return f.error();
  if (m.slot_count == 0) return make_error(ErrorCode::Invalid, "shard: 'slot_count' must be at least 1");
  if (!slots->is_array()) return make_error(ErrorCode::Invalid, "shard: 'slots' must be an array");
  for (const Json& s : *slots) {
    if (!s.is_object() || !s.contains("slot") || !s["slot"].is_number_unsigned() || !s.contains("from_index") ||
        !s["from_index"].is_number_unsigned()) {
      return make_error(ErrorCode::Invalid, "shard: each slot must be {slot, from_index} (non-negative integers)");
    }
    ShardSlot slot{s["slot"].get<std::uint32_t>(), s["from_index"].get<std::uint64_t>()};
    if (slot.slot >= m.slot_count) {
      return make_error(ErrorCode::Invalid, "shard: slot " + std::to_string(slot.slot) + " of " +
                                                std::to_string(m.slot_count));
    }
    m.slots.push_back(slot);
  }
  auto parsed = core::parse_plan_json(plan->dump());
  if (!parsed) return make_error(ErrorCode::Invalid, "shard: invalid plan:\n" + parsed.error().message);
  m.plan = std::move(*parsed);
  return m;
}

std::string encode(const Control& m) {
  Json j = {{"run_id", m.run_id}, {"type", type_name(m.type)}};
  if (m.type == Control::Type::Lease) j["lease_until_unix_ms"] = m.lease_until_unix_ms;
  if (m.type == Control::Type::Adopt) {
    j["slot"] = m.slot;
    j["from_index"] = m.from_index;
  }
  return dump(j);
}

Result<Control> decode_control(std::string_view text) {
  Fields f("control message", text);
  Control m;
  if (!f.ok()) return f.error();
  m.run_id = f.string("run_id");
  const std::string type = f.string("type");
  if (!f.ok()) return f.error();
  if (type == "lease") {
    m.type = Control::Type::Lease;
    m.lease_until_unix_ms = f.number("lease_until_unix_ms");
  } else if (type == "adopt") {
    m.type = Control::Type::Adopt;
    m.slot = static_cast<std::uint32_t>(f.unsigned_int("slot"));
    m.from_index = f.unsigned_int("from_index");
  } else if (type == "stop") {
    m.type = Control::Type::Stop;
  } else {
    return make_error(ErrorCode::Invalid, "control message: unknown type '" + type + "' (lease, adopt or stop)");
  }
  if (!f.ok()) return f.error();
  return m;
}

std::string encode(const ReleaseRequest& m) { return dump({{"run_id", m.run_id}, {"slot", m.slot}}); }

Result<ReleaseRequest> decode_release_request(std::string_view text) {
  Fields f("release request", text);
  ReleaseRequest m;
  if (!f.ok()) return f.error();
  m.run_id = f.string("run_id");
  m.slot = static_cast<std::uint32_t>(f.unsigned_int("slot"));
  if (!f.ok()) return f.error();
  return m;
}

std::string encode(const ReleaseReply& m) {
  Json j = {{"run_id", m.run_id}, {"slot", m.slot}};
  j["next_index"] = m.next_index ? Json(*m.next_index) : Json(nullptr);
  if (!m.error.empty()) j["error"] = m.error;
  return dump(j);
}

Result<ReleaseReply> decode_release_reply(std::string_view text) {
  Fields f("release reply", text);
  ReleaseReply m;
  if (!f.ok()) return f.error();
  m.run_id = f.string("run_id");
  m.slot = static_cast<std::uint32_t>(f.unsigned_int("slot"));
  if (f.find("next_index", false) != nullptr) m.next_index = f.unsigned_int("next_index");
  m.error = f.string("error", false);
  if (!f.ok()) return f.error();
  return m;
}

std::string encode_clock_reply(double agent_unix_ms) { return dump({{"unix_ms", agent_unix_ms}}); }

Result<double> decode_clock_reply(std::string_view text) {
  Fields f("clock reply", text);
  if (!f.ok()) return f.error();
  const double ms = f.number("unix_ms");
  if (!f.ok()) return f.error();
  return ms;
}

}  // namespace lp::cluster
