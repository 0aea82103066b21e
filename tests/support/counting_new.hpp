#pragma once
// Counts heap allocations made on threads that opt in (set count_here = true), so a
// test can check that a hot loop allocates nothing once warmed up.

#include <atomic>
#include <cstdint>

namespace lp::testing {

inline thread_local bool count_here = false;
inline std::atomic<std::uint64_t> allocations{0};

}  // namespace lp::testing
