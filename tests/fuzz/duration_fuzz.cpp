// libFuzzer target: core::parse_duration and core::format_duration.
//
// Input: a duration as a user writes it ("2m30s"), verbatim.
// Properties: neither function crashes; a duration that parses is finite and >= 0; its
// short form parses back, to the same value within the short form's rounding (whole
// ms below 1 s, a tenth of a second for other fractions).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/duration.hpp"
#include "fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const std::optional<double> secs = lp::core::parse_duration(text);
  if (!secs) return 0;
  LP_FUZZ_CHECK(std::isfinite(*secs) && *secs >= 0, "'%.*s' parsed to %g", static_cast<int>(size), text.data(),
                *secs);

  const std::string shown = lp::core::format_duration(*secs);
  const std::optional<double> back = lp::core::parse_duration(shown);
  LP_FUZZ_CHECK(back.has_value(), "'%.*s' = %.17g s is shown as '%s', which does not parse",
                static_cast<int>(size), text.data(), *secs, shown.c_str());
  // Half a unit of the last digit shown, plus the double's own rounding.
  const double tolerance = (*secs < 1.0 ? 0.0005 : 0.05) + *secs * 1e-15;
  LP_FUZZ_CHECK(std::fabs(*back - *secs) <= tolerance, "'%.*s' = %.17g s is shown as '%s' = %.17g s",
                static_cast<int>(size), text.data(), *secs, shown.c_str(), *back);
  return 0;
}
