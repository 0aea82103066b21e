#pragma once
// The plan's JSON form (docs/architecture.md lists the fields). nlohmann/json stays
// inside plan_json.cpp so this header is cheap to include.

#include <string>
#include <string_view>

#include "core/plan.hpp"
#include "core/result.hpp"

namespace lp::core {

/// Parses and validates a plan. On failure the error message lists every problem, one
/// per line (JSON syntax, wrong types, and everything validate() finds).
Result<Plan> parse_plan_json(std::string_view text);

/// The plan as JSON; parse_plan_json(plan_to_json(p)) gives p back.
std::string plan_to_json(const Plan& plan, bool pretty = false);

}  // namespace lp::core
