#pragma once
// Files compiled into the binary from src/cli/templates/ (cmake/embed_files.cmake):
// the HTML report's stylesheet and script, and what `loadpilot init` writes.

#include <cstddef>
#include <string_view>

namespace lp::cli {

struct Template {
  std::string_view path;     ///< relative to src/cli/templates/, '/'-separated: "report/report.js"
  std::string_view content;  ///< the file's bytes
};

/// Every embedded file, sorted by path. Defined in the generated templates_data.cpp.
extern const Template kTemplates[];
extern const std::size_t kTemplateCount;

/// The embedded file at `path`; an empty view when there is none.
std::string_view template_file(std::string_view path) noexcept;

}  // namespace lp::cli
