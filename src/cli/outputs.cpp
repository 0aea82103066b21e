#include "cli/outputs.hpp"

#include "cli/junit.hpp"

namespace lp::cli {

bool write_outputs(const ResultsInput& input, const OutputPaths& paths, std::FILE* notes, std::FILE* errors) {
  const bool wants_document = !paths.results_json.empty() || paths.save_baseline || !paths.report.empty();
  const std::string document = wants_document ? results_json(input) : std::string();
  bool all_written = true;
  auto write = [&](const std::string& path, const std::string& content, const char* what) {
    if (auto status = write_file_atomic(path, content); !status) {
      std::fprintf(errors, "error: %s\n", status.error().message.c_str());
      if (!status.error().hint.empty()) std::fprintf(errors, "hint: %s\n", status.error().hint.c_str());
      all_written = false;
      return;
    }
    std::fprintf(notes, "  wrote %s (%s)\n", path.c_str(), what);
  };
  if (!paths.results_json.empty()) write(paths.results_json, document, "results");
  if (paths.save_baseline) write(kBaselinePath, document, "baseline");
  if (!paths.report.empty()) write(paths.report, report_html(document, paths.report_options), "HTML report");
  if (!paths.junit.empty()) write(paths.junit, junit_xml(input), "JUnit XML");
  std::fflush(notes);
  return all_written;
}

}  // namespace lp::cli
