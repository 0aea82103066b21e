#include "http/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace lp::http {

Result<std::shared_ptr<TlsContext>> TlsContext::create(bool verify) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return make_error(ErrorCode::Internal, "cannot create a TLS context");
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // Fewer, larger reads: without it OpenSSL reads each record's header separately.
  SSL_CTX_set_read_ahead(ctx, 1);
  // No SSL_MODE_RELEASE_BUFFERS: it frees a connection's record buffers whenever they
  // drain and allocates them again for the next record, i.e. twice per request on a
  // keep-alive connection. Kept, they cost ~34 KiB per open connection.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Many servers close without close_notify after a body read until close. OpenSSL 3
  // reports that as an error; here it is an EOF, and the response parser decides
  // whether the response was complete (a truncated Content-Length body is not).
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      SSL_CTX_free(ctx);
      return make_error(ErrorCode::Io, "cannot load the system CA certificates",
                        "install ca-certificates, or set insecure_tls for a self-signed target");
    }
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  return std::shared_ptr<TlsContext>(new TlsContext(ctx, verify));
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

}  // namespace lp::http
