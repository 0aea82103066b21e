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
  std::fprintf(out, "Pick a scenario to run:\n");
  for (std::size_t i = 0; i < found.size(); ++i) std::fprintf(out, "  %zu) %s\n", i + 1, found[i].c_str());
  std::fprintf(out, "Number [1]: ");
  std::fflush(out);
  char buf[64] = {};
  if (!std::fgets(buf, sizeof buf, in)) {
    return make_error(ErrorCode::Invalid, "no scenario picked", "pass the file instead: loadpilot run FILE");
  }
  std::string answer(buf);
  answer.erase(answer.find_last_not_of(" \t\r\n") + 1);
  answer.erase(0, answer.find_first_not_of(" \t"));
  if (answer.empty()) return found.front();
  char* end = nullptr;
  long n = std::strtol(answer.c_str(), &end, 10);
  if (*end != '\0' || n < 1 || static_cast<std::size_t>(n) > found.size()) {
    return make_error(ErrorCode::Invalid, "not a choice: '" + answer + "'",
                      "type a number from 1 to " + std::to_string(found.size()) + ", or pass the file: loadpilot run FILE");
  }
  return found[static_cast<std::size_t>(n - 1)];
}

}  // namespace lp::cli
