#include "service/metrics_server.hpp"

#include "http/httplib.hpp"

#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>

#include "metrics/prometheus.hpp"

namespace lp::service {

namespace {
/// Scrapes are rare (every few seconds) and small: two threads are plenty.
constexpr std::size_t kServerThreads = 2;
}  // namespace

struct MetricsServer::Impl {
  httplib::Server http;
  std::thread thread;
  std::uint16_t port = 0;
  std::atomic<bool> finished{false};  // listen_after_bind returned
  std::mutex mu;
  std::string text;                    // guarded by mu
  std::function<std::string()> live;   // guarded by mu (copied out to call)
};

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& host, std::uint16_t port) {
  auto impl = std::make_unique<Impl>();
  Impl* self = impl.get();
  // cpp-httplib's default also sets SO_REUSEPORT: two runs could then both bind :9090
  // and Prometheus would scrape either at random.
  self->http.set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  self->http.new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
  self->http.Get("/metrics", [self](const httplib::Request&, httplib::Response& res) {
    std::string body;
    std::function<std::string()> live;
    {
      std::lock_guard lock(self->mu);
      body = self->text;
      live = self->live;
    }
    if (live) body += live();
    res.set_content(std::move(body), std::string(metrics::kPrometheusContentType).c_str());
  });
  self->http.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("LoadPilot: Prometheus metrics of the running test at /metrics\n", "text/plain; charset=utf-8");
  });

  errno = 0;
  int bound = -1;
  if (port == 0) {
    bound = self->http.bind_to_any_port(host);
  } else if (self->http.bind_to_port(host, port)) {
    bound = port;
  }
  if (bound < 0) {
    const int err = errno;
    return make_error(ErrorCode::Io,
                      "cannot serve metrics on " + host + ":" + std::to_string(port) +
                          (err != 0 ? std::string(": ") + std::strerror(err) : std::string()),
                      "pass --metrics-port with a free port, or --metrics-port 0 to serve no metrics");
  }
  self->port = static_cast<std::uint16_t>(bound);
  self->thread = std::thread([self] {
    self->http.listen_after_bind();
    self->finished.store(true);
  });
  // stop() is only heard once the server counts as running; wait for that so a server
  // destroyed at once still stops.
  while (!self->http.is_running() && !self->finished.load()) std::this_thread::yield();
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

MetricsServer::~MetricsServer() {
  impl_->http.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void MetricsServer::publish(std::string exposition) {
  std::lock_guard lock(impl_->mu);
  impl_->text = std::move(exposition);
}

void MetricsServer::set_live(std::function<std::string()> live) {
  std::lock_guard lock(impl_->mu);
  impl_->live = std::move(live);
}

std::uint16_t MetricsServer::port() const noexcept { return impl_->port; }

}  // namespace lp::service
