#pragma once
// Counts heap allocations made on threads that opt in (set count_here = true), so a
// test can check that a hot loop allocates nothing once warmed up: operator new (our
// code and the standard library) and, apart, OpenSSL's own CRYPTO_malloc/realloc.

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace lp::testing {

inline thread_local bool count_here = false;
inline std::atomic<std::uint64_t> allocations{0};          ///< operator new / new[]
inline std::atomic<std::uint64_t> openssl_allocations{0};  ///< CRYPTO_malloc / CRYPTO_realloc
/// OpenSSL allocations of at least kLargeAllocation bytes: record buffers, not the
/// small bookkeeping blocks OpenSSL 3.0 makes per record (see worker_alloc_test.cpp).
inline std::atomic<std::uint64_t> openssl_large_allocations{0};
inline constexpr std::size_t kLargeAllocation = 1024;

/// Whether OpenSSL's allocations go through the counters (installed before main()).
bool openssl_allocations_counted();

}  // namespace lp::testing
