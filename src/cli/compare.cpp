#include "cli/compare.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/results.hpp"
#include "cli/terminal.hpp"
#include "core/duration.hpp"

namespace lp::cli {
namespace {

using Json = nlohmann::json;

constexpr int kOldestSchema = 1;
constexpr const char* kGreen = "\x1b[32m";
constexpr const char* kRed = "\x1b[31m";
constexpr const char* kBold = "\x1b[1m";
constexpr const char* kReset = "\x1b[0m";

Error invalid(const std::string& message, const std::string& hint = {}) {
  return make_error(ErrorCode::Invalid, message, hint);
}

/// The number at a '/'-separated path ("latency/p99_ms"), or nullptr.
const Json* at(const Json& doc, const char* path) {
  const Json* node = &doc;
  std::string_view rest = path;
  while (!rest.empty()) {
    const auto slash = rest.find('/');
    const std::string key(rest.substr(0, slash));
    if (!node->is_object() || !node->contains(key)) return nullptr;
    node = &(*node)[key];
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  }
  return node;
}

// Readers that never throw: a key of the wrong type (a damaged or hand-edited file)
// reads as the fallback, where nlohmann's value() would throw.
double number_of(const Json& object, const char* key, double fallback = 0.0) {
  const Json* v = at(object, key);
  return v != nullptr && v->is_number() ? v->get<double>() : fallback;
}

std::string string_of(const Json& object, const char* key, const std::string& fallback = {}) {
  const Json* v = at(object, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : fallback;
}

std::string text_at(const Json& doc, const char* key) {
  const Json* v = at(doc, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

std::optional<double> stddev(const std::vector<double>& values) {
  if (values.size() < kMinIntervals) return std::nullopt;
  double mean = 0;
  for (double v : values) mean += v;
  mean /= static_cast<double>(values.size());
  double sq = 0;
  for (double v : values) sq += (v - mean) * (v - mean);
  return std::sqrt(sq / static_cast<double>(values.size() - 1));
}

/// Spreads from the steady intervals of the timeline (schema 1 and 2 both have them).
/// Per-interval figures are noisier than the run's (an interval has fewer samples), so
/// this spread is a generous noise band: a change inside it is not called a regression.
void read_spreads(const Json& doc, CompareFigures& f) {
  const Json* timeline = at(doc, "timeline");
  if (timeline == nullptr || !timeline->is_array()) return;
  std::vector<double> rps, p50, p95, p99, errors;
  bool previous_steady = false;
  for (const Json& entry : *timeline) {
    // Only intervals wholly inside the steady phase: the one that ends its first
    // snapshot began while the rate was still changing.
    const bool steady = entry.is_object() && string_of(entry, "phase") == "steady";
    const bool inside = steady && previous_steady;
    previous_steady = steady;
    if (!inside) continue;
    const Json* interval = at(entry, "interval");
    if (interval == nullptr || !interval->is_object()) continue;
    const double secs = number_of(*interval, "secs");
    if (!(secs > 0)) continue;
    rps.push_back(number_of(*interval, "rps"));
    const double requests = number_of(*interval, "requests");
    if (requests > 0) errors.push_back(100.0 * number_of(*interval, "errors") / requests);
    const Json* latency = at(*interval, "latency");
    if (latency != nullptr && latency->is_object() && number_of(*latency, "count") > 0) {
      p50.push_back(number_of(*latency, "p50_ms"));
      p95.push_back(number_of(*latency, "p95_ms"));
      p99.push_back(number_of(*latency, "p99_ms"));
    }
  }
  f.steady_intervals = rps.size();
  f.rps_spread = stddev(rps);
  f.p50_spread = stddev(p50);
  f.p95_spread = stddev(p95);
  f.p99_spread = stddev(p99);
  f.error_rate_spread = stddev(errors);
}

std::string profile_of(const Json& doc) {
  const Json* plan = at(doc, "plan");
  if (plan == nullptr || !plan->is_object()) return {};
  std::ostringstream out;
  out << string_of(*plan, "mode", "?") << " " << number_of(*plan, "rps") << " rps "
      << core::format_duration(number_of(*plan, "duration_secs"));
  if (number_of(*plan, "ramp_up_secs") > 0) out << " after a " << core::format_duration(number_of(*plan, "ramp_up_secs")) << " ramp";
  if (number_of(*plan, "steps") > 0) out << " in " << number_of(*plan, "steps") << " steps";
  return out.str();
}

std::string format_number(double v, bool percent) {
  char buf[48];
  if (percent) {
    std::snprintf(buf, sizeof buf, "%.2f%%", v);
  } else if (std::fabs(v) >= 100) {
    std::snprintf(buf, sizeof buf, "%.1f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f", v);
  }
  return buf;
}

std::string format_change(const CompareRow& r) {
  if (!r.change_pct) return r.current > r.baseline ? "new" : "-";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%+.1f%%", *r.change_pct);
  return buf;
}

const char* verdict_text(Verdict v) {
  switch (v) {
    case Verdict::Same: return "same";
    case Verdict::Better: return "better";
    case Verdict::Worse: return "worse";
    case Verdict::WithinNoise: return "worse, within noise";
    case Verdict::Regression: return "REGRESSION";
  }
  return "?";
}

std::optional<double> larger(const std::optional<double>& a, const std::optional<double>& b) {
  if (a && b) return std::max(*a, *b);
  return a ? a : b;
}

}  // namespace

Result<CompareFigures> read_compare_figures(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return invalid("cannot read " + path + ": " + std::strerror(errno),
                   path == kBaselinePath ? "save a baseline first: loadpilot run SCENARIO --save-baseline"
                                         : "pass the path of a file written by loadpilot run --results-json");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const Json doc = Json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return invalid(path + " is not a results file: it is not a JSON object",
                   "pass a file written by loadpilot run --results-json or --save-baseline");
  }
  const Json* version = at(doc, "schema_version");
  if (version == nullptr || !version->is_number_integer()) {
    return invalid(path + " is not a LoadPilot results file: it has no schema_version",
                   "pass a file written by loadpilot run --results-json or --save-baseline");
  }
  CompareFigures f;
  f.path = path;
  f.schema_version = version->get<int>();
  if (f.schema_version < kOldestSchema || f.schema_version > kResultsSchemaVersion) {
    return invalid(path + " has results schema " + std::to_string(f.schema_version) + "; this loadpilot reads schemas " +
                       std::to_string(kOldestSchema) + " to " + std::to_string(kResultsSchemaVersion),
                   "compare it with the LoadPilot version that wrote it (or a newer one)");
  }
  struct Field {
    const char* path;
    double CompareFigures::*out;
  };
  for (const Field& field : {Field{"rps_actual", &CompareFigures::rps}, Field{"latency/p50_ms", &CompareFigures::p50_ms},
                             Field{"latency/p95_ms", &CompareFigures::p95_ms}, Field{"latency/p99_ms", &CompareFigures::p99_ms},
                             Field{"error_rate", &CompareFigures::error_rate}}) {
    const Json* v = at(doc, field.path);
    if (v == nullptr || !v->is_number()) {
      std::string key = field.path;
      for (auto& c : key) c = c == '/' ? '.' : c;
      return invalid(path + " lacks " + key + " (a number)", "the file is damaged or was not written by loadpilot run");
    }
    f.*field.out = v->get<double>();
  }
  f.scenario = text_at(doc, "scenario");
  f.target_url = text_at(doc, "target_url");
  f.started = text_at(doc, "started_at_iso");
  f.profile = profile_of(doc);
  read_spreads(doc, f);
  return f;
}

Comparison compare_runs(const CompareFigures& cur, const CompareFigures& base, double threshold_pct) {
  Comparison out;
  struct Metric {
    const char* name;
    double CompareFigures::*value;
    std::optional<double> CompareFigures::*spread;
    bool higher_is_better;
  };
  const Metric metrics[] = {
      {"rps", &CompareFigures::rps, &CompareFigures::rps_spread, true},
      {"p50_ms", &CompareFigures::p50_ms, &CompareFigures::p50_spread, false},
      {"p95_ms", &CompareFigures::p95_ms, &CompareFigures::p95_spread, false},
      {"p99_ms", &CompareFigures::p99_ms, &CompareFigures::p99_spread, false},
      {"error_rate", &CompareFigures::error_rate, &CompareFigures::error_rate_spread, false},
  };
  for (const Metric& m : metrics) {
    CompareRow row;
    row.metric = m.name;
    row.baseline = base.*m.value;
    row.current = cur.*m.value;
    row.higher_is_better = m.higher_is_better;
    row.spread = larger(base.*m.spread, cur.*m.spread);
    const double delta = row.current - row.baseline;
    if (row.baseline != 0) row.change_pct = 100.0 * delta / std::fabs(row.baseline);
    else if (row.current == 0) row.change_pct = 0.0;
    if (delta == 0) {
      row.verdict = Verdict::Same;
    } else {
      const bool worse = m.higher_is_better ? delta < 0 : delta > 0;
      // From 0, a change has no percentage: it is beyond any threshold.
      const bool beyond = !row.change_pct || std::fabs(*row.change_pct) > threshold_pct;
      const bool noise = row.spread && std::fabs(delta) <= *row.spread;
      if (!worse) row.verdict = Verdict::Better;
      else if (!beyond) row.verdict = Verdict::Worse;
      else row.verdict = noise ? Verdict::WithinNoise : Verdict::Regression;
    }
    out.regressed = out.regressed || row.verdict == Verdict::Regression;
    out.rows.push_back(std::move(row));
  }
  if (cur.scenario != base.scenario) out.notes.push_back("the runs are of different scenarios (" + base.scenario + ", " + cur.scenario + ")");
  if (cur.target_url != base.target_url) out.notes.push_back("the runs hit different targets (" + base.target_url + ", " + cur.target_url + ")");
  if (!cur.profile.empty() && !base.profile.empty() && cur.profile != base.profile) {
    out.notes.push_back("the runs have different profiles (" + base.profile + ", " + cur.profile + ")");
  }
  return out;
}

std::string render_comparison(const Comparison& c, const CompareFigures& cur, const CompareFigures& base,
                              double threshold_pct, bool color) {
  std::string out;
  auto describe = [](const CompareFigures& f) {
    std::string s = f.path;
    if (!f.scenario.empty()) s += " · " + f.scenario;
    if (!f.started.empty()) s += " · " + f.started;
    return s;
  };
  out += "  baseline  " + describe(base) + "\n";
  out += "  current   " + describe(cur) + "\n\n";
  out += "  " + pad_right("metric", 12) + pad_left("baseline", 12) + pad_left("current", 12) + pad_left("change", 10) +
         pad_left("noise ±", 10) + "   verdict\n";
  for (const auto& r : c.rows) {
    const bool pct = r.metric == "error_rate";
    const char* paint = nullptr;
    if (r.verdict == Verdict::Better) paint = kGreen;
    if (r.verdict == Verdict::Worse || r.verdict == Verdict::WithinNoise) paint = kRed;
    if (r.verdict == Verdict::Regression) paint = kRed;
    std::string verdict = verdict_text(r.verdict);
    std::string change = pad_left(format_change(r), 10);
    if (color && paint != nullptr) {
      change = std::string(paint) + change + kReset;
      verdict = std::string(paint) + (r.verdict == Verdict::Regression ? kBold : "") + verdict + kReset;
    }
    out += "  " + pad_right(r.metric, 12) + pad_left(format_number(r.baseline, pct), 12) +
           pad_left(format_number(r.current, pct), 12) + change +
           pad_left(r.spread ? format_number(*r.spread, pct) : "-", 10) + "   " + verdict + "\n";
  }
  out += "\n  noise: the larger of the two runs' standard deviation of the figure over its steady intervals (" +
         std::to_string(base.steady_intervals) + " and " + std::to_string(cur.steady_intervals) + "); '-' with fewer than " +
         std::to_string(kMinIntervals) + "\n";
  for (const auto& note : c.notes) out += "  note: " + note + "\n";
  std::vector<std::string> regressed, noisy;
  for (const auto& r : c.rows) {
    if (r.verdict == Verdict::Regression) regressed.push_back(r.metric);
    if (r.verdict == Verdict::WithinNoise) noisy.push_back(r.metric);
  }
  char pct[32];
  std::snprintf(pct, sizeof pct, "%g%%", threshold_pct);
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  };
  out += "\n";
  if (!regressed.empty()) {
    std::string line = std::to_string(regressed.size()) + (regressed.size() == 1 ? " figure" : " figures") +
                       " regressed by more than " + pct + ": " + join(regressed);
    out += color ? std::string(kRed) + kBold + line + kReset + "\n" : line + "\n";
  } else {
    out += std::string("No regression beyond ") + pct + "\n";
  }
  if (!noisy.empty()) {
    out += "(" + join(noisy) + ": worse by more than " + pct + " but within the runs' own interval-to-interval spread)\n";
  }
  return out;
}

int compare_command(const CompareArgs& args, std::FILE* out, std::FILE* err, bool color) {
  auto print_error = [&](const Error& e) {
    std::fprintf(err, "error: %s\n", e.message.c_str());
    if (!e.hint.empty()) std::fprintf(err, "hint: %s\n", e.hint.c_str());
  };
  double threshold = 0;
  {
    std::string_view t = args.threshold;
    if (!t.empty() && t.back() == '%') t.remove_suffix(1);
    const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), threshold);
    if (t.empty() || ec != std::errc{} || ptr != t.data() + t.size() || !std::isfinite(threshold) || threshold < 0) {
      print_error(invalid("--threshold must be a percent >= 0, got '" + args.threshold + "'",
                          "e.g. --threshold 10 (fail on a figure more than 10 % worse)"));
      return 2;
    }
  }
  auto current = read_compare_figures(args.current);
  if (!current) {
    print_error(current.error());
    return 2;
  }
  auto baseline = read_compare_figures(args.baseline.empty() ? kBaselinePath : args.baseline);
  if (!baseline) {
    print_error(baseline.error());
    return 2;
  }
  const Comparison c = compare_runs(*current, *baseline, threshold);
  std::fputs(render_comparison(c, *current, *baseline, threshold, color).c_str(), out);
  std::fflush(out);
  return c.regressed ? 1 : 0;
}

}  // namespace lp::cli
