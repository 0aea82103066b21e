#include "core/plan.hpp"

#include <cmath>
#include <cstdio>

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
  if (key == "dropped_rate") return &dropped_rate;
  return nullptr;
}

std::vector<std::string> Thresholds::problems() const {
  std::vector<std::string> out;
  auto text = [](double v) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%g", v);
    return std::string(buf);
  };
  auto latency = [&](const std::optional<double>& v, const char* key) {
    if (v && !(*v >= 0 && std::isfinite(*v))) {
      out.push_back(std::string("threshold ") + key + " must be >= 0, got " + text(*v));
    }
  };
  auto rate = [&](const std::optional<double>& v, const char* key) {
    if (v && !(*v >= 0 && *v <= 100)) {
      out.push_back(std::string("threshold ") + key + " is a percent from 0 to 100, got " + text(*v));
    }
  };
  latency(p50_ms, "p50_ms");
  latency(p95_ms, "p95_ms");
  latency(p99_ms, "p99_ms");
  latency(max_ms, "max_ms");
  rate(error_rate, "error_rate");
  rate(dropped_rate, "dropped_rate");
  return out;
}

double total_secs(const Plan& plan) {
  return plan.mode == Mode::Ramp ? plan.ramp_up_secs + plan.duration_secs : plan.duration_secs;
}

}  // namespace lp::core
