#pragma once
// `loadpilot init [DIR]`: scaffolds a project: scenarios/example.py (runs against
// loadpilot-target), monitoring/ (Prometheus + Grafana with the LoadPilot dashboard,
// scraping `loadpilot run`'s metrics) and .env.example. Never overwrites a file.

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace lp::cli {

struct InitResult {
  std::vector<std::string> created;  ///< paths relative to the directory, in template order
  std::vector<std::string> skipped;  ///< already there, left untouched
};

/// Writes every src/cli/templates/init/ file under `dir` (created with its parents when
/// missing). A file that already exists is skipped, whatever its content; creation uses
/// O_EXCL, so a file appearing meanwhile is skipped too. Error (ErrorCode::Io) on the
/// first file or directory that cannot be made, naming it and the errno text.
Result<InitResult> init_project(const std::filesystem::path& dir);

/// Runs the command: what was created and skipped, then how to start, on `out`; errors
/// on `err`. Returns 0, or 2 when a file could not be written.
int init_command(const std::string& dir, std::FILE* out, std::FILE* err);

}  // namespace lp::cli
