#pragma once
// `--report PATH`: one self-contained HTML file drawn from the results document.
//
// The page carries the results JSON (docs/results.md) and inline scripts
// (templates/report/chart.js, report.js) that draw every table and chart from it as
// SVG; the stylesheet is inline too. It fetches nothing (no fonts, images, scripts or
// styles from anywhere), so it opens from disk in any browser and shows the same run
// whether it came from a local run, agents or a coordinator service: all it needs is
// the results document.

#include <string>
#include <vector>

#include "core/result.hpp"

namespace lp::cli {

struct ReportOptions {
  /// Upper limits (ms) of the response-time ranges, ascending: the report shows the
  /// share of responses under the first, between each pair and above the last.
  std::vector<double> ranges_ms = {100, 500, 1000};
};

/// The HTML page for `results_document` (the text results_json() returns). The JSON is
/// embedded as is, with every '<' written as \u003c so no string in it can end the
/// script element. The <title> names the scenario (HTML-escaped).
std::string report_html(const std::string& results_document, const ReportOptions& options);

/// --report-ranges: comma-separated milliseconds ("100,500,1000"), each > 0, strictly
/// ascending, at most 8. Error (Invalid) names the bad item.
Result<std::vector<double>> parse_report_ranges(const std::string& text);

}  // namespace lp::cli
