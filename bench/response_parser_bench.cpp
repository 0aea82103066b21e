// Nanoseconds per response for http::ResponseParser: reset() + one feed() of a whole
// response, best of 7 runs of 2,000,000. Not built by CMake (benchmarks are not tests);
// build and run it pinned to one core:
//
//   g++ -std=c++20 -O2 -DNDEBUG -Isrc bench/response_parser_bench.cpp src/http/response_parser.cpp \
//       -o /tmp/response_parser_bench && taskset -c 1 /tmp/response_parser_bench
//
// The figures in docs/architecture.md ("The response parser") come from it.
#include "http/response_parser.hpp"
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>
#include <algorithm>
using namespace lp::http;
static const std::string kNginx =
    "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
    "Content-Type: application/json\r\nContent-Length: 23\r\nConnection: keep-alive\r\n\r\n"
    "{\"id\":1,\"name\":\"bench\"}";
static const std::string kChunked =
    "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
    "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
    "17\r\n{\"id\":1,\"name\":\"bench\"}\r\n0\r\n\r\n";
static const std::string kMany = [] {
  std::string s = "HTTP/1.1 200 OK\r\n";
  const char* names[] = {"Server", "Date", "Content-Type", "Cache-Control", "X-Request-Id", "Vary",
                         "Access-Control-Allow-Origin", "Strict-Transport-Security", "X-Frame-Options", "ETag"};
  for (auto n : names) s += std::string(n) + ": some-value-of-typical-length-1234567890\r\n";
  return s + "Content-Length: 2\r\n\r\nok";
}();
double run(const std::string& wire, bool capture, int n) {
  ResponseParser p(capture);
  volatile std::uint64_t sink = 0;
  double best = 1e18;
  for (int rep = 0; rep < 7; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      p.reset();
      auto r = p.feed(wire.data(), wire.size());
      sink = sink + r.consumed + p.status();
    }
    auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count() / n);
  }
  if (sink == 42) std::puts("");
  return best;
}
int main() {
  const int n = 2'000'000;
  std::printf("nginx-like (%zu B): %.1f ns/response\n", kNginx.size(), run(kNginx, false, n));
  std::printf("chunked    (%zu B): %.1f ns/response\n", kChunked.size(), run(kChunked, false, n));
  std::printf("12 headers (%zu B): %.1f ns/response\n", kMany.size(), run(kMany, false, n));
  std::printf("nginx capture     : %.1f ns/response\n", run(kNginx, true, n));
}
