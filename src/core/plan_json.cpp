#include "core/plan_json.hpp"

#include <set>

#include <nlohmann/json.hpp>

#include "core/duration.hpp"
#include "core/validate.hpp"

namespace lp::core {

namespace {

// Ordered: an object of headers keeps the order it was written in.
using json = nlohmann::ordered_json;

/// Reads fields of one JSON object, collecting type problems instead of throwing.
class Reader {
 public:
  Reader(const json& obj, std::string where, std::vector<std::string>& problems)
      : obj_(obj), where_(std::move(where)), problems_(problems) {}

  const json* find(const char* key) const {
    auto it = obj_.find(key);
    return it == obj_.end() || it->is_null() ? nullptr : &*it;
  }

  void string(const char* key, std::string& out) {
    if (auto* v = find(key)) {
      if (v->is_string()) out = v->get<std::string>();
      else wrong(key, "a string", *v);
    }
  }
  void number(const char* key, double& out) {
    if (auto* v = find(key)) {
      if (v->is_number()) out = v->get<double>();
      else wrong(key, "a number", *v);
    }
  }
  /// Seconds as a number, or a duration string such as "30s".
  void seconds(const char* key, double& out) {
    if (auto* v = find(key)) {
      if (v->is_number()) {
        out = v->get<double>();
      } else if (v->is_string()) {
        if (auto d = parse_duration(v->get<std::string>())) out = *d;
        else problem(std::string(key) + " is not a duration: '" + v->get<std::string>() + "' (use e.g. 30, \"500ms\", \"2m30s\")");
      } else {
        wrong(key, "a number of seconds", *v);
      }
    }
  }
  void optional_number(const char* key, std::optional<double>& out) {
    if (auto* v = find(key)) {
      if (v->is_number()) out = v->get<double>();
      else wrong(key, "a number", *v);
    }
  }
  void uint(const char* key, std::uint32_t& out) {
    if (auto* v = find(key)) {
      if (v->is_number_integer() && v->get<long long>() >= 0 && v->get<long long>() <= UINT32_MAX) {
        out = static_cast<std::uint32_t>(v->get<long long>());
      } else {
        wrong(key, "a whole number >= 0", *v);
      }
    }
  }
  void boolean(const char* key, bool& out) {
    if (auto* v = find(key)) {
      if (v->is_boolean()) out = v->get<bool>();
      else wrong(key, "true or false", *v);
    }
  }
  void headers(const char* key, Headers& out) {
    if (auto* v = find(key)) read_headers(*v, key, out);
  }
  /// Headers as a list of [name, value] pairs (order and repeated names kept: what the
  /// CLI sends), or as an object of name to value (accepted for hand-written plans; JSON
  /// objects have no repeated names, and their order is the file's).
  void read_headers(const json& v, const std::string& key, Headers& out) {
    if (v.is_array()) {
      for (std::size_t i = 0; i < v.size(); ++i) {
        const json& pair = v[i];
        if (pair.is_array() && pair.size() == 2 && pair[0].is_string() && pair[1].is_string()) {
          out.emplace_back(pair[0].get<std::string>(), pair[1].get<std::string>());
        } else {
          problem(key + "[" + std::to_string(i) + "] must be a [name, value] pair of strings, got " + pair.dump());
        }
      }
      return;
    }
    if (!v.is_object()) return wrong(key.c_str(), "a list of [name, value] pairs", v);
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (it->is_string()) out.emplace_back(it.key(), it->get<std::string>());
      else problem(key + "['" + it.key() + "'] must be a string");
    }
  }
  const json* array(const char* key) {
    auto* v = find(key);
    if (v && !v->is_array()) {
      wrong(key, "a list", *v);
      return nullptr;
    }
    return v;
  }
  const json* object(const char* key) {
    auto* v = find(key);
    if (v && !v->is_object()) {
      wrong(key, "an object", *v);
      return nullptr;
    }
    return v;
  }
  void problem(std::string text) {
    problems_.push_back(where_.empty() ? std::move(text) : where_ + ": " + text);
  }

 private:
  void wrong(const char* key, const char* expected, const json& got) {
    problem(std::string(key) + " must be " + expected + ", got " + got.dump());
  }

