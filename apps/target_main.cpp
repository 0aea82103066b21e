// loadpilot-target: the demo and test HTTP server for the load generator.
// Exit codes: 0 after SIGINT/SIGTERM, 1 when the port cannot be served, 2 on bad flags.

#include <sys/resource.h>

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <span>
#include <thread>

#include "target/target_options.hpp"
#include "target/target_server.hpp"

namespace {

enum class ExitCode : int { Ok = 0, Failure = 1, Usage = 2 };

/// After a stop signal, how long connections get to finish. Idle keep-alive
/// connections would otherwise hold the exit for up to kKeepAliveTimeout.
constexpr std::chrono::seconds kDrainTimeout{2};
/// How often the main thread checks whether the server ended on its own.
constexpr std::chrono::milliseconds kSignalPoll{100};

int exit_with(ExitCode code) { return static_cast<int>(code); }

void print_error(const lp::Error& error) {
  std::fprintf(stderr, "loadpilot-target: %s\n", error.message.c_str());
  if (!error.hint.empty()) std::fprintf(stderr, "hint: %s\n", error.hint.c_str());
}

/// Each open connection holds a descriptor; a load test opens thousands, past the
/// usual soft limit of 1024.
void raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

/// Blocks SIGINT and SIGTERM in this thread and, by inheritance, in every thread
/// started later, so only sigtimedwait() in main sees them.
sigset_t block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

}  // namespace

int main(int argc, char** argv) {
  const auto options = lp::target::parse_target_options(
      std::span<const char* const>(argv + 1, static_cast<std::size_t>(argc - 1)));
  if (!options) {
    print_error(options.error());
    std::fprintf(stderr, "\n%.*s", static_cast<int>(lp::target::target_usage().size()),
                 lp::target::target_usage().data());
    return exit_with(ExitCode::Usage);
  }
  if (options->help) {
    std::fwrite(lp::target::target_usage().data(), 1, lp::target::target_usage().size(), stdout);
    return exit_with(ExitCode::Ok);
  }

  raise_open_file_limit();
  // A client that hangs up mid-response must cost one connection, not the process.
  ::signal(SIGPIPE, SIG_IGN);
  const sigset_t stop_signals = block_stop_signals();

  lp::target::TargetServer server(*options);
  const auto port = server.bind();
  if (!port) {
    print_error(port.error());
    return exit_with(ExitCode::Failure);
  }
  std::printf("loadpilot-target listening on %s\n",
              lp::target::listen_url(options->host, *port).c_str());
  std::fflush(stdout);

  std::promise<lp::Status> served_promise;
  std::future<lp::Status> served = served_promise.get_future();
  std::thread serving([&] { served_promise.set_value(server.run()); });

  const timespec poll{0, std::chrono::nanoseconds(kSignalPoll).count()};
  while (::sigtimedwait(&stop_signals, nullptr, &poll) < 0) {
    if (served.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      // The server ended without a stop signal: it failed.
      serving.join();
      const lp::Status status = served.get();
      if (!status) print_error(status.error());
      return exit_with(ExitCode::Failure);
    }
  }

  server.stop();
  if (served.wait_for(kDrainTimeout) != std::future_status::ready) {
    // Only idle keep-alive connections are left (cpp-httplib cannot wake their
    // threads); closing them by exiting is what a stop means.
    std::fflush(stdout);
    std::_Exit(exit_with(ExitCode::Ok));
  }
  serving.join();
  return exit_with(ExitCode::Ok);
}
