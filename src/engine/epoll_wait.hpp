#pragma once
// Waiting for epoll events with a nanosecond timeout, shared by the static workers and
// the Python-mode call loop.

#include <sys/epoll.h>

#include <chrono>

namespace lp::engine {

/// epoll_pwait2 with `wait` (negative = 0). epoll_wait's milliseconds would delay every
/// request of a 20k rps schedule by up to 1 ms; on kernels without epoll_pwait2
/// (before 5.11) this falls back to it, rounding the wait up. Returns 0 on EINTR.
int wait_for_events(int epoll_fd, epoll_event* events, int max_events, std::chrono::nanoseconds wait);

}  // namespace lp::engine
