#include "cli/scenario_picker.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace lp::cli {

namespace {

namespace fs = std::filesystem;

bool declares_scenario(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("@scenario") != std::string::npos) return true;
  }
  return false;
}

std::string listing(const std::vector<fs::path>& found) {
  std::string out;
  for (const auto& f : found) out += (out.empty() ? "" : ", ") + f.string();
  return out;
}

/// Lists `items` under `heading`, numbered from 1, and reads the choice (empty: the
/// first). `instead` is the hint for what to pass when no choice comes.
Result<std::size_t> pick_one(const std::string& heading, const std::vector<std::string>& items, std::FILE* in,
                             std::FILE* out, const std::string& instead) {
  std::fprintf(out, "%s\n", heading.c_str());
  for (std::size_t i = 0; i < items.size(); ++i) std::fprintf(out, "  %zu) %s\n", i + 1, items[i].c_str());
  std::fprintf(out, "Number [1]: ");
  std::fflush(out);
  char buf[64] = {};
  if (!std::fgets(buf, sizeof buf, in)) return make_error(ErrorCode::Invalid, "no scenario picked", instead);
  std::string answer(buf);
  answer.erase(answer.find_last_not_of(" \t\r\n") + 1);
  answer.erase(0, answer.find_first_not_of(" \t"));
  if (answer.empty()) return std::size_t{0};
  char* end = nullptr;
  long n = std::strtol(answer.c_str(), &end, 10);
  if (*end != '\0' || n < 1 || static_cast<std::size_t>(n) > items.size()) {
    return make_error(ErrorCode::Invalid, "not a choice: '" + answer + "'",
                      "type a number from 1 to " + std::to_string(items.size()) + ", or " + instead);
  }
  return static_cast<std::size_t>(n - 1);
}

}  // namespace

std::vector<fs::path> find_scenario_files(const fs::path& dir) {
  std::vector<fs::path> found;
  for (const fs::path& sub : {fs::path("."), fs::path("scenarios")}) {
    std::error_code ec;
    fs::directory_iterator it(dir / sub, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      const fs::path& p = it->path();
      if (p.extension() != ".py" || !it->is_regular_file(ec)) continue;
      if (declares_scenario(p)) found.push_back((sub / p.filename()).lexically_normal());
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

Result<fs::path> pick_scenario_file(const std::vector<fs::path>& found, std::FILE* in, std::FILE* out,
                                    bool interactive) {
  if (found.empty()) {
    return make_error(ErrorCode::Invalid, "no scenario file given, and none found in . or ./scenarios",
                      "pass one, e.g. loadpilot run scenarios/checkout.py (see docs/getting-started.md)");
  }
  if (!interactive) {
    return make_error(ErrorCode::Invalid, "no scenario file given",
                      "pass one of: " + listing(found) + " (e.g. loadpilot run " + found.front().string() + ")");
  }
  std::vector<std::string> items;
  for (const auto& f : found) items.push_back(f.string());
  auto index = pick_one("Pick a scenario to run:", items, in, out, "pass the file instead: loadpilot run FILE");
  if (!index) return std::move(index).error();
  return found[*index];
}

Result<std::string> pick_scenario_class(const std::vector<std::string>& names, const std::string& file,
                                        std::FILE* in, std::FILE* out) {
  if (names.empty()) return make_error(ErrorCode::Invalid, "no @scenario class in " + file);
  auto index = pick_one(file + " has " + std::to_string(names.size()) + " scenarios; pick one to run:", names, in,
                        out, "pass it instead: --scenario NAME (e.g. --scenario " + names.front() + ")");
  if (!index) return std::move(index).error();
  return names[*index];
}

}  // namespace lp::cli
