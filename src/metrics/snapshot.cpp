#include "metrics/snapshot.hpp"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "metrics/rounding.hpp"
#include "metrics/snapshot_json.hpp"

namespace lp::metrics {
namespace {

// Insertion order keeps the stream readable by eye: counters first, details after.
using Json = nlohmann::ordered_json;

using rounded::ms;
using rounded::secs;
double rps(double value) noexcept { return rounded::rate(value); }

double ms_of(std::uint64_t value_us) noexcept { return static_cast<double>(value_us) / 1000.0; }


// Readers: each leaves `out` alone unless the key holds a value of a usable type, so a
// partial or older line still yields a snapshot (nulls are how NaN was written).
const Json* find(const Json& object, const char* key) {
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

void read(const Json& object, const char* key, double& out) {
  const Json* v = find(object, key);
  if (v != nullptr && v->is_number()) out = v->get<double>();
}

void read(const Json& object, const char* key, std::uint64_t& out) {
  const Json* v = find(object, key);
  if (v == nullptr) return;
  if (v->is_number_unsigned()) {
    out = v->get<std::uint64_t>();
  } else if (v->is_number_float()) {
    const double d = v->get<double>();
    // 2^64 itself is not representable as uint64; anything from there up is garbage.
    if (d >= 0.0 && d < 18446744073709551616.0) out = static_cast<std::uint64_t>(d);
  }
}

void read(const Json& object, const char* key, std::uint32_t& out) {
  std::uint64_t wide = out;
  read(object, key, wide);
  out = static_cast<std::uint32_t>(std::min<std::uint64_t>(wide, UINT32_MAX));
}

void read(const Json& object, const char* key, std::string& out) {
  const Json* v = find(object, key);
  if (v != nullptr && v->is_string()) out = v->get<std::string>();
}

void read(const Json& object, const char* key, LatencySummary& out) {
  const Json* v = find(object, key);
  if (v == nullptr || !v->is_object()) return;
  read(*v, "min_ms", out.min_ms);
  read(*v, "mean_ms", out.mean_ms);
  read(*v, "p50_ms", out.p50_ms);
  read(*v, "p90_ms", out.p90_ms);
  read(*v, "p95_ms", out.p95_ms);
  read(*v, "p99_ms", out.p99_ms);
  read(*v, "p999_ms", out.p999_ms);
  read(*v, "max_ms", out.max_ms);
  read(*v, "count", out.count);
}

void read(const Json& object, const char* key, bool& out) {
  const Json* v = find(object, key);
  if (v != nullptr && v->is_boolean()) out = v->get<bool>();
}

void read(const Json& object, const char* key, IntervalSnapshot& out) {
  const Json* v = find(object, key);
  if (v == nullptr || !v->is_object()) return;
  read(*v, "secs", out.secs);
  read(*v, "requests", out.requests);
  read(*v, "errors", out.errors);
  read(*v, "rps", out.rps);
  read(*v, "latency", out.latency);
}

}  // namespace

nlohmann::ordered_json latency_json(const LatencySummary& l) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  j["min_ms"] = rounded::ms(l.min_ms);
  j["mean_ms"] = rounded::ms(l.mean_ms);
  j["p50_ms"] = rounded::ms(l.p50_ms);
  j["p90_ms"] = rounded::ms(l.p90_ms);
  j["p95_ms"] = rounded::ms(l.p95_ms);
  j["p99_ms"] = rounded::ms(l.p99_ms);
  j["p999_ms"] = rounded::ms(l.p999_ms);
  j["max_ms"] = rounded::ms(l.max_ms);
  j["count"] = l.count;
  return j;
}

LatencySummary LatencySummary::of(const Histogram& h) {
  LatencySummary s;
  s.min_ms = ms_of(h.min_us());
  s.mean_ms = h.mean_us() / 1000.0;
  s.p50_ms = ms_of(h.value_at_quantile(0.50));
  s.p90_ms = ms_of(h.value_at_quantile(0.90));
  s.p95_ms = ms_of(h.value_at_quantile(0.95));
  s.p99_ms = ms_of(h.value_at_quantile(0.99));
  s.p999_ms = ms_of(h.value_at_quantile(0.999));
  s.max_ms = ms_of(h.max_us());
  s.count = h.count();
  return s;
}

Snapshot make_snapshot(const RunStats& stats, const std::vector<std::string>& names) {
  Snapshot snap;
  const TaskStats total = stats.total();
  snap.requests_total = total.requests;
  snap.errors_total = total.errors;
  snap.errors_by_kind = total.errors_by_kind;
  snap.errors_without_request = total.errors_without_request;
  snap.iterations = stats.iterations;
  snap.latency = LatencySummary::of(total.latency);
  snap.success = LatencySummary::of(total.success);
  snap.service = LatencySummary::of(total.service);
  snap.send_lag = LatencySummary::of(stats.send_lag);
  snap.send_early = LatencySummary::of(stats.send_early);
  snap.late = stats.late;
  snap.dropped = stats.dropped;
  snap.in_flight = stats.in_flight;
  snap.connections = stats.connections;

  const std::size_t n = std::max(stats.tasks.size(), names.size());
  snap.tasks.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    TaskSnapshot& task = snap.tasks.emplace_back();
    task.name = i < names.size() ? names[i] : "task_" + std::to_string(i);
    if (i < stats.tasks.size()) {
      const TaskStats& t = stats.tasks[i];
      task.requests = t.requests;
      task.errors = t.errors;
      task.errors_without_request = t.errors_without_request;
      task.latency = LatencySummary::of(t.latency);
    }
  }
  return snap;
}

