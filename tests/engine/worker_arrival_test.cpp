// On the real clock a worker times each plain-HTTP response by the kernel's receive
// stamp, not by when it gets round to reading it: at a steady rate it leaves responses
// unread until its next send, so the reading can come long after the arrival.
//
// Nothing here is a tolerance on how fast something ran: the bounds are causal. The
// server notes the steady clock before and after its write (the kernel stamps the
// segment during that write on loopback); the worker reads the response 50 ms after
// the write ended. Timed at the read, the latency would be over 50 ms; timed at the
// arrival, it lies between the two notes (1 ms of room for converting the kernel's
// wall-clock stamp to the steady clock).

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "engine/compiled_plan.hpp"
#include "engine/worker.hpp"

namespace lp::engine {
namespace {

using namespace std::chrono_literals;

/// Accepts one connection, answers its first request when told to, and notes when it
/// wrote.
class NotingServer {
 public:
  NotingServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 4);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~NotingServer() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  bool received() const { return received_.load(); }
  void answer() { go_.store(true); }
  /// Waits (at most 10 s) until the response is written.
  bool wait_written() const {
    for (int i = 0; i < 10'000 && !written_.load(); ++i) std::this_thread::sleep_for(1ms);
    return written_.load();
  }
  Clock::time_point before_write() const { return before_; }
  Clock::time_point after_write() const { return after_; }

 private:
  void serve() {
    int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    std::string head;
    char buf[4096];
    while (head.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      head.append(buf, static_cast<std::size_t>(n));
    }
    received_.store(true);
    for (int i = 0; i < 10'000 && !go_.load(); ++i) std::this_thread::sleep_for(1ms);
    const std::string reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    before_ = Clock::now();
    [[maybe_unused]] ssize_t w = ::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
    after_ = Clock::now();
    written_.store(true);
    while (::recv(c, buf, sizeof buf, 0) > 0) {
    }
    ::close(c);
  }

  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  Clock::time_point before_{}, after_{};
  std::atomic<bool> received_{false}, go_{false}, written_{false};
};

core::Plan one_request_plan(const std::string& url) {
  core::Plan plan;
  plan.rps = 1;
  plan.duration_secs = 10;
  plan.mode = core::Mode::Constant;
  plan.target_url = url;
  core::Task task;
  task.name = "t";
  task.url = "/x";
  plan.tasks.push_back(task);
  plan.settings.threads = 1;
  plan.settings.max_connections = 1;
  return plan;
}

TEST(WorkerArrival, AResponseReadLateIsTimedAtItsKernelArrival) {
  NotingServer server;
  auto plan = compile_plan(one_request_plan(server.url()));
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  WorkerConfig config;
  config.max_connections = 1;
  Worker worker(**plan, config);  // the real clock
  const Clock::time_point due = Clock::now();
  worker.begin(due);
  worker.turn(Clock::now());  // iteration 0, due now: the connection opens
  for (int i = 0; i < 1'000 && !server.received(); ++i) worker.poll(10ms);  // connected, written
  ASSERT_TRUE(server.received());
  server.answer();
  ASSERT_TRUE(server.wait_written());
  std::this_thread::sleep_for(50ms);  // the response waits, unread, in the socket

  worker.poll(0ns);

  ASSERT_EQ(worker.in_flight(), 0u);
  const metrics::Histogram& latency = worker.stats().tasks[0].latency;
  ASSERT_EQ(latency.count(), 1u);
  const auto us = [&](Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::microseconds>(t - due).count();
  };
  EXPECT_GE(static_cast<std::int64_t>(latency.max_us()), us(server.before_write()) - 1'000);
  EXPECT_LE(static_cast<std::int64_t>(latency.max_us()), us(server.after_write()) + 1'000);
}

}  // namespace
}  // namespace lp::engine
