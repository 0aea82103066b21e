#pragma once
// loadpilot-target's HTTP server: the demo and test target for the load generator.
// cpp-httplib stays behind the pimpl, so only target_server.cpp includes httplib.h.

#include <chrono>
#include <memory>
#include <string>

#include "core/result.hpp"
#include "target/target_options.hpp"

namespace lp::target {

/// How long an idle keep-alive connection stays open between requests.
inline constexpr std::chrono::seconds kKeepAliveTimeout{30};
/// Requests served on one connection before the server closes it; high enough that a
/// load test never sees the server close a keep-alive connection on its own.
inline constexpr std::size_t kKeepAliveMaxRequests = 1'000'000;
/// Longest /delay/{ms} wait; longer requests wait this long.
inline constexpr std::chrono::milliseconds kMaxDelay{60'000};
/// Largest /bytes/{n} and /chunked/{n} body; larger requests get this many bytes.
inline constexpr std::size_t kMaxBodyBytes = 10 * 1024 * 1024;

/// Serves the routes listed in target/route.hpp and counts every request
/// for /__stats. One worker thread per open connection (cpp-httplib's model), taken
/// from a pool of `TargetOptions::threads`; connections beyond that wait in a queue.
/// Nothing is logged per request.
class TargetServer {
 public:
  explicit TargetServer(TargetOptions options);
  ~TargetServer();
  TargetServer(const TargetServer&) = delete;
  TargetServer& operator=(const TargetServer&) = delete;

  /// Binds and listens on options.host:options.port. Returns the bound port (the
  /// kernel's choice when the port is 0). The port is not shared (no SO_REUSEPORT),
  /// so a port in use is an ErrorCode::Io error. Call once, before run().
  Result<int> bind();

  /// Accepts and serves until stop(), on the calling thread. Returns once every
  /// connection has closed; an idle keep-alive connection can hold that up to
  /// kKeepAliveTimeout, because cpp-httplib 0.11 cannot interrupt its wait.
  Status run();

  /// Stops accepting, wakes pending /delay waits, and lets each connection finish the
  /// request it is serving. Thread-safe and idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// "http://HOST:PORT", with an IPv6 literal in brackets.
std::string listen_url(const std::string& host, int port);

}  // namespace lp::target
