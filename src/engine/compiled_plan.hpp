#pragma once
// A plan made ready to fire: hosts resolved, TLS context created, and every call of
// every (task, virtual-user config) rendered to request bytes. Built once before the
// load starts and shared read-only by all workers.

#include <memory>
#include <string>
#include <vector>

#include "core/plan.hpp"
#include "core/profile.hpp"
#include "core/result.hpp"
#include "http/endpoint.hpp"
#include "http/method.hpp"
#include "http/tls_context.hpp"

namespace lp::engine {

struct RenderedCall {
  std::uint32_t endpoint = 0;  ///< index into CompiledPlan::endpoints
  std::string bytes;           ///< the whole request, ready to write
  http::MethodTraits method;   ///< HEAD (no response body) and idempotency (retries)
};

/// One iteration of a task for one virtual-user config: its calls, in order.
struct Variant {
  std::vector<RenderedCall> calls;
};

struct CompiledPlan {
  core::Plan plan;
  core::Profile profile;
  std::vector<http::Endpoint> endpoints;
  std::vector<std::string> task_names;
  std::vector<double> weights;
  std::vector<std::vector<Variant>> variants;  ///< [task][virtual user]; at least one user
  std::shared_ptr<http::TlsContext> tls;       ///< null when no endpoint is https
  std::uint32_t threads = 1;
  std::uint32_t connections_per_thread = 1;

  explicit CompiledPlan(const core::Plan& p) : plan(p), profile(p) {}
  std::size_t vuser_count() const { return variants.empty() ? 1 : variants.front().size(); }
};

/// Resolves, renders and sizes a validated plan. Fails when a host does not resolve or
/// TLS cannot be set up; the error names the host or the reason.
Result<std::shared_ptr<const CompiledPlan>> compile_plan(const core::Plan& plan);

}  // namespace lp::engine
