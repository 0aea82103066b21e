#pragma once
// `--junit PATH`: the thresholds as JUnit XML, for CI systems that show test results
// (GitLab, Jenkins, GitHub test reporters, Azure DevOps).

#include <string>

#include "cli/results.hpp"

namespace lp::cli {

/// One <testsuites> with one <testsuite name="loadpilot.<scenario>"> holding a
/// <testcase> per threshold (dropped_rate's default included), named after the limit
/// ("p99_ms <= 500 ms"), classname "loadpilot.<scenario>.thresholds". A breached limit
/// gets a <failure type="ThresholdBreached"> whose message gives the actual value and
/// the limit (or the reason there was nothing to judge). The suite's <properties> carry
/// the target, profile, totals and achieved rate; its time is the run's duration. The
/// plan has no per-task limits, so there are no per-task cases. Text is XML-escaped;
/// characters XML 1.0 cannot carry are replaced with U+FFFD. Does not throw.
std::string junit_xml(const ResultsInput& input);

}  // namespace lp::cli
