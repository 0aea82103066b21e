#include "service/run_stream.hpp"

#include <array>
#include <cmath>

#include <nlohmann/json.hpp>

#include "core/check.hpp"
#include "metrics/stats_codec.hpp"

namespace lp::service {

namespace {

using nlohmann::json;

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// What the stream's stats say they are, in the codec's header.
constexpr const char* kStatsSource = "coordinator";

/// Dumps without throwing on invalid UTF-8 (names come from scenario files).
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

/// `object_text` ("{...}") with `,"key":value` added before its closing brace.
void append_key(std::string& object_text, std::string_view key, const std::string& value_json) {
  LP_CHECK(!object_text.empty() && object_text.back() == '}');  // Snapshot::to_json writes one object
  object_text.pop_back();
  if (object_text.size() > 1) object_text += ',';
  object_text += '"';
  object_text += key;
  object_text += "\":";
  object_text += value_json;
  object_text += '}';
}

std::string encoded_stats(const metrics::Snapshot& snapshot, const metrics::RunStats& stats) {
  metrics::StatsMessage m;
  m.header.agent_id = kStatsSource;
  m.header.final = snapshot.phase == "done";
  m.header.elapsed_secs = snapshot.elapsed_secs;
  m.header.active_workers = snapshot.active_workers;
  m.stats = metrics::to_wire(stats);
  return base64_encode(metrics::encode_stats(m));
}

json thresholds_json(const std::vector<metrics::ThresholdResult>& thresholds) {
  json out = json::array();
  for (const auto& t : thresholds) {
    json j = {{"key", t.key}, {"limit", t.limit}, {"actual", t.actual}, {"passed", t.passed},
              {"defaulted", t.defaulted}};
    if (!t.reason.empty()) j["reason"] = t.reason;
    out.push_back(std::move(j));
  }
  return out;
}

double number_or(const json& j, const char* key, double fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : fallback;
}

std::string string_or(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool bool_or(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

Result<metrics::RunStats> decode_stats_field(const json& field) {
  if (!field.is_string()) return make_error(ErrorCode::Invalid, "\"stats\" is not a string");
  auto bytes = base64_decode(field.get_ref<const std::string&>());
  if (!bytes) return make_error(ErrorCode::Invalid, "\"stats\" is not base64");
  auto message = metrics::decode_stats(*bytes);
  if (!message) return make_error(ErrorCode::Invalid, "\"stats\": " + message.error().message);
  metrics::RunStats stats(message->stats.task_count);
  if (auto s = metrics::merge_wire(stats, message->stats); !s) {
    return make_error(ErrorCode::Invalid, "\"stats\": " + s.error().message);
  }
  return stats;
}

}  // namespace

std::string snapshot_line(const metrics::Snapshot& snapshot, const metrics::RunStats* stats) {
  std::string line = snapshot.to_json();
  if (stats != nullptr) append_key(line, "stats", '"' + encoded_stats(snapshot, *stats) + '"');
  line += '\n';
  return line;
}

std::string final_line(const metrics::Snapshot& snapshot, const metrics::RunStats* stats,
                       const std::vector<metrics::ThresholdResult>& thresholds) {
  std::string line = snapshot_line(snapshot, stats);
  line.pop_back();
  const json verdict = {{"passed", metrics::all_passed(thresholds)}, {"thresholds", thresholds_json(thresholds)}};
  append_key(line, "verdict", dump(verdict));
  line += '\n';
  return line;
}

std::string error_line(const Error& error) {
  json e = {{"message", error.message}};
  if (!error.hint.empty()) e["hint"] = error.hint;
  return dump(json{{"phase", "error"}, {"error", std::move(e)}}) + '\n';
}

std::string error_body(const Error& error, std::string_view extra) {
  json body = {{"error", error.message}};
  if (!error.hint.empty()) body["hint"] = error.hint;
  if (!extra.empty()) {
    json more = json::parse(extra, nullptr, /*allow_exceptions=*/false);
    if (more.is_object()) body.update(more);
  }
  return dump(body);
}

Result<StreamLine> parse_stream_line(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return make_error(ErrorCode::Invalid, "a line of the stream is not a JSON object");
  StreamLine line;
  if (string_or(j, "phase") == "error") {
    line.kind = StreamLine::Kind::Error;
    const json e = j.value("error", json::object());
    line.error = make_error(ErrorCode::Unavailable, e.is_object() ? string_or(e, "message") : std::string(),
                            e.is_object() ? string_or(e, "hint") : std::string());
    if (line.error.message.empty()) line.error.message = "the coordinator reported an error it did not describe";
    return line;
  }
  auto snapshot = metrics::parse_snapshot(text);
  if (!snapshot) return make_error(ErrorCode::Invalid, "a line of the stream is not a snapshot");
  line.snapshot = std::move(*snapshot);
  line.kind = line.snapshot.phase == "done" ? StreamLine::Kind::Final : StreamLine::Kind::Snapshot;
  if (auto it = j.find("stats"); it != j.end()) {
    auto stats = decode_stats_field(*it);
    if (!stats) return std::move(stats).error();
    line.stats = std::move(*stats);
  }
  if (auto it = j.find("verdict"); it != j.end() && it->is_object() && it->contains("thresholds")) {
    std::vector<metrics::ThresholdResult> results;
    for (const json& t : (*it)["thresholds"]) {
      if (!t.is_object()) continue;
      metrics::ThresholdResult r;
      r.key = string_or(t, "key");
      r.limit = number_or(t, "limit", 0);
      r.actual = number_or(t, "actual", std::nan(""));
      r.passed = bool_or(t, "passed");
      r.defaulted = bool_or(t, "defaulted");
      r.reason = string_or(t, "reason");
      results.push_back(std::move(r));
    }
    line.thresholds = std::move(results);
  }
  return line;
}

std::optional<ErrorBody> parse_error_body(std::string_view body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_string()) return std::nullopt;
  ErrorBody out;
  out.message = j["error"].get<std::string>();
  out.hint = string_or(j, "hint");
  if (auto it = j.find("problems"); it != j.end() && it->is_array()) {
    for (const json& p : *it) {
      if (p.is_string()) out.problems.push_back(p.get<std::string>());
    }
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const auto n = (std::uint32_t(std::uint8_t(bytes[i])) << 16) | (std::uint32_t(std::uint8_t(bytes[i + 1])) << 8) |
                   std::uint8_t(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out += kAlphabet[(n >> shift) & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t n = std::uint32_t(std::uint8_t(bytes[i])) << 16;
    if (rest == 2) n |= std::uint32_t(std::uint8_t(bytes[i + 1])) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::array<std::int8_t, 256> value{};
  value.fill(-1);
  for (std::size_t k = 0; k < kAlphabet.size(); ++k) value[std::uint8_t(kAlphabet[k])] = static_cast<std::int8_t>(k);
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const std::size_t pad = last ? (text[i + 3] == '=') + (text[i + 2] == '=' && text[i + 3] == '=') : 0;
    std::uint32_t n = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const std::int8_t v = k >= 4 - pad ? 0 : value[std::uint8_t(text[i + k])];
      if (v < 0) return std::nullopt;
      n = (n << 6) | std::uint32_t(v);
    }
    out += static_cast<char>((n >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

}  // namespace lp::service
