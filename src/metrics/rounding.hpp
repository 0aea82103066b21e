#pragma once
// How figures are rounded wherever they are written as JSON (the snapshot stream, the
// results file), so a baseline and the stream agree on every number.
//
// Latencies are whole microseconds, so 3 decimals of a millisecond lose nothing; rates
// are averages over a second where a hundredth is already noise; percentages get 4
// decimals because error_rate limits like 0.01 % are real. Rounding (rather than
// formatting) keeps the numbers doubles, and the shortest-round-trip printer then
// writes "12.345" instead of "12.345000000000001".

#include <cmath>

namespace lp::metrics::rounded {

inline double to(double value, double scale) noexcept {
  if (!std::isfinite(value)) return value;
  return std::round(value * scale) / scale;
}
inline double ms(double v) noexcept { return to(v, 1000.0); }
inline double secs(double v) noexcept { return to(v, 1000.0); }
inline double rate(double v) noexcept { return to(v, 100.0); }
inline double percent(double v) noexcept { return to(v, 10000.0); }

}  // namespace lp::metrics::rounded