  const json& obj_;
  std::string where_;
  std::vector<std::string>& problems_;
};

Request read_request(const json& j, const std::string& where, std::vector<std::string>& problems) {
  Request r;
  if (!j.is_object()) {
    problems.push_back(where + " must be an object");
    return r;
  }
  Reader in(j, where, problems);
  in.string("method", r.method);
  in.string("url", r.url);
  in.headers("headers", r.headers);
  in.string("body", r.body);
  return r;
}

Task read_task(const json& j, std::size_t index, std::vector<std::string>& problems) {
  Task t;
  std::string where = "tasks[" + std::to_string(index) + "]";
  if (!j.is_object()) {
    problems.push_back(where + " must be an object");
    return t;
  }
  Reader in(j, where, problems);
  in.string("name", t.name);
  in.number("weight", t.weight);
  in.string("method", t.method);
  in.string("url", t.url);
  in.headers("headers", t.headers);
  in.string("body_template", t.body_template);
  if (auto* reqs = in.array("requests")) {
    for (std::size_t i = 0; i < reqs->size(); ++i) {
      t.requests.push_back(read_request((*reqs)[i], where + ".requests[" + std::to_string(i) + "]", problems));
    }
  }
  return t;
}

VUserConfig read_vuser(const json& j, std::size_t index, std::vector<std::string>& problems) {
  VUserConfig vu;
  std::string where = "vuser_configs[" + std::to_string(index) + "]";
  if (!j.is_object()) {
    problems.push_back(where + " must be an object");
    return vu;
  }
  Reader in(j, where, problems);
  if (auto* th = in.object("task_headers")) {
    for (auto it = th->begin(); it != th->end(); ++it) {
      in.read_headers(*it, "task_headers['" + it.key() + "']", vu.task_headers[it.key()]);
    }
  }
  if (auto* tu = in.object("task_urls")) {
    for (auto it = tu->begin(); it != tu->end(); ++it) {
      if (it->is_string()) vu.task_urls[it.key()] = it->get<std::string>();
      else in.problem("task_urls['" + it.key() + "'] must be a string");
    }
  }
  if (auto* tc = in.object("task_calls")) {
    for (auto it = tc->begin(); it != tc->end(); ++it) {
      const std::string key = "task_calls['" + it.key() + "']";
      if (!it->is_array() || it->empty()) {
        in.problem(key + " must be a non-empty list of calls, got " + it->dump());
        continue;
      }
      auto& calls = vu.task_calls[it.key()];
      for (std::size_t i = 0; i < it->size(); ++i) {
        calls.push_back(read_request((*it)[i], where + "." + key + "[" + std::to_string(i) + "]", problems));
      }
    }
  }
  return vu;
}

/// [[name, value], ...]: the order and repeated names survive the round trip.
json headers_json(const Headers& headers) {
  json out = json::array();
  for (const auto& [k, v] : headers) out.push_back(json::array({k, v}));
  return out;
}

json request_json(const Request& r) {
  return {{"method", r.method}, {"url", r.url}, {"headers", headers_json(r.headers)}, {"body", r.body}};
}

}  // namespace

