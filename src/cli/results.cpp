#include "cli/results.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <system_error>

#include <nlohmann/json.hpp>

#include "cli/build_info.hpp"
#include "metrics/rounding.hpp"
#include "metrics/snapshot_json.hpp"

namespace lp::cli {
namespace {

// Insertion order keeps the document readable top-down: totals first, detail after.
using Json = nlohmann::ordered_json;

// Same rounding as the snapshot stream, so a baseline and the stream agree.
using metrics::latency_json;
using metrics::rounded::ms;
using metrics::rounded::percent;
using metrics::rounded::rate;
using metrics::rounded::secs;


// Thresholds keep their unit: ms for latency keys, percent for the rates.
double threshold_number(const metrics::ThresholdResult& r, double v) {
  return r.key == "error_rate" || r.key == "dropped_rate" ? percent(v) : ms(v);
}

const char* unit_of(const metrics::ThresholdResult& r) {
  return r.key == "error_rate" || r.key == "dropped_rate" ? "percent" : "ms";
}

std::uint64_t minus(std::uint64_t later, std::uint64_t earlier) { return later > earlier ? later - earlier : 0; }

/// Every kind (`all`), or only those with a count, by their JSON names.
Json kinds_json(const std::array<std::uint64_t, metrics::kErrorKindCount>& counts, bool all) {
  Json kinds = Json::object();
  for (std::size_t i = 0; i < metrics::kErrorKindCount; ++i) {
    if (!all && counts[i] == 0) continue;
    kinds[std::string(metrics::to_string(static_cast<metrics::ErrorKind>(i)))] = counts[i];
  }
  return kinds;
}

Json thresholds_json(const std::vector<metrics::ThresholdResult>& results) {
  Json out = Json::array();
  for (const auto& r : results) {
    Json row{{"key", r.key},
             {"limit", threshold_number(r, r.limit)},
             {"actual", threshold_number(r, r.actual)},
             {"unit", unit_of(r)},
             {"passed", r.passed},
             {"default", r.defaulted}};
    if (!r.reason.empty()) row["reason"] = r.reason;
    out.push_back(std::move(row));
  }
  return out;
}

/// A snapshot's interval block, with the interval's own errors by kind, late and
/// dropped (this snapshot's cumulative counts minus the previous one's).
Json timeline_json(const metrics::Snapshot& s, const metrics::Snapshot* previous) {
  std::array<std::uint64_t, metrics::kErrorKindCount> kinds = s.errors_by_kind;
  std::uint64_t late = s.late, dropped = s.dropped;
  if (previous != nullptr) {
    for (std::size_t i = 0; i < kinds.size(); ++i) kinds[i] = minus(kinds[i], previous->errors_by_kind[i]);
    late = minus(late, previous->late);
    dropped = minus(dropped, previous->dropped);
  }
  const auto& i = s.interval;
  return Json{{"elapsed_secs", secs(s.elapsed_secs)},
              {"phase", s.phase},
              {"current_rps", rate(s.current_rps)},
              {"target_rps", rate(s.target_rps)},
              {"requests_total", s.requests_total},
              {"errors_total", s.errors_total},
              {"p50_ms", ms(s.latency.p50_ms)},
              {"p95_ms", ms(s.latency.p95_ms)},
              {"p99_ms", ms(s.latency.p99_ms)},
              {"late", s.late},
              {"dropped", s.dropped},
              {"in_flight", s.in_flight},
              {"connections", s.connections},
              {"active_workers", s.active_workers},
              {"interval", Json{{"secs", secs(i.secs)},
                                {"requests", i.requests},
                                {"errors", i.errors},
                                {"rps", rate(i.rps)},
                                {"latency", latency_json(i.latency)},
                                {"errors_by_kind", kinds_json(kinds, /*all=*/false)},
                                {"late", late},
                                {"dropped", dropped}}}};
}

Json step_json(const StepResult& s) {
  const auto& f = s.figures;
  return Json{{"step", s.step},
              {"target_rps", rate(s.target_rps)},
              {"from_secs", secs(s.from_secs)},
              {"to_secs", secs(s.to_secs)},
              {"measured_from_secs", secs(s.measured_from_secs)},
              {"measured_to_secs", secs(s.measured_to_secs)},
              {"partial", s.partial},
              {"requests", s.requests},
              {"errors", s.errors},
              {"error_rate", percent(f.error_rate())},
              {"rps", rate(s.rps)},
              {"iterations", s.iterations},
              {"late", s.late},
              {"dropped", s.dropped},
              {"dropped_rate", percent(f.dropped_rate())},
              {"latency", latency_json(f.latency)},
              {"success_latency", latency_json(f.success)},
              {"errors_by_kind", kinds_json(f.errors_by_kind, /*all=*/false)},
              {"thresholds", thresholds_json(s.thresholds)},
              {"passed", s.passed}};
}

/// {count, min_us, max_us, sum_us, saturated, buckets: [[lower_us, upper_us, count], ...]}:
/// the non-empty buckets, ascending, with their inclusive bounds.
Json histogram_json(const metrics::Histogram& h) {
  Json buckets = Json::array();
  for (const auto& [index, count] : h.sparse()) {
    buckets.push_back(Json::array({metrics::Histogram::bucket_lower(index),
                                   metrics::Histogram::bucket_upper(index), count}));
  }
  return Json{{"count", h.count()},
              {"min_us", h.min_us()},
              {"max_us", h.max_us()},
              {"sum_us", h.sum_us()},
              {"saturated", h.saturated()},
              {"buckets", std::move(buckets)}};
}

/// "2024-05-01T12:00:00Z" (UTC, whole seconds); null for 0 (not set).
Json iso_time(double unix_secs) {
  if (!(unix_secs > 0)) return nullptr;
  const std::time_t t = static_cast<std::time_t>(unix_secs);
  std::tm tm{};
  if (::gmtime_r(&t, &tm) == nullptr) return nullptr;
  char buf[32];
  if (std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) return nullptr;
  return std::string(buf);
}

Error io_error(const std::string& path, int err) {
  return make_error(ErrorCode::Io, "cannot write " + path + ": " + std::strerror(err),
                    "check that the directory exists or can be created and is writable");
}

bool write_all(int fd, const std::string& content) {
  const char* p = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

std::string results_json(const ResultsInput& in) {
  const auto& f = in.final;
  const double duration = in.started_at > 0 && in.finished_at > 0
                              ? in.finished_at - in.started_at
                              : f.elapsed_secs;
  // One definition of the achieved rate: requests over the load duration.
  const double load = f.load_secs > 0 ? f.load_secs : f.elapsed_secs > 0 ? f.elapsed_secs : duration;
  const double rps_actual = load > 0 ? static_cast<double>(f.requests_total) / load : 0.0;
  const metrics::RunStats* stats = in.final_stats ? &*in.final_stats : nullptr;

  Json j = Json::object();
  j["schema_version"] = kResultsSchemaVersion;
  const BuildInfo& build = build_info();
  j["loadpilot"] = Json{{"version", build.version},
                        {"commit", build.commit},
                        {"build_type", build.build_type},
                        {"compiler", build.compiler}};
  j["command_line"] = in.command_line;
  j["scenario"] = in.scenario;
  j["target_url"] = in.target_url;
  j["mode"] = in.mode;
  j["plan"] = Json{{"mode", core::to_string(in.plan.mode)},
                   {"rps", rate(in.plan.rps)},
                   {"duration_secs", secs(in.plan.duration_secs)},
                   {"ramp_up_secs", secs(in.plan.mode == core::Mode::Ramp ? in.plan.ramp_up_secs : 0.0)},
                   {"steps", in.plan.mode == core::Mode::Step ? in.plan.steps : 0u},
                   {"total_secs", secs(core::total_secs(in.plan))},
                   {"vusers", in.plan.vusers}};
  j["started_at"] = secs(in.started_at);
  j["started_at_iso"] = iso_time(in.started_at);
  j["finished_at"] = secs(in.finished_at);
  j["duration_secs"] = secs(duration);
  j["load_secs"] = secs(load);
  j["stopped"] = f.stopped;
  Json agents = Json::array();
  for (const auto& a : in.agents) {
    agents.push_back(Json{{"id", a.id}, {"state", a.state}, {"requests", a.requests},
                          {"start_skew_ms", ms(a.start_skew_ms)}});
  }
  j["agents"] = std::move(agents);
  if (in.vusers) {
    j["vusers"] = Json{{"size", in.vusers->size}, {"started", in.vusers->started}, {"cap", in.vusers->cap},
                       {"fixed", in.vusers->fixed}, {"saturated", in.vusers->saturated}};
  } else {
    j["vusers"] = nullptr;
  }

  j["requests_total"] = f.requests_total;
  j["errors_total"] = f.errors_total;
  j["error_rate"] = percent(f.error_rate());
  j["errors_without_request"] = f.errors_without_request;
  j["rps_actual"] = rate(rps_actual);
  j["rps_target"] = rate(in.plan.rps);
  j["latency"] = latency_json(f.latency);
  j["success_latency"] = latency_json(f.success);
  j["service_latency"] = latency_json(f.service);
  j["errors_by_kind"] = kinds_json(f.errors_by_kind, /*all=*/true);
  j["iterations"] = f.iterations;
  j["late"] = f.late;
  j["dropped"] = f.dropped;
  j["dropped_rate"] = percent(f.dropped_rate());

  Json tasks = Json::array();
  for (std::size_t i = 0; i < f.tasks.size(); ++i) {
    const auto& t = f.tasks[i];
    const metrics::TaskStats* ts = stats != nullptr && i < stats->tasks.size() ? &stats->tasks[i] : nullptr;
    tasks.push_back(Json{{"name", t.name},
                         {"requests", t.requests},
                         {"errors", t.errors},
                         {"error_rate", percent(t.error_rate())},
                         {"rps", rate(load > 0 ? static_cast<double>(t.requests) / load : 0.0)},
                         {"latency", latency_json(t.latency)},
                         {"success_latency", ts ? latency_json(metrics::LatencySummary::of(ts->success)) : Json()},
                         {"errors_by_kind", ts ? kinds_json(ts->errors_by_kind, /*all=*/false) : Json()}});
  }
  j["tasks"] = std::move(tasks);

  j["thresholds"] = thresholds_json(in.thresholds);
  j["passed"] = metrics::all_passed(in.thresholds);

  Json steps = Json::array();
  for (const auto& s : in.steps) steps.push_back(step_json(s));
  j["steps"] = std::move(steps);
  const auto knee = knee_index(in.steps);
  if (knee) {
    const StepResult& k = in.steps[*knee];
    j["knee"] = Json{{"step", k.step},
                     {"target_rps", rate(k.target_rps)},
                     {"rps", rate(k.rps)},
                     {"p99_ms", ms(k.figures.latency.p99_ms)},
                     {"error_rate", percent(k.figures.error_rate())},
                     {"last_step", *knee + 1 == in.steps.size() && k.step == in.plan.steps}};
  } else {
    j["knee"] = nullptr;
  }

  const SetupStats setup = in.setup.value_or(SetupStats{});
  j["setup"] = Json{{"requests", setup.requests}, {"errors", setup.errors}};

  Json failures = Json::array();
  for (const auto& [message, count] : in.check_failures) {
    failures.push_back(Json{{"message", message}, {"count", count}});
  }
  j["check_failures"] = std::move(failures);

  Json timeline = Json::array();
  const metrics::Snapshot* previous = nullptr;
  for (const auto& s : in.timeline) {
    timeline.push_back(timeline_json(s, previous));
    previous = &s;
  }
  j["timeline"] = std::move(timeline);

  if (stats != nullptr) {
    const metrics::TaskStats total = stats->total();
    Json by_task = Json::array();
    for (std::size_t i = 0; i < stats->tasks.size(); ++i) {
      const auto& t = stats->tasks[i];
      by_task.push_back(Json{{"name", i < f.tasks.size() ? f.tasks[i].name : "task_" + std::to_string(i)},
                             {"latency", histogram_json(t.latency)},
                             {"success", histogram_json(t.success)},
                             {"service", histogram_json(t.service)}});
    }
    j["histograms"] = Json{{"unit", "us"},
                           {"latency", histogram_json(total.latency)},
                           {"success", histogram_json(total.success)},
                           {"service", histogram_json(total.service)},
                           {"tasks", std::move(by_task)}};
  } else {
    j["histograms"] = nullptr;
  }

  // Names come from user scenario files; a stray Latin-1 byte must not lose the run.
  return j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

Status write_file_atomic(const std::string& path, const std::string& content) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  if (target.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (ec) return io_error(path, ec.value());
  }
  // Beside the target, so the rename stays on one filesystem and is atomic.
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error(path, errno);
  if (!write_all(fd, content) || ::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return io_error(path, err);
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return io_error(path, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return io_error(path, err);
  }
  return Ok{};
}

}  // namespace lp::cli
