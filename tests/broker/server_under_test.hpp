#pragma once
// One NATS server for a conformance test: the embedded broker or a real nats-server,
// behind the same few calls, so one test body runs against both (TEST_P over
// ServerKind). Both listen on 127.0.0.1 on a port picked at start.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "broker/broker.hpp"
#include "support/nats_server.hpp"

namespace lp::testing {

enum class ServerKind { Embedded, NatsServer };

inline std::string kind_name(const ::testing::TestParamInfo<ServerKind>& info) {
  return info.param == ServerKind::Embedded ? "Embedded" : "NatsServer";
}

/// Limits a test wants; 0 / empty means the server's default.
struct ServerSettings {
  std::string token;
  std::chrono::milliseconds ping_interval{0};
  std::size_t max_payload = 0;
  std::size_t max_pending = 0;
};

class ServerUnderTest {
 public:
  ServerUnderTest(ServerKind kind, ServerSettings settings) : kind_(kind), settings_(std::move(settings)) {}
  ~ServerUnderTest() { kill(); }

  /// Whether this kind can run here (nats-server installed); `why` says why not.
  static bool available(ServerKind kind, std::string& why) {
    if (kind == ServerKind::NatsServer && NatsServerProcess::binary().empty()) {
      why = "nats-server is not installed (Debian package nats-server; scripts/install-deps.sh installs it)";
      return false;
    }
    return true;
  }

  /// Starts on a free port; false (with a gtest failure) when it cannot.
  bool start() { return start_on(0); }

  /// Stops the way a crash would: embedded stop(), nats-server SIGKILL.
  void kill() {
    if (kind_ == ServerKind::Embedded) {
      broker_.stop();
    } else if (process_) {
      process_->kill_hard();
    }
  }

  /// Starts again on the port it had.
  bool restart() { return start_on(port_); }

  /// Starts on `port` (0 = a free one).
  bool start_on(std::uint16_t port) {
    if (kind_ == ServerKind::Embedded) return start_embedded(port);
    return start_process(port);
  }

  std::uint16_t port() const { return port_; }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  broker::Broker& broker() { return broker_; }
  ServerKind kind() const { return kind_; }

  /// The embedded broker's log lines so far (empty for nats-server: read its log file).
  std::vector<std::string> log_lines() {
    if (kind_ == ServerKind::NatsServer) return process_ ? std::vector<std::string>{process_->read_log()} : std::vector<std::string>{};
    std::lock_guard lock(log_->mu);
    return log_->lines;
  }

 private:
  struct Log {
    std::mutex mu;
    std::vector<std::string> lines;
  };

  bool start_embedded(std::uint16_t port) {
    broker::BrokerOptions o;
    o.bind_addr = "127.0.0.1";
    o.port = port;
    o.token = settings_.token;
    if (settings_.ping_interval.count() > 0) o.ping_interval = settings_.ping_interval;
    if (settings_.max_payload > 0) o.max_payload = settings_.max_payload;
    if (settings_.max_pending > 0) o.max_pending_bytes = settings_.max_pending;
    o.log = [log = log_](std::string_view line) {
      std::lock_guard lock(log->mu);
      log->lines.emplace_back(line);
    };
    auto started = broker_.start(std::move(o));
    if (!started) {
      ADD_FAILURE() << "embedded broker: " << started.error().message;
      return false;
    }
    port_ = broker_.port();
    return true;
  }

  bool start_process(std::uint16_t port) {
    if (!process_) {
      NatsServerConfig c;
      c.token = settings_.token;
      c.ping_interval = settings_.ping_interval;
      c.max_payload = settings_.max_payload;
      c.max_pending = settings_.max_pending;
      c.write_deadline = std::chrono::seconds(1);  // it closes a slow consumer only then
      process_ = std::make_unique<NatsServerProcess>(c);
    }
    if (!process_->start(port)) {
      ADD_FAILURE() << "nats-server: " << process_->why();
      return false;
    }
    port_ = process_->port();
    return true;
  }

  ServerKind kind_;
  ServerSettings settings_;
  broker::Broker broker_;
  std::shared_ptr<Log> log_ = std::make_shared<Log>();
  std::unique_ptr<NatsServerProcess> process_;
  std::uint16_t port_ = 0;
};

/// Skips the test (with the reason) when `kind` cannot run here.
#define LP_SKIP_UNLESS_AVAILABLE(kind)                                  \
  do {                                                                  \
    std::string why_;                                                   \
    if (!::lp::testing::ServerUnderTest::available((kind), why_)) GTEST_SKIP() << why_; \
  } while (0)

}  // namespace lp::testing
