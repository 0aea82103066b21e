#include "cli/stop_signals.hpp"

namespace lp::cli {

namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_stop_now{false};

extern "C" void on_stop_signal(int) {
  if (g_stop.exchange(true)) g_stop_now.store(true);
}

}  // namespace

const std::atomic<bool>& stop_requested() noexcept { return g_stop; }
const std::atomic<bool>& stop_now_requested() noexcept { return g_stop_now; }

StopSignals::StopSignals() {
  g_stop.store(false);
  g_stop_now.store(false);
  int_ = std::signal(SIGINT, on_stop_signal);
  term_ = std::signal(SIGTERM, on_stop_signal);
}

StopSignals::~StopSignals() {
  std::signal(SIGINT, int_);
  std::signal(SIGTERM, term_);
}

}  // namespace lp::cli
