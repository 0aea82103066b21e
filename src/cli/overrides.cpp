#include "cli/overrides.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "core/duration.hpp"

namespace lp::cli {
namespace {

constexpr const char* kDurationHint = "(use e.g. \"90\", \"500ms\", \"30s\", \"2m30s\")";

std::optional<double> parse_number(const std::string& text) {
  double v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::string number(double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

SettingOverrides parse_setting_flags(const SettingFlags& flags, std::vector<std::string>& problems) {
  SettingOverrides out;
  if (!flags.rps.empty()) {
    out.rps = parse_number(flags.rps);
    if (!out.rps) problems.push_back("--rps must be a number, got '" + flags.rps + "'");
  }
  auto duration = [&](const char* name, const std::string& text, std::optional<double>& field) {
    if (text.empty()) return;
    field = core::parse_duration(text);
    if (!field) problems.push_back(std::string(name) + " is not a duration: '" + text + "' " + kDurationHint);
  };
  duration("--duration", flags.duration, out.duration_secs);
  duration("--ramp-up", flags.ramp_up, out.ramp_up_secs);
  if (!flags.mode.empty()) {
    out.mode = core::parse_mode(flags.mode);
    if (!out.mode) problems.push_back("--mode must be one of ramp, constant, step, spike, got '" + flags.mode + "'");
  }
  if (!flags.steps.empty()) {
    const auto v = parse_number(flags.steps);
    if (v && *v >= 1 && *v <= 1'000'000 && std::floor(*v) == *v) {
      out.steps = static_cast<std::uint32_t>(*v);
    } else {
      problems.push_back("--steps must be a whole number >= 1, got '" + flags.steps + "'");
    }
  }
  return out;
}

void apply_overrides(const SettingOverrides& o, core::Plan& plan) {
  if (o.rps) plan.rps = *o.rps;
  if (o.duration_secs) plan.duration_secs = *o.duration_secs;
  if (o.ramp_up_secs) plan.ramp_up_secs = *o.ramp_up_secs;
  if (o.mode) plan.mode = *o.mode;
  if (o.steps) plan.steps = *o.steps;
}

std::vector<std::string> describe_overrides(const SettingOverrides& o, const core::Plan& before) {
  std::vector<std::string> out;
  if (o.rps) out.push_back("rps " + number(*o.rps) + " (scenario: " + number(before.rps) + ")");
  if (o.duration_secs) {
    out.push_back("duration " + core::format_duration(*o.duration_secs) + " (scenario: " +
                  core::format_duration(before.duration_secs) + ")");
  }
  if (o.ramp_up_secs) {
    out.push_back("ramp_up " + core::format_duration(*o.ramp_up_secs) + " (scenario: " +
                  core::format_duration(before.ramp_up_secs) + ")");
  }
  if (o.mode) out.push_back(std::string("mode ") + core::to_string(*o.mode) + " (scenario: " + core::to_string(before.mode) + ")");
  if (o.steps) out.push_back("steps " + std::to_string(*o.steps) + " (scenario: " + std::to_string(before.steps) + ")");
  return out;
}

}  // namespace lp::cli
