// libFuzzer target: core::parse_plan_json on arbitrary text.
//
// Input: the plan text, verbatim (so a seed is a plan file).
// Properties: parsing never throws nor crashes, whatever the text; a failure always
// says what is wrong; a plan that parses can be scheduled (its load profile builds, and
// counts a finite number of iterations, at most 2^53); it round-trips: plan_to_json
// gives text that parses again, to a plan equal to the first in every field and that
// serialises to the same text.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <tuple>

#include "core/plan_json.hpp"
#include "core/profile.hpp"
#include "fuzz/fuzz_check.hpp"

namespace {

// parse_plan_json returns every failure as a value: an exception escaping it would take
// down `loadpilot-coordinator` (and later POST /run) on one bad request.
lp::Result<lp::core::Plan> parse(std::string_view text, const char* which) {
  try {
    return lp::core::parse_plan_json(text);
  } catch (const std::exception& e) {
    LP_FUZZ_CHECK(false, "parse_plan_json threw on the %s text: %s", which, e.what());
  } catch (...) {
    LP_FUZZ_CHECK(false, "parse_plan_json threw a non-std exception on the %s text", which);
  }
  std::abort();
}

// Every field, compared one by one (core::Plan has no operator== yet): a field that
// plan_to_json forgot reads back as its default and shows here. A new field of the
// plan belongs here too.
bool same(const lp::core::Request& a, const lp::core::Request& b) {
  return std::tie(a.method, a.url, a.headers, a.body) == std::tie(b.method, b.url, b.headers, b.body);
}
bool same(const lp::core::Task& a, const lp::core::Task& b) {
  return std::tie(a.name, a.weight, a.method, a.url, a.headers, a.body_template) ==
             std::tie(b.name, b.weight, b.method, b.url, b.headers, b.body_template) &&
         std::equal(a.requests.begin(), a.requests.end(), b.requests.begin(), b.requests.end(),
                    [](const auto& x, const auto& y) { return same(x, y); });
}

/// Name of the first field in which `a` and `b` differ, or null when they are equal.
const char* first_difference(const lp::core::Plan& a, const lp::core::Plan& b) {
  if (a.name != b.name) return "name";
  if (a.rps != b.rps) return "rps";
  if (a.duration_secs != b.duration_secs) return "duration_secs";
  if (a.ramp_up_secs != b.ramp_up_secs) return "ramp_up_secs";
  if (a.mode != b.mode) return "mode";
  if (a.steps != b.steps) return "steps";
  if (a.target_url != b.target_url) return "target_url";
  if (!std::equal(a.tasks.begin(), a.tasks.end(), b.tasks.begin(), b.tasks.end(),
                  [](const auto& x, const auto& y) { return same(x, y); })) {
    return "tasks";
  }
  if (!std::equal(a.vuser_configs.begin(), a.vuser_configs.end(), b.vuser_configs.begin(),
                  b.vuser_configs.end(), [](const auto& x, const auto& y) {
                    return x.task_headers == y.task_headers && x.task_urls == y.task_urls;
                  })) {
    return "vuser_configs";
  }
  const auto& t = a.thresholds;
  const auto& u = b.thresholds;
  if (std::tie(t.p50_ms, t.p95_ms, t.p99_ms, t.max_ms, t.error_rate) !=
      std::tie(u.p50_ms, u.p95_ms, u.p99_ms, u.max_ms, u.error_rate)) {
    return "thresholds";
  }
  const auto& s = a.settings;
  const auto& r = b.settings;
  if (std::tie(s.timeout_ms, s.max_connections, s.threads, s.insecure_tls) !=
      std::tie(r.timeout_ms, r.max_connections, r.threads, r.insecure_tls)) {
    return "settings";
  }
  return nullptr;
}

std::string to_json(const lp::core::Plan& plan, const char* which) {
  try {
    return lp::core::plan_to_json(plan);
  } catch (const std::exception& e) {
    LP_FUZZ_CHECK(false, "plan_to_json threw on the %s plan: %s", which, e.what());
  }
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const auto parsed = parse(text, "input");
  if (!parsed) {
    LP_FUZZ_CHECK(!parsed.error().message.empty(), "a rejected plan without a message");
    return 0;
  }

  // What engine::RateSchedule builds from every accepted plan.
  const lp::core::Profile profile(*parsed);
  LP_FUZZ_CHECK(profile.total_count() >= 0 && profile.total_count() <= 9007199254740992.0,
                "an accepted plan counts %g iterations", profile.total_count());

  const std::string first = to_json(*parsed, "parsed");
  const auto again = parse(first, "serialised");
  LP_FUZZ_CHECK(again.ok(), "plan_to_json gave a plan that does not parse: %s\nerror: %s", first.c_str(),
                again.error().message.c_str());
  const char* lost = first_difference(*parsed, *again);
  LP_FUZZ_CHECK(lost == nullptr, "round trip changed the plan's %s\nserialised: %s", lost, first.c_str());
  const std::string second = to_json(*again, "reparsed");
  LP_FUZZ_CHECK(second == first, "round trip changed the plan\nfirst:  %s\nsecond: %s", first.c_str(),
                second.c_str());
  return 0;
}
