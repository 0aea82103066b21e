#include "cli/templates.hpp"

namespace lp::cli {

std::string_view template_file(std::string_view path) noexcept {
  for (std::size_t i = 0; i < kTemplateCount; ++i) {
    if (kTemplates[i].path == path) return kTemplates[i].content;
  }
  return {};
}

}  // namespace lp::cli
