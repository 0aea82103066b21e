#include "engine/compiled_plan.hpp"

#include <algorithm>
#include <map>
#include <thread>

#include "http/request_bytes.hpp"
#include "http/url.hpp"

namespace lp::engine {

namespace {

constexpr std::uint32_t kDefaultMaxConnections = 1024;

struct Call {
  std::string method, url;
  core::Headers headers;
  std::string body;
};

std::vector<Call> calls_of(const core::Task& task) {
  std::vector<Call> calls;
  if (task.requests.empty()) {
    calls.push_back({task.method, task.url, task.headers, task.body_template});
  } else {
    for (const auto& r : task.requests) calls.push_back({r.method, r.url, r.headers, r.body});
  }
  return calls;
}

}  // namespace

Result<std::shared_ptr<const CompiledPlan>> compile_plan(const core::Plan& plan) {
  auto out = std::make_shared<CompiledPlan>(plan);
  auto base = http::parse_url(plan.target_url);
  if (!base) {
    return make_error(ErrorCode::Invalid, "target_url is not a valid URL: '" + plan.target_url + "'");
  }

  std::map<std::string, std::uint32_t> endpoint_index;  // origin → index
  auto endpoint_of = [&](const http::Url& url) -> Result<std::uint32_t> {
    std::string key = url.origin();
    if (auto it = endpoint_index.find(key); it != endpoint_index.end()) return it->second;
    auto ep = http::resolve_endpoint(url);
    if (!ep) return std::move(ep).error();
    auto index = static_cast<std::uint32_t>(out->endpoints.size());
    out->endpoints.push_back(std::move(*ep));
    endpoint_index.emplace(key, index);
    return index;
  };

  std::size_t users = std::max<std::size_t>(plan.vuser_configs.size(), 1);
  for (const auto& task : plan.tasks) {
    out->task_names.push_back(task.name);
    out->weights.push_back(task.weight);
    std::vector<Variant> per_user;
    for (std::size_t u = 0; u < users; ++u) {
      const core::VUserConfig* vu = plan.vuser_configs.empty() ? nullptr : &plan.vuser_configs[u];
      std::vector<Call> calls = calls_of(task);
      if (vu) {
        // This user's own calls (what its task body made after its on_start) replace
        // the task's; its URL and header overrides then apply on top, as for any call.
        if (auto it = vu->task_calls.find(task.name); it != vu->task_calls.end() && !it->second.empty()) {
          calls.clear();
          for (const auto& r : it->second) calls.push_back({r.method, r.url, r.headers, r.body});
        }
        if (auto it = vu->task_urls.find(task.name); it != vu->task_urls.end()) calls.front().url = it->second;
        if (auto it = vu->task_headers.find(task.name); it != vu->task_headers.end()) {
          for (auto& c : calls) c.headers = http::merge_headers(c.headers, it->second);
        }
      }
      Variant v;
      for (const auto& c : calls) {
        auto url = http::resolve_url(*base, c.url);
        if (!url) {
          return make_error(ErrorCode::Invalid, "task '" + task.name + "': invalid URL '" + c.url + "'");
        }
        auto ep = endpoint_of(*url);
        if (!ep) return std::move(ep).error();
        v.calls.push_back({*ep, http::render_request(c.method, *url, c.headers, c.body), http::method_traits(c.method)});
      }
      per_user.push_back(std::move(v));
    }
    out->variants.push_back(std::move(per_user));
  }

  bool any_tls = std::any_of(out->endpoints.begin(), out->endpoints.end(), [](const auto& e) { return e.tls; });
  if (any_tls) {
    auto tls = http::TlsContext::create(!plan.settings.insecure_tls);
    if (!tls) return std::move(tls).error();
    out->tls = std::move(*tls);
  }

  std::uint32_t cores = std::max(1u, std::thread::hardware_concurrency());
  out->threads = plan.settings.threads ? plan.settings.threads : cores;
  std::uint32_t max_conns = plan.settings.max_connections ? plan.settings.max_connections : kDefaultMaxConnections;
  // Never more threads than connections: a thread without a connection sends nothing.
  out->threads = std::min(out->threads, max_conns);
  out->connections_per_thread = std::max(1u, max_conns / out->threads);
  return std::shared_ptr<const CompiledPlan>(std::move(out));
}

}  // namespace lp::engine
