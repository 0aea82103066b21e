#pragma once
// Terminal detection and the small text formatters shared by the dashboard and the
// summary, so both print a number the same way.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace lp::cli {

/// True when stdout is a terminal that understands ANSI escapes: isatty(stdout) and
/// TERM set and not "dumb". False in CI, in pipes and when redirected to a file.
bool stdout_is_terminal();

/// Width of the terminal behind `out` in columns; 0 when `out` is not a terminal or
/// the size is unknown (then callers do not truncate).
std::size_t terminal_columns(std::FILE* out);

/// Elapsed time as "mm:ss", rounded down to the second; minutes keep growing past 59
/// ("90:00"). Negative and non-finite values print as "00:00".
std::string format_clock(double secs);

/// Milliseconds with the decimals that matter: "0.35ms" below 1 ms, "12.3ms" below
/// 100 ms, "250ms" from there up. Non-finite values print as "-".
std::string format_ms(double ms);

/// A count with thousands separators: 1234567 → "1,234,567".
std::string format_count(std::uint64_t n);

/// A percentage with two decimals: 0.2431 → "0.24%".
std::string format_percent(double percent);

/// A rate with at most one decimal, none when whole: 100 → "100", 99.84 → "99.8".
std::string format_rate(double per_sec);

/// Percent of `part` in `whole`; 0 when `whole` is 0 (no requests, no error rate).
double percent_of(std::uint64_t part, std::uint64_t whole) noexcept;

/// Columns `text` takes on a terminal, counting each UTF-8 code point as one (the
/// block and check-mark glyphs we print are all single-width).
std::size_t display_width(std::string_view text) noexcept;

/// `text` cut to at most `width` columns, ending in "…" when cut. 0 means no limit.
std::string fit(std::string_view text, std::size_t width);

/// `text` padded with spaces to `width` columns on the right (left-aligned) or the
/// left (right-aligned). Longer text is returned unchanged.
std::string pad_right(std::string_view text, std::size_t width);
std::string pad_left(std::string_view text, std::size_t width);

}  // namespace lp::cli
