#include "cli/junit.hpp"

#include <cstdio>
#include <ctime>
#include <string_view>

namespace lp::cli {
namespace {

constexpr std::string_view kReplacement = "\xef\xbf\xbd";  // U+FFFD

/// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  }
  return n;
}

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    const std::size_t n = utf8_length(text, i);
    if (n == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    if (n > 1) {
      out.append(text.substr(i, n));
      i += n;
      continue;
    }
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 allows no control character but tab, newline and carriage return.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
          out += kReplacement;
        } else {
          out += c;
        }
    }
    ++i;
  }
  return out;
}

std::string number(double v, const char* format = "%g") {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

bool is_rate(const metrics::ThresholdResult& r) { return r.key == "error_rate" || r.key == "dropped_rate"; }

std::string with_unit(const metrics::ThresholdResult& r, double v, const char* format) {
  return number(v, format) + (is_rate(r) ? " %" : " ms");
}

std::string case_name(const metrics::ThresholdResult& r) {
  return r.key + " <= " + with_unit(r, r.limit, "%g") + (r.defaulted ? " (default)" : "");
}

std::string failure_message(const metrics::ThresholdResult& r) {
  if (!r.reason.empty()) return r.key + ": " + r.reason + " (limit " + with_unit(r, r.limit, "%g") + ")";
  return r.key + " was " + with_unit(r, r.actual, is_rate(r) ? "%.4g" : "%.3f") + ", over the limit of " +
         with_unit(r, r.limit, "%g");
}

std::string timestamp(double unix_secs) {
  if (!(unix_secs > 0)) return {};
  const auto t = static_cast<std::time_t>(unix_secs);
  std::tm tm{};
  char buf[32];
  if (::gmtime_r(&t, &tm) == nullptr || std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm) == 0) return {};
  return buf;
}

void property(std::string& out, std::string_view name, const std::string& value) {
  out += "      <property name=\"";
  out += name;
  out += "\" value=\"" + xml_escape(value) + "\"/>\n";
}

}  // namespace

std::string junit_xml(const ResultsInput& in) {
  const auto& f = in.final;
  const double duration = in.started_at > 0 && in.finished_at > 0 ? in.finished_at - in.started_at : f.elapsed_secs;
  const double load = f.load_secs > 0 ? f.load_secs : duration;
  std::size_t failures = 0;
  for (const auto& r : in.thresholds) failures += r.passed ? 0 : 1;
  const std::string suite = xml_escape("loadpilot." + in.scenario);
  const std::string counts = "tests=\"" + std::to_string(in.thresholds.size()) + "\" failures=\"" +
                             std::to_string(failures) + "\" errors=\"0\"";
  const std::string time = number(duration > 0 ? duration : 0, "%.3f");

  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<testsuites name=\"loadpilot\" " + counts + " time=\"" + time + "\">\n";
  out += "  <testsuite name=\"" + suite + "\" " + counts + " skipped=\"0\" time=\"" + time + "\"";
  if (const std::string ts = timestamp(in.started_at); !ts.empty()) out += " timestamp=\"" + ts + "\"";
  out += ">\n    <properties>\n";
  property(out, "target_url", in.target_url);
  property(out, "profile", std::string(core::to_string(in.plan.mode)) + ", " + number(in.plan.rps) + " rps, " +
                               number(core::total_secs(in.plan)) + " s");
  property(out, "mode", in.mode);
  property(out, "requests_total", std::to_string(f.requests_total));
  property(out, "errors_total", std::to_string(f.errors_total));
  property(out, "rps_actual", number(load > 0 ? static_cast<double>(f.requests_total) / load : 0, "%.2f"));
  property(out, "stopped", f.stopped ? "true" : "false");
  out += "    </properties>\n";
  for (const auto& r : in.thresholds) {
    out += "    <testcase name=\"" + xml_escape(case_name(r)) + "\" classname=\"" + suite + ".thresholds\" time=\"0\"";
    if (r.passed) {
      out += "/>\n";
      continue;
    }
    const std::string message = xml_escape(failure_message(r));
    out += ">\n      <failure type=\"ThresholdBreached\" message=\"" + message + "\">" + message +
           "</failure>\n    </testcase>\n";
  }
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

}  // namespace lp::cli
