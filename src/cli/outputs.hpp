#pragma once
// Everything a finished run writes to disk: --results-json, --save-baseline, --report,
// --junit. One entry point, so every way of running (local, agents, a coordinator
// service) writes the same files from the same ResultsInput.

#include <cstdio>
#include <string>

#include "cli/report.hpp"
#include "cli/results.hpp"

namespace lp::cli {

struct OutputPaths {
  std::string results_json;  ///< --results-json; empty: not written
  bool save_baseline = false;  ///< also write kBaselinePath
  std::string report;        ///< --report; empty: not written
  std::string junit;         ///< --junit; empty: not written
  ReportOptions report_options;
};

/// Writes every output asked for (each atomically, parent directories created) and
/// prints "wrote PATH" per file to `notes`. Returns false when any could not be
/// written; each failure is printed to `errors` ("error: cannot write ...", "hint: ...")
/// and the others are still written.
bool write_outputs(const ResultsInput& input, const OutputPaths& paths, std::FILE* notes, std::FILE* errors);

}  // namespace lp::cli
