#include "core/duration.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace lp::core {

namespace {

std::optional<double> unit_seconds(std::string_view unit) {
  if (unit == "ms") return 0.001;
  if (unit == "s" || unit.empty()) return 1.0;
  if (unit == "m") return 60.0;
  if (unit == "h") return 3600.0;
  return std::nullopt;
}

}  // namespace

std::optional<double> parse_duration(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  if (text.empty()) return std::nullopt;

  double total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (i == start) return std::nullopt;
    std::string number(text.substr(start, i - start));
    char* end = nullptr;
    double value = std::strtod(number.c_str(), &end);
    if (end != number.c_str() + number.size() || !std::isfinite(value)) return std::nullopt;

    std::size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    auto scale = unit_seconds(unit);
    if (!scale) return std::nullopt;
    // A bare number is only valid on its own: "90" yes, "1m30" no.
    if (unit.empty() && (start != 0 || i != text.size())) return std::nullopt;
    total += value * *scale;
  }
  // Every part is finite, but hours of 1e306 are not.
  if (!std::isfinite(total)) return std::nullopt;
  return total;
}

std::string format_duration(double secs) {
  char buf[64];
  if (secs < 0) secs = 0;
  if (secs < 1.0 && secs > 0) {
    std::snprintf(buf, sizeof buf, "%.0fms", secs * 1000.0);
    return buf;
  }
  if (std::fabs(secs - std::round(secs)) > 1e-9) {
    std::snprintf(buf, sizeof buf, "%.1fs", secs);
    return buf;
  }
  // Hours, minutes and seconds need the value in a long long. Beyond that (2^63 s) plain
  // whole seconds, which parse back to the same double; DBL_MAX has 309 digits.
  if (!(secs < 9.2e18)) {
    char whole[400];
    std::snprintf(whole, sizeof whole, "%.0fs", secs);
    return whole;
  }
  auto s = static_cast<long long>(std::llround(secs));
  long long h = s / 3600, m = (s % 3600) / 60, r = s % 60;
  std::string out;
  if (h) out += std::to_string(h) + "h";
  if (m) out += std::to_string(m) + "m";
  if (r || out.empty()) out += std::to_string(r) + "s";
  return out;
}

}  // namespace lp::core
