// The agents' stats on the wire: binary codec (metrics/stats_codec) against the same
// content as JSON (nlohmann), for a realistic run of 5 tasks. Prints bytes and the
// encode / decode time per message; the coordinator decodes one per agent per second.
//
//   cmake --build build --target stats_codec_bench && build/bin/stats_codec_bench [--requests N]

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "metrics/stats_codec.hpp"

namespace {

using lp::metrics::WireHistogram;
using lp::metrics::WireStats;
using lp::metrics::WireTask;
using Clock = std::chrono::steady_clock;

lp::metrics::RunStats realistic(std::size_t tasks, std::uint64_t requests_per_task) {
  lp::metrics::RunStats s(tasks);
  std::mt19937_64 rng(7);
  for (std::size_t i = 0; i < tasks; ++i) {
    // Latencies around 2 ms with a long tail (log-normal), a few errors of two kinds.
    std::lognormal_distribution<double> latency(std::log(2000.0 * (1 + i)), 0.8);
    for (std::uint64_t n = 0; n < requests_per_task; ++n) {
      const auto us = static_cast<std::uint64_t>(latency(rng));
      if (n % 500 == 0) {
        s.tasks[i].record_http_error(lp::metrics::ErrorKind::Http5xx, us, us * 9 / 10);
      } else if (n % 977 == 0) {
        s.tasks[i].record_failure(lp::metrics::ErrorKind::Timeout, 30'000'000);
      } else {
        s.tasks[i].record_ok(us, us * 9 / 10);
      }
    }
  }
  s.iterations = tasks * requests_per_task;
  s.late = 12;
  s.in_flight = 40;
  s.connections = 64;
  return s;
}

nlohmann::json to_json(const WireHistogram& h) {
  nlohmann::json b = nlohmann::json::array();
  for (const auto& [index, count] : h.buckets) b.push_back({index, count});
  return {{"buckets", std::move(b)}, {"min_us", h.min_us}, {"max_us", h.max_us}, {"sum_us", h.sum_us},
          {"saturated", h.saturated}};
}

WireHistogram histogram_of(const nlohmann::json& j) {
  WireHistogram h;
  for (const auto& b : j.at("buckets")) h.buckets.emplace_back(b[0].get<std::uint32_t>(), b[1].get<std::uint64_t>());
  h.min_us = j.at("min_us").get<std::uint64_t>();
  h.max_us = j.at("max_us").get<std::uint64_t>();
  h.sum_us = j.at("sum_us").get<std::uint64_t>();
  h.saturated = j.at("saturated").get<std::uint64_t>();
  return h;
}

std::string json_encode(const lp::metrics::StatsMessage& m) {
  nlohmann::json tasks = nlohmann::json::array();
  for (const WireTask& t : m.stats.tasks) {
    tasks.push_back({{"index", t.index}, {"requests", t.requests}, {"errors", t.errors},
                     {"errors_without_request", t.errors_without_request}, {"errors_by_kind", t.errors_by_kind},
                     {"latency", to_json(t.latency)}, {"service", to_json(t.service)},
                     {"success", to_json(t.success)}});
  }
  nlohmann::json j = {{"run_id", m.header.run_id}, {"agent_id", m.header.agent_id},
                      {"instance", m.header.instance}, {"seq", m.header.seq}, {"final", m.header.final},
                      {"elapsed_secs", m.header.elapsed_secs}, {"start_unix_ms", m.header.start_unix_ms},
                      {"iterations", m.stats.iterations}, {"late", m.stats.late}, {"dropped", m.stats.dropped},
                      {"retries", m.stats.retries}, {"in_flight", m.stats.in_flight},
                      {"connections", m.stats.connections}, {"task_count", m.stats.task_count},
                      {"tasks", std::move(tasks)}};
  return j.dump();
}

lp::metrics::StatsMessage json_decode(const std::string& text) {
  const auto j = nlohmann::json::parse(text);
  lp::metrics::StatsMessage m;
  m.header.run_id = j.at("run_id").get<std::string>();
  m.header.agent_id = j.at("agent_id").get<std::string>();
  m.header.instance = j.at("instance").get<std::uint64_t>();
  m.header.seq = j.at("seq").get<std::uint64_t>();
  m.stats.task_count = j.at("task_count").get<std::uint32_t>();
  m.stats.iterations = j.at("iterations").get<std::uint64_t>();
  for (const auto& t : j.at("tasks")) {
    WireTask& w = m.stats.tasks.emplace_back();
    w.index = t.at("index").get<std::uint32_t>();
    w.requests = t.at("requests").get<std::uint64_t>();
    w.errors = t.at("errors").get<std::uint64_t>();
    w.errors_by_kind = t.at("errors_by_kind").get<decltype(w.errors_by_kind)>();
    w.latency = histogram_of(t.at("latency"));
    w.service = histogram_of(t.at("service"));
    w.success = histogram_of(t.at("success"));
  }
  return m;
}

template <typename F>
double micros_per_call(int calls, F&& f) {
  const auto start = Clock::now();
  for (int i = 0; i < calls; ++i) f();
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count() / calls;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t requests = 100'000;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--requests") == 0) requests = std::strtoull(argv[++i], nullptr, 10);
  }
  const lp::metrics::RunStats stats = realistic(5, requests);
  lp::metrics::StatsMessage m;
  m.header.run_id = "0123456789abcdef";
  m.header.agent_id = "agent-17";
  m.header.instance = 0x1234567890ABCDEFULL;
  m.header.seq = 120;
  m.header.slots = {{17, 123'456, false}};
  const auto to_wire_us = micros_per_call(200, [&] { m.stats = lp::metrics::to_wire(stats); });

  std::size_t buckets = 0;
  for (const auto& t : m.stats.tasks) buckets += t.latency.buckets.size() + t.service.buckets.size() + t.success.buckets.size();
  const std::string binary = lp::metrics::encode_stats(m);
  const std::string json = json_encode(m);
  volatile std::size_t sink = 0;
  const int n = 2000;
  const double bin_enc = micros_per_call(n, [&] { sink = sink + lp::metrics::encode_stats(m).size(); });
  const double bin_dec = micros_per_call(n, [&] { sink = sink + lp::metrics::decode_stats(binary)->stats.tasks.size(); });
  const double json_enc = micros_per_call(n / 10, [&] { sink = sink + json_encode(m).size(); });
  const double json_dec = micros_per_call(n / 10, [&] { sink = sink + json_decode(json).stats.tasks.size(); });
  lp::metrics::RunStats merged;
  const double merge = micros_per_call(n, [&] { (void)lp::metrics::merge_wire(merged, m.stats); });

  std::printf("5 tasks x %llu requests, %zu non-empty buckets over 15 histograms\n",
              static_cast<unsigned long long>(requests), buckets);
  std::printf("RunStats -> sparse (agent side, once a second): %.1f us\n", to_wire_us);
  std::printf("| format | bytes | encode us | decode us | encode+decode us |\n|---|---:|---:|---:|---:|\n");
  std::printf("| binary (stats_codec) | %zu | %.1f | %.1f | %.1f |\n", binary.size(), bin_enc, bin_dec, bin_enc + bin_dec);
  std::printf("| JSON (nlohmann) | %zu | %.1f | %.1f | %.1f |\n", json.size(), json_enc, json_dec, json_enc + json_dec);
  std::printf("merge of one decoded message into the run's totals: %.1f us\n", merge);
  return 0;
}
