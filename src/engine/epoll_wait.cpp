#include "engine/epoll_wait.hpp"

#include <atomic>
#include <cerrno>
#include <ctime>

namespace lp::engine {

int wait_for_events(int epoll_fd, epoll_event* events, int max_events, std::chrono::nanoseconds wait) {
  if (wait.count() < 0) wait = std::chrono::nanoseconds(0);
  static std::atomic<bool> have_pwait2{true};
  if (have_pwait2.load(std::memory_order_relaxed)) {
    timespec ts{static_cast<time_t>(wait.count() / 1'000'000'000), static_cast<long>(wait.count() % 1'000'000'000)};
    int n = ::epoll_pwait2(epoll_fd, events, max_events, &ts, nullptr);
    if (n >= 0) return n;
    if (errno != ENOSYS) return 0;
    have_pwait2.store(false, std::memory_order_relaxed);
  }
  int ms = static_cast<int>((wait.count() + 999'999) / 1'000'000);
  int n = ::epoll_wait(epoll_fd, events, max_events, ms);
  return n < 0 ? 0 : n;
}

}  // namespace lp::engine
