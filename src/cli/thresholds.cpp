#include "cli/thresholds.hpp"

#include <charconv>
#include <cmath>
#include <optional>
#include <string_view>

namespace lp::cli {
namespace {

constexpr std::string_view kValidKeys = core::kThresholdKeys;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<double> parse_number(std::string_view text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc{} || ptr != end || !std::isfinite(value)) return std::nullopt;
  return value;
}

// Checks one item; on success stores the value in `out`, otherwise returns the problem.
std::optional<std::string> apply_one(core::Thresholds& out, const std::string& item) {
  const std::string where = "--threshold '" + item + "': ";
  const auto eq = item.find('=');
  if (eq == std::string::npos) {
    return where + "expected KEY=VALUE, e.g. p99_ms=500 (keys: " + std::string(kValidKeys) + ")";
  }
  const std::string_view key = trim(std::string_view(item).substr(0, eq));
  std::string_view text = trim(std::string_view(item).substr(eq + 1));
  std::optional<double>* field = out.find(key);
  if (field == nullptr) {
    return where + "unknown key '" + std::string(key) + "' (use " + std::string(kValidKeys) + ")";
  }
  const bool is_rate = key == "error_rate" || key == "dropped_rate";
  // "1%" reads naturally for a rate and means the same number.
  if (is_rate && !text.empty() && text.back() == '%') text = trim(text.substr(0, text.size() - 1));
  const auto value = parse_number(text);
  if (!value) return where + "value must be a number";
  if (is_rate && (*value < 0 || *value > 100)) {
    return where + std::string(key) + " is a percent from 0 to 100";
  }
  if (*value < 0) return where + "value must be >= 0 (milliseconds)";
  *field = *value;
  return std::nullopt;
}

}  // namespace

Result<core::Thresholds> apply_threshold_overrides(core::Thresholds base,
                                                   const std::vector<std::string>& items) {
  std::string problems;
  for (const auto& item : items) {
    if (auto problem = apply_one(base, item)) {
      if (!problems.empty()) problems += "; ";
      problems += *problem;
    }
  }
  if (!problems.empty()) {
    return make_error(ErrorCode::Invalid, std::move(problems),
                      "pass each limit as KEY=VALUE, e.g. --threshold p99_ms=500 "
                      "--threshold error_rate=1");
  }
  return base;
}

}  // namespace lp::cli
