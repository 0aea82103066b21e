#include "cli/report.hpp"

#include <charconv>
#include <cmath>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cli/templates.hpp"

namespace lp::cli {
namespace {

/// JSON text safe inside <script>: '<' only occurs within strings, where \u003c means
/// the same character to JSON.parse.
std::string script_safe(std::string_view json) {
  std::string out;
  out.reserve(json.size() + 64);
  for (const char c : json) {
    if (c == '<') {
      out += "\\u003c";
    } else {
      out += c;
    }
  }
  return out;
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string scenario_of(const std::string& document) {
  const auto doc = nlohmann::json::parse(document, nullptr, /*allow_exceptions=*/false);
  if (doc.is_object() && doc.contains("scenario") && doc["scenario"].is_string()) {
    return doc["scenario"].get<std::string>();
  }
  return "run";
}

}  // namespace

std::string report_html(const std::string& results_document, const ReportOptions& options) {
  nlohmann::json opts = {{"ranges_ms", options.ranges_ms}};
  const std::string_view css = template_file("report/report.css");
  const std::string_view charts = template_file("report/chart.js");
  const std::string_view js = template_file("report/report.js");
  std::string out;
  out.reserve(results_document.size() + css.size() + charts.size() + js.size() + 1024);
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
         // The page may only use what it carries: nothing can be fetched, even by mistake.
         "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
         "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n";
  out += "<title>LoadPilot report · " + html_escape(scenario_of(results_document)) + "</title>\n<style>\n";
  out.append(css);
  out += "</style>\n</head>\n<body>\n<div id=\"lp-report\"></div>\n"
         "<noscript><p style=\"padding:16px\">This report draws its tables and charts with an "
         "inline script: allow JavaScript for this file to see them.</p></noscript>\n"
         "<script type=\"application/json\" id=\"lp-results\">";
  out += script_safe(results_document);
  out += "</script>\n<script type=\"application/json\" id=\"lp-options\">";
  out += script_safe(opts.dump());
  out += "</script>\n<script>\n";
  out.append(charts);
  out += "</script>\n<script>\n";
  out.append(js);
  out += "</script>\n</body>\n</html>\n";
  return out;
}

Result<std::vector<double>> parse_report_ranges(const std::string& text) {
  constexpr std::size_t kMaxRanges = 8;
  std::vector<double> out;
  std::string_view rest = text;
  while (true) {
    const auto comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.size() > 2 && item.substr(item.size() - 2) == "ms") item.remove_suffix(2);
    double v = 0;
    const auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc{} || ptr != item.data() + item.size() || !std::isfinite(v) || v <= 0) {
      return make_error(ErrorCode::Invalid,
                        "--report-ranges '" + text + "': '" + std::string(item) + "' is not a number of milliseconds > 0",
                        "pass ascending limits in ms, e.g. --report-ranges 100,500,1000");
    }
    if (!out.empty() && v <= out.back()) {
      return make_error(ErrorCode::Invalid, "--report-ranges '" + text + "': limits must be ascending",
                        "pass ascending limits in ms, e.g. --report-ranges 100,500,1000");
    }
    out.push_back(v);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (out.size() > kMaxRanges) {
    return make_error(ErrorCode::Invalid, "--report-ranges '" + text + "': at most 8 limits",
                      "pass ascending limits in ms, e.g. --report-ranges 100,500,1000");
  }
  return out;
}

}  // namespace lp::cli
