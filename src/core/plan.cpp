#include "core/plan.hpp"

namespace lp::core {

const char* to_string(Mode mode) {
  switch (mode) {
    case Mode::Ramp: return "ramp";
    case Mode::Constant: return "constant";
    case Mode::Step: return "step";
    case Mode::Spike: return "spike";
  }
  return "ramp";
}

std::optional<Mode> parse_mode(std::string_view text) {
  if (text == "ramp") return Mode::Ramp;
  if (text == "constant") return Mode::Constant;
  if (text == "step") return Mode::Step;
  if (text == "spike") return Mode::Spike;
  return std::nullopt;
}

std::optional<double>* Thresholds::find(std::string_view key) {
  if (key == "p50_ms") return &p50_ms;
  if (key == "p95_ms") return &p95_ms;
  if (key == "p99_ms") return &p99_ms;
  if (key == "max_ms") return &max_ms;
  if (key == "error_rate") return &error_rate;
  return nullptr;
}

double total_secs(const Plan& plan) {
  return plan.mode == Mode::Ramp ? plan.ramp_up_secs + plan.duration_secs : plan.duration_secs;
}

}  // namespace lp::core
