#include "cli/terminal.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

namespace lp::cli {
namespace {

bool is_continuation(unsigned char c) noexcept { return (c & 0xC0) == 0x80; }

}  // namespace

bool stdout_is_terminal() {
  if (::isatty(STDOUT_FILENO) == 0) return false;
  const char* term = std::getenv("TERM");
  return term != nullptr && *term != '\0' && std::strcmp(term, "dumb") != 0;
}

std::size_t terminal_columns(std::FILE* out) {
  if (out == nullptr) return 0;
  const int fd = ::fileno(out);
  if (fd < 0 || ::isatty(fd) == 0) return 0;
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) != 0) return 0;
  return ws.ws_col;
}

std::string format_clock(double secs) {
  if (!std::isfinite(secs) || secs < 0) secs = 0;
  const auto whole = static_cast<long long>(std::floor(secs));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld", whole / 60, whole % 60);
  return buf;
}

std::string format_ms(double ms) {
  if (!std::isfinite(ms)) return "-";
  char buf[48];
  // Sub-millisecond latencies (loopback, caches) would all read "0.0ms" with one
  // decimal; above 100 ms a tenth is noise next to network jitter.
  if (ms < 1.0) {
    std::snprintf(buf, sizeof buf, "%.2fms", ms);
  } else if (ms < 100.0) {
    std::snprintf(buf, sizeof buf, "%.1fms", ms);
  } else {
    std::snprintf(buf, sizeof buf, "%.0fms", ms);
  }
  return buf;
}

std::string format_count(std::uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  out.reserve(digits.size() + digits.size() / 3);
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string format_percent(double percent) {
  if (!std::isfinite(percent)) return "-";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.2f%%", percent);
  return buf;
}

std::string format_rate(double per_sec) {
  if (!std::isfinite(per_sec)) return "-";
  char buf[48];
  const double tenths = std::round(per_sec * 10.0) / 10.0;
  if (tenths == std::floor(tenths)) {
    std::snprintf(buf, sizeof buf, "%.0f", tenths);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f", tenths);
  }
  return buf;
}

double percent_of(std::uint64_t part, std::uint64_t whole) noexcept {
  if (whole == 0) return 0.0;
  return static_cast<double>(part) / static_cast<double>(whole) * 100.0;
}

std::size_t display_width(std::string_view text) noexcept {
  std::size_t width = 0;
  for (char c : text) {
    if (!is_continuation(static_cast<unsigned char>(c))) ++width;
  }
  return width;
}

std::string fit(std::string_view text, std::size_t width) {
  if (width == 0 || display_width(text) <= width) return std::string(text);
  // Keep width - 1 code points and spend the last column on the ellipsis.
  std::size_t kept = 0, i = 0;
  for (; i < text.size(); ++i) {
    if (!is_continuation(static_cast<unsigned char>(text[i]))) {
      if (kept == width - 1) break;
      ++kept;
    }
  }
  return std::string(text.substr(0, i)) + "…";
}

std::string pad_right(std::string_view text, std::size_t width) {
  std::string out(text);
  const std::size_t w = display_width(text);
  if (w < width) out.append(width - w, ' ');
  return out;
}

std::string pad_left(std::string_view text, std::size_t width) {
  const std::size_t w = display_width(text);
  std::string out;
  if (w < width) out.append(width - w, ' ');
  out += text;
  return out;
}

}  // namespace lp::cli
