#include "cli/results.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <nlohmann/json.hpp>

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

Json interval_json(const metrics::IntervalSnapshot& i) {
  return Json{{"secs", secs(i.secs)},
              {"requests", i.requests},
              {"errors", i.errors},
              {"rps", rate(i.rps)},
              {"latency", latency_json(i.latency)}};
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

  Json j = Json::object();
  j["schema_version"] = kResultsSchemaVersion;
  j["scenario"] = in.scenario;
  j["target_url"] = in.target_url;
  j["started_at"] = secs(in.started_at);
  j["finished_at"] = secs(in.finished_at);
  j["duration_secs"] = secs(duration);
  j["load_secs"] = secs(load);
  j["stopped"] = f.stopped;
  j["plan"] = Json{{"rps", rate(in.plan_rps)},
                   {"duration_secs", secs(in.plan_duration_secs)},
                   {"mode", core::to_string(in.plan_mode)}};
  j["requests_total"] = f.requests_total;
  j["errors_total"] = f.errors_total;
  j["error_rate"] = percent(f.error_rate());
  j["errors_without_request"] = f.errors_without_request;
  j["rps_actual"] = rate(rps_actual);
  j["rps_target"] = rate(in.plan_rps);
  j["latency"] = latency_json(f.latency);
  j["success_latency"] = latency_json(f.success);
  j["service_latency"] = latency_json(f.service);

  Json kinds = Json::object();
  for (std::size_t i = 0; i < metrics::kErrorKindCount; ++i) {
    kinds[std::string(metrics::to_string(static_cast<metrics::ErrorKind>(i)))] =
        f.errors_by_kind[i];
  }
  j["errors_by_kind"] = std::move(kinds);
  j["iterations"] = f.iterations;
  j["late"] = f.late;
  j["dropped"] = f.dropped;
  j["dropped_rate"] = percent(f.dropped_rate());

  Json tasks = Json::array();
  for (const auto& t : f.tasks) {
    tasks.push_back(Json{{"name", t.name},
                         {"requests", t.requests},
                         {"errors", t.errors},
                         {"error_rate", percent(t.error_rate())},
                         {"latency", latency_json(t.latency)}});
  }
  j["tasks"] = std::move(tasks);

  Json thresholds = Json::array();
  bool passed = true;
  for (const auto& r : in.thresholds) {
    Json row{{"key", r.key},
             {"limit", threshold_number(r, r.limit)},
             {"actual", threshold_number(r, r.actual)},
             {"passed", r.passed},
             {"default", r.defaulted}};
    if (!r.reason.empty()) row["reason"] = r.reason;
    thresholds.push_back(std::move(row));
    passed = passed && r.passed;
  }
  j["thresholds"] = std::move(thresholds);
  j["passed"] = passed;

  const SetupStats setup = in.setup.value_or(SetupStats{});
  j["setup"] = Json{{"requests", setup.requests}, {"errors", setup.errors}};

  Json timeline = Json::array();
  for (const auto& s : in.timeline) {
    timeline.push_back(Json{{"elapsed_secs", secs(s.elapsed_secs)},
                            {"phase", s.phase},
                            {"current_rps", rate(s.current_rps)},
                            {"target_rps", rate(s.target_rps)},
                            {"requests_total", s.requests_total},
                            {"errors_total", s.errors_total},
                            {"p50_ms", ms(s.latency.p50_ms)},
                            {"p95_ms", ms(s.latency.p95_ms)},
                            {"p99_ms", ms(s.latency.p99_ms)},
                            {"dropped", s.dropped},
                            {"interval", interval_json(s.interval)}});
  }
  j["timeline"] = std::move(timeline);
  Json failures = Json::array();
  for (const auto& [message, count] : in.check_failures) {
    failures.push_back(Json{{"message", message}, {"count", count}});
  }
  j["check_failures"] = std::move(failures);
  j["mode"] = in.mode;

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