Result<Plan> parse_plan_json(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    // Parse again with exceptions to get the position of the syntax error. A number
    // out of a double's range is an out_of_range, not a parse_error: catch them all.
    std::string detail;
    try {
      json again = json::parse(text);
      (void)again;
    } catch (const json::exception& e) {
      detail = e.what();
    }
    return make_error(ErrorCode::Invalid, "plan is not valid JSON: " + detail,
                      "pass one JSON object (see docs/architecture.md for its fields)");
  }
  if (!j.is_object()) {
    return make_error(ErrorCode::Invalid, "plan must be a JSON object, got " + std::string(j.type_name()));
  }

  Plan plan;
  std::vector<std::string> problems;
  Reader in(j, "", problems);
  in.string("name", plan.name);
  in.number("rps", plan.rps);
  in.seconds("duration_secs", plan.duration_secs);
  in.seconds("ramp_up_secs", plan.ramp_up_secs);
  if (auto* m = in.find("mode")) {
    if (!m->is_string()) {
      in.problem("mode must be a string, got " + m->dump());
    } else if (auto mode = parse_mode(m->get<std::string>())) {
      plan.mode = *mode;
    } else {
      in.problem("mode must be one of ramp, constant, step, spike, got '" + m->get<std::string>() + "'");
    }
  }
  in.uint("steps", plan.steps);
  in.string("target_url", plan.target_url);
  if (auto* tasks = in.array("tasks")) {
    for (std::size_t i = 0; i < tasks->size(); ++i) plan.tasks.push_back(read_task((*tasks)[i], i, problems));
  }
  if (auto* vus = in.array("vuser_configs")) {
    for (std::size_t i = 0; i < vus->size(); ++i) plan.vuser_configs.push_back(read_vuser((*vus)[i], i, problems));
  }
  in.uint("vusers", plan.vusers);
  if (auto* th = in.object("thresholds")) {
    Reader t(*th, "thresholds", problems);
    for (auto it = th->begin(); it != th->end(); ++it) {
      if (auto* slot = plan.thresholds.find(it.key())) {
        t.optional_number(it.key().c_str(), *slot);
      } else {
        t.problem("unknown threshold '" + it.key() + "' (use " + kThresholdKeys + ")");
      }
    }
  }
  in.uint("timeout_ms", plan.settings.timeout_ms);
  in.uint("max_connections", plan.settings.max_connections);
  in.uint("threads", plan.settings.threads);
  in.boolean("insecure_tls", plan.settings.insecure_tls);

  for (auto& p : validate(plan)) problems.push_back(std::move(p));
  if (!problems.empty()) {
    std::string message;
    for (const auto& p : problems) {
      if (!message.empty()) message += '\n';
      message += p;
    }
    return make_error(ErrorCode::Invalid, std::move(message));
  }
  return plan;
}

std::string plan_to_json(const Plan& plan, bool pretty) {
  json j;
  j["name"] = plan.name;
  j["rps"] = plan.rps;
  j["duration_secs"] = plan.duration_secs;
  j["ramp_up_secs"] = plan.ramp_up_secs;
  j["mode"] = to_string(plan.mode);
  j["steps"] = plan.steps;
  j["target_url"] = plan.target_url;
  json tasks = json::array();
  for (const auto& t : plan.tasks) {
    json tj;
    tj["name"] = t.name;
    tj["weight"] = t.weight;
    tj["method"] = t.method;
    tj["url"] = t.url;
    tj["headers"] = headers_json(t.headers);
    tj["body_template"] = t.body_template;
    if (!t.requests.empty()) {
      json reqs = json::array();
      for (const auto& r : t.requests) reqs.push_back(request_json(r));
      tj["requests"] = std::move(reqs);
    }
    tasks.push_back(std::move(tj));
  }
  j["tasks"] = std::move(tasks);
  json vus = json::array();
  for (const auto& vu : plan.vuser_configs) {
    json th = json::object(), tu = json::object();
    for (const auto& [task, h] : vu.task_headers) th[task] = headers_json(h);
    for (const auto& [task, url] : vu.task_urls) tu[task] = url;
    json one = {{"task_headers", th}, {"task_urls", tu}};
    if (!vu.task_calls.empty()) {
      json tc = json::object();
      for (const auto& [task, calls] : vu.task_calls) {
        json list = json::array();
        for (const auto& c : calls) list.push_back(request_json(c));
        tc[task] = std::move(list);
      }
      one["task_calls"] = std::move(tc);  // absent when empty: hand-written plans stay as they were
    }
    vus.push_back(std::move(one));
  }
  j["vuser_configs"] = std::move(vus);
  if (plan.vusers != 0) j["vusers"] = plan.vusers;  // unset: chosen at run time
  json th = json::object();
  const auto& t = plan.thresholds;
  if (t.p50_ms) th["p50_ms"] = *t.p50_ms;
  if (t.p95_ms) th["p95_ms"] = *t.p95_ms;
  if (t.p99_ms) th["p99_ms"] = *t.p99_ms;
  if (t.max_ms) th["max_ms"] = *t.max_ms;
  if (t.error_rate) th["error_rate"] = *t.error_rate;
  if (t.dropped_rate) th["dropped_rate"] = *t.dropped_rate;
  j["thresholds"] = std::move(th);
  j["timeout_ms"] = plan.settings.timeout_ms;
  j["max_connections"] = plan.settings.max_connections;
  j["threads"] = plan.settings.threads;
  j["insecure_tls"] = plan.settings.insecure_tls;
  return pretty ? j.dump(2) : j.dump();
}

}  // namespace lp::core