std::string Snapshot::to_json() const {
  Json j = Json::object();
  j["timestamp_secs"] = secs(timestamp_secs);
  j["elapsed_secs"] = secs(elapsed_secs);
  j["load_secs"] = secs(load_secs);
  j["current_rps"] = rps(current_rps);
  j["target_rps"] = rps(target_rps);
  j["requests_total"] = requests_total;
  j["errors_total"] = errors_total;
  j["iterations"] = iterations;
  j["active_workers"] = active_workers;
  j["phase"] = phase;
  j["stopped"] = stopped;
  Json iv = Json::object();
  iv["secs"] = secs(interval.secs);
  iv["requests"] = interval.requests;
  iv["errors"] = interval.errors;
  iv["rps"] = rps(interval.rps);
  iv["latency"] = latency_json(interval.latency);
  j["interval"] = std::move(iv);
  j["latency"] = latency_json(latency);
  j["success_latency"] = latency_json(success);
  j["service_latency"] = latency_json(service);
  j["send_lag"] = latency_json(send_lag);
  j["send_early"] = latency_json(send_early);

  Json kinds = Json::object();
  for (std::size_t i = 0; i < kErrorKindCount; ++i) {
    kinds[std::string(to_string(static_cast<ErrorKind>(i)))] = errors_by_kind[i];
  }
  j["errors_by_kind"] = std::move(kinds);
  j["errors_without_request"] = errors_without_request;

  j["late"] = late;
  j["dropped"] = dropped;
  j["in_flight"] = in_flight;
  j["connections"] = connections;

  Json task_list = Json::array();
  for (const TaskSnapshot& t : tasks) {
    Json task = Json::object();
    task["name"] = t.name;
    task["requests"] = t.requests;
    task["errors"] = t.errors;
    task["errors_without_request"] = t.errors_without_request;
    task["latency"] = latency_json(t.latency);
    task_list.push_back(std::move(task));
  }
  j["tasks"] = std::move(task_list);
  if (!agents.empty()) {
    Json agent_list = Json::array();
    for (const AgentSnapshot& a : agents) {
      Json agent = Json::object();
      agent["id"] = a.id;
      agent["state"] = a.state;
      agent["requests"] = a.requests;
      agent["start_skew_ms"] = a.start_skew_ms ? Json(ms(*a.start_skew_ms)) : Json(nullptr);
      agent_list.push_back(std::move(agent));
    }
    j["agents"] = std::move(agent_list);
  }
  if (start_skew_ms) j["start_skew_ms"] = ms(*start_skew_ms);

  // Task names come from user scripts: bad UTF-8 must not throw out of the metrics loop.
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::optional<Snapshot> parse_snapshot(std::string_view json_line) {
  const Json j = Json::parse(json_line.begin(), json_line.end(), nullptr,
                             /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;  // also the parse-error (discarded) case

  Snapshot snap;
  read(j, "timestamp_secs", snap.timestamp_secs);
  read(j, "elapsed_secs", snap.elapsed_secs);
  read(j, "load_secs", snap.load_secs);
  read(j, "current_rps", snap.current_rps);
  read(j, "target_rps", snap.target_rps);
  read(j, "requests_total", snap.requests_total);
  read(j, "errors_total", snap.errors_total);
  read(j, "iterations", snap.iterations);
  read(j, "active_workers", snap.active_workers);
  read(j, "phase", snap.phase);
  read(j, "stopped", snap.stopped);
  read(j, "interval", snap.interval);
  read(j, "latency", snap.latency);
  read(j, "success_latency", snap.success);
  read(j, "service_latency", snap.service);
  read(j, "send_lag", snap.send_lag);
  read(j, "send_early", snap.send_early);
  if (const Json* kinds = find(j, "errors_by_kind"); kinds != nullptr && kinds->is_object()) {
    for (std::size_t i = 0; i < kErrorKindCount; ++i) {
      const std::string key(to_string(static_cast<ErrorKind>(i)));
      read(*kinds, key.c_str(), snap.errors_by_kind[i]);
    }
  }
  read(j, "errors_without_request", snap.errors_without_request);
  read(j, "late", snap.late);
  read(j, "dropped", snap.dropped);
  read(j, "in_flight", snap.in_flight);
  read(j, "connections", snap.connections);
  if (const Json* tasks = find(j, "tasks"); tasks != nullptr && tasks->is_array()) {
    for (const Json& t : *tasks) {
      if (!t.is_object()) continue;
      TaskSnapshot& task = snap.tasks.emplace_back();
      read(t, "name", task.name);
      read(t, "requests", task.requests);
      read(t, "errors", task.errors);
      read(t, "errors_without_request", task.errors_without_request);
      read(t, "latency", task.latency);
    }
  }
  if (const Json* agents = find(j, "agents"); agents != nullptr && agents->is_array()) {
    for (const Json& a : *agents) {
      if (!a.is_object()) continue;
      AgentSnapshot& agent = snap.agents.emplace_back();
      read(a, "id", agent.id);
      read(a, "state", agent.state);
      read(a, "requests", agent.requests);
      if (const Json* skew = find(a, "start_skew_ms"); skew != nullptr && skew->is_number()) {
        agent.start_skew_ms = skew->get<double>();
      }
    }
  }
  if (const Json* skew = find(j, "start_skew_ms"); skew != nullptr && skew->is_number()) {
    snap.start_skew_ms = skew->get<double>();
  }
  return snap;
}

}  // namespace lp::metrics
