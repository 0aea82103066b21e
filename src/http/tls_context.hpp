#pragma once
// One OpenSSL client context per run (SSL_CTX is safe to share for SSL_new across
// threads). OpenSSL types stay out of this header.

#include <memory>

#include "core/result.hpp"

typedef struct ssl_ctx_st SSL_CTX;  // NOLINT: OpenSSL's own forward declaration

namespace lp::http {

class TlsContext {
 public:
  /// verify=false accepts self-signed and mismatched certificates (plan.insecure_tls).
  static Result<std::shared_ptr<TlsContext>> create(bool verify);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* native() const noexcept { return ctx_; }
  bool verify() const noexcept { return verify_; }

 private:
  TlsContext(SSL_CTX* ctx, bool verify) : ctx_(ctx), verify_(verify) {}
  SSL_CTX* ctx_;
  bool verify_;
};

}  // namespace lp::http
