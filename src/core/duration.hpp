#pragma once
// Durations as users write them: "90" (seconds), "500ms", "30s", "2m", "1h", "2m30s".

#include <optional>
#include <string>
#include <string_view>

namespace lp::core {

/// Seconds in `text`, or nullopt when it is not a duration. Units: ms, s, m, h; a bare
/// number is seconds; parts add up ("1h30m"). Fractions are allowed ("1.5s").
std::optional<double> parse_duration(std::string_view text);

/// Short human form: 90 → "1m30s", 0.5 → "500ms", 30 → "30s".
std::string format_duration(double secs);

}  // namespace lp::core
