#pragma once
// `loadpilot run --rps R --duration D --ramp-up D --mode M --steps N`: the scenario's
// load settings overridden from the command line (CI pipelines change these per run,
// as with k6's --vus/--duration and Locust's -u/-t). Parsed like the @scenario values
// and then validated with the plan (core::validate), so their problems read the same.

#include <optional>
#include <string>
#include <vector>

#include "core/plan.hpp"

namespace lp::cli {

/// The flags as typed; empty: not given.
struct SettingFlags {
  std::string rps, duration, ramp_up, mode, steps;
};

struct SettingOverrides {
  std::optional<double> rps;            ///< > 0 (checked with the plan)
  std::optional<double> duration_secs;  ///< a duration: "90", "30s", "2m30s"
  std::optional<double> ramp_up_secs;
  std::optional<core::Mode> mode;
  std::optional<std::uint32_t> steps;   ///< >= 1

  bool empty() const { return !rps && !duration_secs && !ramp_up_secs && !mode && !steps; }
};

/// Parses the flags; one message per bad one is appended to `problems`, worded like the
/// scenario's ("--rps must be a number, got 'fast'", "--duration is not a duration:
/// '2 minutes' (use e.g. ...)", "--mode must be one of ramp, constant, step, spike, got
/// 'burst'", "--steps must be a whole number >= 1, got '0'"). Bad flags are left unset.
SettingOverrides parse_setting_flags(const SettingFlags& flags, std::vector<std::string>& problems);

/// Sets the overridden fields of `plan`.
void apply_overrides(const SettingOverrides& overrides, core::Plan& plan);

/// One "name value (scenario: old)" per override, e.g. "rps 50 (scenario: 100)",
/// "duration 30s (scenario: 1m)", for the note --dry-run and the run print.
std::vector<std::string> describe_overrides(const SettingOverrides& overrides, const core::Plan& before);

}  // namespace lp::cli
