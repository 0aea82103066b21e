#pragma once
// `loadpilot run` without a file: find the scenario files nearby and, on a terminal,
// let the user pick one; elsewhere say what to pass. Also the pick between several
// @scenario classes of one file.

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace lp::cli {

/// *.py files in `dir` and `dir/scenarios` whose text contains "@scenario", sorted,
/// as paths relative to `dir`. Unreadable files and folders are skipped.
std::vector<std::filesystem::path> find_scenario_files(const std::filesystem::path& dir);

/// With `interactive`, lists `found` on `out` numbered from 1 and reads a number from
/// `in` (empty line: the first). Errors (ErrorCode::Invalid) name the problem and what to
/// pass instead: nothing found, not a terminal (the list is in the hint), a bad choice.
Result<std::filesystem::path> pick_scenario_file(const std::vector<std::filesystem::path>& found, std::FILE* in,
                                                 std::FILE* out, bool interactive);

/// On a terminal, when `file` has several @scenario classes and no --scenario was given:
/// lists `names` (in file order) on `out` numbered from 1 and reads a number from `in`
/// (empty line: the first). Errors (ErrorCode::Invalid) name a bad choice or end of
/// input, with a hint to pass --scenario NAME.
Result<std::string> pick_scenario_class(const std::vector<std::string>& names, const std::string& file,
                                        std::FILE* in, std::FILE* out);

}  // namespace lp::cli
