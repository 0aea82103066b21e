#pragma once
// Ctrl+C and SIGTERM during a run: the first asks the run to stop (sending stops,
// in-flight requests get their grace), a second cuts the grace short. The flags are
// what engine::RunOptions, the coordinator and the pre-auth pool poll.

#include <atomic>
#include <csignal>

namespace lp::cli {

/// Set by the first SIGINT/SIGTERM while a StopSignals is alive.
const std::atomic<bool>& stop_requested() noexcept;
/// Set by the second.
const std::atomic<bool>& stop_now_requested() noexcept;

/// Installs the handlers (and clears both flags) for its lifetime; the previous
/// SIGINT/SIGTERM handlers come back when it goes. One at a time.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  void (*int_)(int) = SIG_DFL;
  void (*term_)(int) = SIG_DFL;
};

}  // namespace lp::cli
