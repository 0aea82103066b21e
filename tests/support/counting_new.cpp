#include <openssl/crypto.h>

#include <cstdlib>
#include <new>

#include "support/counting_new.hpp"

void* operator new(std::size_t size) {
  if (lp::testing::count_here) lp::testing::allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {

// OpenSSL allocates with malloc, which operator new never sees: route it through here.
void count_openssl(std::size_t size) {
  if (!lp::testing::count_here) return;
  lp::testing::openssl_allocations.fetch_add(1, std::memory_order_relaxed);
  if (size >= lp::testing::kLargeAllocation) lp::testing::openssl_large_allocations.fetch_add(1, std::memory_order_relaxed);
}
void* counting_malloc(std::size_t size, const char*, int) {
  count_openssl(size);
  return std::malloc(size);
}
void* counting_realloc(void* p, std::size_t size, const char*, int) {
  count_openssl(size);
  return std::realloc(p, size);
}
void counting_free(void* p, const char*, int) { std::free(p); }

// Before main(): OpenSSL refuses new allocation functions once it has allocated.
const bool kOpensslInstalled = CRYPTO_set_mem_functions(counting_malloc, counting_realloc, counting_free) == 1;

}  // namespace

bool lp::testing::openssl_allocations_counted() { return kOpensslInstalled; }
