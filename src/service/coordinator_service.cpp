#include "service/coordinator_service.hpp"

#include "http/httplib.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/plan_json.hpp"
#include "metrics/prometheus.hpp"
#include "service/metrics_server.hpp"
#include "service/run_stream.hpp"

namespace lp::service {

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Steady = std::chrono::steady_clock;

/// Threads answering the API: one is a run's stream for as long as it lasts; the others
/// answer probes, 409s and /stop meanwhile.
constexpr std::size_t kApiThreads = 8;
/// How long a read or write on an API socket may wait (a plan upload, a stream line).
constexpr auto kSocketTimeout = 30s;
constexpr auto kConnectRetry = 2s;
constexpr auto kAgentPoll = 100ms;
/// After its stop, how long shutdown() waits for a run's final line beyond the grace:
/// the coordinator's own bound for the agents' finals (5 s) and a margin.
constexpr auto kShutdownMargin = 10s;
constexpr const char* kJsonType = "application/json";

std::string random_id() {
  std::random_device rd;
  std::mt19937_64 rng((std::uint64_t{rd()} << 32) ^ rd());
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

std::string join(const std::vector<std::string>& items, std::size_t shown = 8) {
  std::string out;
  for (std::size_t i = 0; i < items.size() && i < shown; ++i) out += (out.empty() ? "" : ", ") + items[i];
  if (items.size() > shown) out += " and " + std::to_string(items.size() - shown) + " more";
  return out;
}

std::array<unsigned char, 32> sha256(std::string_view text) {
  std::array<unsigned char, 32> digest{};
  unsigned int n = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &n, EVP_sha256(), nullptr);
  return digest;
}

/// Compares in time that depends on neither the contents nor the lengths: both sides
/// are hashed first, then the digests compared with CRYPTO_memcmp.
bool same_secret(std::string_view given, std::string_view expected) {
  const auto a = sha256(given);
  const auto b = sha256(expected);
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

/// The token of an `Authorization: Bearer <token>` header; nullopt without one.
std::optional<std::string> bearer_token(const httplib::Request& req) {
  const std::string value = req.get_header_value("Authorization");
  constexpr std::string_view kScheme = "bearer ";
  if (value.size() < kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) != kScheme[i]) return std::nullopt;
  }
  std::string token = value.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.erase(token.begin());
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.pop_back();
  return token;
}

void reply_json(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body + "\n", kJsonType);
}

void reply_error(httplib::Response& res, int status, const Error& error, std::string_view extra = {}) {
  reply_json(res, status, error_body(error, extra));
}

std::string gauge(const char* name, const char* help, double value) {
  char number[64];
  std::snprintf(number, sizeof number, "%.17g", value);
  return std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n" + name + " " + number + "\n";
}

}  // namespace

struct CoordinatorService::Impl {
  ServiceOptions options;
  std::unique_ptr<cluster::Coordinator> coordinator;
  std::atomic<bool> nats_connected{false};
  std::thread connector;  ///< retries the NATS connection until it is up
  std::atomic<bool> shutting_down{false};
  bool shut_down = false;
  httplib::Server api;
  std::thread api_thread;
  std::uint16_t api_port = 0;
  std::unique_ptr<MetricsServer> metrics;

  /// The run in progress; one at a time.
  struct Active {
    std::string id;
    std::string scenario;
    std::string client;  ///< address:port of whoever posted it
    Steady::time_point accepted{};
  };
  std::mutex mu;               ///< guards active, nats_error, outcomes
  std::condition_variable cv;  ///< notified when a run ends
  std::optional<Active> active;
  std::string nats_error;      ///< why NATS is not connected yet
  std::map<std::string, std::uint64_t> outcomes;  ///< runs ended, by outcome
  std::atomic<bool> stop{false}, stop_now{false};  ///< the coordinator's, for the run in progress
  std::atomic<std::uint32_t> run_agents{0};        ///< agents of the run in progress still live

  /// The stream of the run in progress, on its own thread (the one that calls
  /// Coordinator::run, where on_stats comes too).
  struct Stream {
    httplib::DataSink& out;
    bool with_stats = false;
    bool client_gone = false;
    metrics::ExpositionInfo info;
  };
  Stream* current = nullptr;  ///< set only while Coordinator::run runs, under the run slot

  /// Holds the run slot from acceptance until the run is over: released by stream_run as
  /// soon as the coordinator is done (so the next plan can come while the last line
  /// goes out), or when the response is gone without ever streaming.
  class Ticket {
   public:
    explicit Ticket(Impl* impl) : impl_(impl) {}
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket() { release(); }
    void release() {
      std::lock_guard lock(impl_->mu);
      if (released_) return;
      released_ = true;
      impl_->active.reset();
      impl_->cv.notify_all();
    }

   private:
    Impl* impl_;
    bool released_ = false;  ///< guarded by impl_->mu
  };

  void log(const std::string& line) const {
    if (options.log) {
      options.log(line);
    } else {
      std::fprintf(stderr, "loadpilot-coordinator: %s\n", line.c_str());
    }
  }

  std::uint32_t wanted() const { return options.agents == 0 ? 1 : options.agents; }

  Status connect_nats() {
    auto s = coordinator->connect();
    if (s) {
      nats_connected.store(true);
      std::lock_guard lock(mu);
      nats_error.clear();
    }
    return s;
  }

  void keep_connecting() {
    std::string last;
    while (!shutting_down.load()) {
      {
        std::unique_lock lock(mu);
        cv.wait_for(lock, kConnectRetry, [&] { return shutting_down.load(); });
      }
      if (shutting_down.load()) return;
      auto s = connect_nats();
      if (s) {
        log("connected to NATS at " + coordinator->agent_url());
        return;
      }
      if (s.error().message != last) log("NATS not reachable yet: " + s.error().message + " (retrying every 2 s)");
      last = s.error().message;
      std::lock_guard lock(mu);
      nats_error = s.error().message;
    }
  }

  bool authorized(const httplib::Request& req, httplib::Response& res) const {
    if (options.api_token.empty()) return true;
    auto token = bearer_token(req);
    if (token && same_secret(*token, options.api_token)) return true;
    res.set_header("WWW-Authenticate", "Bearer");
    reply_error(res, 401,
                make_error(ErrorCode::Invalid, token ? "wrong API token" : "missing API token",
                           "send Authorization: Bearer <token>; loadpilot run reads it from LOADPILOT_API_TOKEN"));
    return false;
  }

  void handle_run(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
    const std::string client = req.remote_addr + ":" + std::to_string(req.remote_port);
    const std::size_t limit = options.max_body_bytes;
    auto too_large = [&](const std::string& size) {
      reply_error(res, 413,
                  make_error(ErrorCode::Invalid,
                             "plan of " + size + " is above this service's limit of " + std::to_string(limit) + " bytes",
                             "a plan is a few KiB plus its pre-auth pool: use fewer virtual users (vusers)"),
                  dump_limit(limit));
    };
    const std::string length = req.get_header_value("Content-Length");
    const bool chunked = req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos;
    if (!length.empty()) {
      errno = 0;
      char* end = nullptr;
      const unsigned long long n = std::strtoull(length.c_str(), &end, 10);
      if (*end != '\0' || errno != 0 || length[0] == '-') {
        reply_error(res, 400, make_error(ErrorCode::Invalid, "Content-Length '" + length + "' is not a number"));
        return;
      }
      if (n > limit) return too_large(std::to_string(n) + " bytes");
    } else if (!chunked) {
      reply_error(res, 411, make_error(ErrorCode::Invalid, "POST /run needs a Content-Length (or a chunked body)"));
      return;
    }
    std::string body;
    bool over = false;
    const bool read = reader([&](const char* data, std::size_t n) {
      if (body.size() + n > limit) {
        over = true;
        return false;
      }
      body.append(data, n);
      return true;
    });
    if (over) return too_large("more than " + std::to_string(limit) + " bytes");
    if (!read) {
      reply_error(res, 400, make_error(ErrorCode::Invalid, "the request body could not be read whole"));
      return;
    }
    if (!authorized(req, res)) {
      log("POST /run from " + client + " refused: " + (bearer_token(req) ? "wrong" : "missing") + " API token");
      return;
    }

    auto plan = core::parse_plan_json(body);
    if (!plan) {
      std::vector<std::string> problems;
      std::string text = plan.error().message;
      for (std::size_t start = 0; start <= text.size();) {
        const auto nl = text.find('\n', start);
        std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
        if (!line.empty()) problems.push_back(std::move(line));
        if (nl == std::string::npos) break;
        start = nl + 1;
      }
      reply_error(res, 400,
                  make_error(ErrorCode::Invalid, "invalid plan: " + std::to_string(problems.size()) + " problem" +
                                                     (problems.size() == 1 ? "" : "s"),
                             plan.error().hint),
                  json{{"problems", problems}}.dump());
      return;
    }
    if (shutting_down.load()) {
      reply_error(res, 503, make_error(ErrorCode::Unavailable, "the service is shutting down"));
      return;
    }
    if (!nats_connected.load()) {
      std::lock_guard lock(mu);
      reply_error(res, 503, make_error(ErrorCode::Unavailable, "not connected to NATS yet: " + nats_error,
                                       "check --nats-url and that the NATS server is up"));
      return;
    }

    const std::string id = random_id();
    {
      std::lock_guard lock(mu);
      if (active) {
        const double secs = std::chrono::duration<double>(Steady::now() - active->accepted).count();
        char elapsed[32];
        std::snprintf(elapsed, sizeof elapsed, "%.1f", secs);
        reply_error(res, 409,
                    make_error(ErrorCode::Unavailable,
                               "a test is already running: run " + active->id + " (" + active->scenario + "), for " +
                                   elapsed + " s",
                               "wait for it to end, or stop it with POST /stop"),
                    json{{"run", active->id}, {"scenario", active->scenario}, {"elapsed_secs", secs}}.dump());
        return;
      }
      active = Active{id, plan->name, client, Steady::now()};
      stop.store(false);
      stop_now.store(false);
    }
    auto ticket = std::make_shared<Ticket>(this);
    auto agents = wait_for_agents();
    if (!agents) {
      log("run " + id + " from " + client + " not started: " + agents.error().message);
      reply_error(res, 503, agents.error(),
                  json{{"agents_connected", coordinator->idle_agents().size()}, {"agents_wanted", wanted()}}.dump());
      return;
    }
    const bool stats = req.has_param("stats") && req.get_param_value("stats") == "1";
    log("run " + id + " from " + client + ": " + plan->name + " at " + plan->target_url + ", " +
        std::to_string(*agents) + " agent" + (*agents == 1 ? "" : "s"));
    res.set_header("X-LoadPilot-Run", id);
    res.set_header("Cache-Control", "no-store");
    res.set_chunked_content_provider(
        kStreamContentType,
        [this, ticket, id, plan = std::move(*plan), n = *agents, stats](std::size_t, httplib::DataSink& out) {
          stream_run(*ticket, id, plan, n, stats, out);
          out.done();
          return true;
        });
  }

  static std::string dump_limit(std::size_t limit) { return json{{"limit_bytes", limit}}.dump(); }

  /// The agent count of the next run, once the wanted ones are connected (bounded).
  Result<std::uint32_t> wait_for_agents() {
    const auto deadline = Steady::now() + options.wait_for_agents;
    for (;;) {
      const auto ids = coordinator->idle_agents();
      if (ids.size() >= wanted()) {
        return options.agents == 0 ? static_cast<std::uint32_t>(ids.size()) : options.agents;
      }
      if (shutting_down.load()) return make_error(ErrorCode::Unavailable, "the service is shutting down");
      if (Steady::now() >= deadline) {
        const auto secs = std::chrono::duration_cast<std::chrono::seconds>(options.wait_for_agents).count();
        std::string message = options.agents == 0
                                  ? "no agent connected within " + std::to_string(secs) + " s"
                                  : "only " + std::to_string(ids.size()) + " of " + std::to_string(options.agents) +
                                        " agents connected within " + std::to_string(secs) + " s";
        if (!ids.empty()) message += ": " + join(ids);
        return make_error(ErrorCode::Unavailable, message,
                          "start agents with loadpilot-agent --coordinator " + coordinator->agent_url() +
                              " (and the NATS token); GET /readyz says how many are connected");
      }
      std::this_thread::sleep_for(kAgentPoll);
    }
  }

  /// Runs the plan on the stream's thread, one line per snapshot, the verdict last.
  void stream_run(Ticket& ticket, const std::string& id, const core::Plan& plan, std::uint32_t agents, bool stats,
                  httplib::DataSink& out) {
    Stream stream{out, stats, false,
                  metrics::ExpositionInfo{plan.name, plan.target_url, "static", core::to_string(plan.mode),
                                          LOADPILOT_VERSION}};
    current = &stream;
    run_agents.store(agents);
    auto result = coordinator->run(plan, agents, id);
    current = nullptr;
    run_agents.store(0);
    std::string outcome;
    if (!result) {
      outcome = "failed";
      log("run " + id + " failed: " + result.error().message);
    } else {
      outcome = stream.client_gone ? "client_gone" : result->stopped_early ? "stopped" : "completed";
      log("run " + id + " " + (result->stopped_early ? "stopped" : "done") + ": " +
          std::to_string(result->final_snapshot.requests_total) + " requests, thresholds " +
          (metrics::all_passed(result->thresholds) ? "passed" : "failed"));
    }
    {
      std::lock_guard lock(mu);
      ++outcomes[outcome];
    }
    ticket.release();
    if (!result) {
      write(stream, error_line(result.error()));
    } else {
      write(stream, final_line(result->final_snapshot, stats ? &result->stats : nullptr, result->thresholds));
    }
  }

  /// One line to the client; a client that is gone stops the run.
  void write(Stream& stream, const std::string& line) {
    if (stream.client_gone) return;
    if (stream.out.is_writable() && stream.out.write(line.data(), line.size())) return;
    stream.client_gone = true;
    if (current == &stream && !stop.exchange(true)) {
      log("the client of the run went away: stopping the run (agents get stop)");
    }
  }

  /// The coordinator's per-interval callback, on the stream's thread.
  void on_interval(const metrics::Snapshot& snapshot, const metrics::RunStats& stats) {
    if (current == nullptr) return;
    run_agents.store(static_cast<std::uint32_t>(
        std::count_if(snapshot.agents.begin(), snapshot.agents.end(), [](const auto& a) { return a.live(); })));
    if (metrics) metrics->publish(metrics::to_prometheus(snapshot, stats, current->info));
    if (snapshot.phase != "done") write(*current, snapshot_line(snapshot, current->with_stats ? &stats : nullptr));
  }

  void handle_stop(const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req, res)) return;
    std::lock_guard lock(mu);
    const std::string wanted_id = req.has_param("run") ? req.get_param_value("run") : std::string();
    if (!active) {
      reply_error(res, 409, make_error(ErrorCode::Invalid, "no test is running"));
      return;
    }
    if (!wanted_id.empty() && wanted_id != active->id) {
      reply_error(res, 409,
                  make_error(ErrorCode::Invalid, "run " + wanted_id + " is not running (run " + active->id + " is)"));
      return;
    }
    if (!stop.exchange(true)) {
      log("run " + active->id + ": stop asked by " + req.remote_addr);
      reply_json(res, 202, json{{"run", active->id}, {"stopping", true},
                                {"grace_secs", options.coordinator.grace_secs}}.dump());
    } else {
      stop_now.store(true);
      log("run " + active->id + ": second stop: in-flight requests are cut off");
      reply_json(res, 202, json{{"run", active->id}, {"stopping", true}, {"cut_off", true}}.dump());
    }
  }

  void handle_readyz(httplib::Response& res) {
    const bool nats = nats_connected.load();
    const auto ids = nats ? coordinator->idle_agents() : std::vector<std::string>{};
    bool running = false;
    {
      std::lock_guard lock(mu);
      running = active.has_value();
    }
    const bool ready = nats && (running || ids.size() >= wanted());
    json body = {{"ready", ready},
                 {"nats_connected", nats},
                 {"agents_connected", ids.size()},
                 {"agents_wanted", options.agents},
                 {"running", running}};
    if (!nats) {
      std::lock_guard lock(mu);
      body["reason"] = "not connected to NATS yet: " + nats_error;
    } else if (!ready) {
      body["reason"] = std::to_string(ids.size()) + " of " + std::to_string(wanted()) + " agents connected";
    }
    reply_json(res, ready ? 200 : 503, body.dump());
  }

  /// The service's own families, computed at each scrape.
  std::string live_families() {
    const bool nats = nats_connected.load();
    const std::size_t idle = nats ? coordinator->idle_agents().size() : 0;
    bool running = false;
    std::map<std::string, std::uint64_t> ended;
    {
      std::lock_guard lock(mu);
      running = active.has_value();
      ended = outcomes;
    }
    std::string out;
    out += gauge("loadpilot_agents_connected",
                 "Agents connected to the coordinator service: idle ones plus the live agents of the run in progress.",
                 static_cast<double>(idle + (running ? run_agents.load() : 0)));
    out += gauge("loadpilot_agents_idle", "Agents connected and waiting for a plan.", static_cast<double>(idle));
    out += gauge("loadpilot_agents_wanted", "Agents a run needs (--serve-agents; 0: any connected).",
                 static_cast<double>(options.agents));
    out += gauge("loadpilot_service_nats_connected", "1 when the service is connected to NATS.", nats ? 1 : 0);
    out += gauge("loadpilot_service_running", "1 while a run is in progress.", running ? 1 : 0);
    out += "# HELP loadpilot_service_runs_total Runs the service ended, by outcome.\n"
           "# TYPE loadpilot_service_runs_total counter\n";
    for (const char* outcome : {"completed", "stopped", "client_gone", "failed"}) {
      out += std::string("loadpilot_service_runs_total{outcome=\"") + outcome + "\"} " +
             std::to_string(ended.count(outcome) ? ended[outcome] : 0) + "\n";
    }
    return out;
  }

  void routes() {
    api.new_task_queue = [] { return new httplib::ThreadPool(kApiThreads); };
    // One request per connection: a body nobody read (a refused upload) is dropped with
    // the connection, never parsed as the next request.
    api.set_keep_alive_max_count(1);
    api.set_read_timeout(kSocketTimeout);
    api.set_write_timeout(kSocketTimeout);
    api.set_socket_options([](int sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));  // never SO_REUSEPORT
    });
    // Bodies are read only by /run, within its limit: anything else that would make
    // cpp-httplib read one (a POST elsewhere) is answered before a byte of it is read.
    api.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
      const bool body_method = req.method == "POST" || req.method == "PUT" || req.method == "PATCH" ||
                               req.method == "DELETE" || req.method == "PRI";
      if (!body_method || req.path == "/run" || req.path == "/stop") return httplib::Server::HandlerResponse::Unhandled;
      reply_error(res, 404, make_error(ErrorCode::Invalid, req.method + " " + req.path + " is not an endpoint",
                                       "POST /run, POST /stop, GET /healthz, GET /readyz"));
      return httplib::Server::HandlerResponse::Handled;
    });
    api.Post("/run", [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
      handle_run(req, res, reader);
    });
    // A content-reader handler that never reads: /stop takes no body.
    api.Post("/stop", [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader&) {
      handle_stop(req, res);
    });
    api.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
    api.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) { handle_readyz(res); });
    api.Get("/run", [](const httplib::Request&, httplib::Response& res) {
      res.set_header("Allow", "POST");
      reply_error(res, 405, make_error(ErrorCode::Invalid, "/run takes a POST with the plan JSON"));
    });
    api.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
      if (res.status == 404 && res.body.empty()) {
        reply_error(res, 404, make_error(ErrorCode::Invalid, req.method + " " + req.path + " is not an endpoint",
                                         "POST /run, POST /stop, GET /healthz, GET /readyz"));
      }
      return httplib::Server::HandlerResponse::Handled;
    }));
  }

  Status bind_api() {
    errno = 0;
    int bound = -1;
    if (options.listen_port == 0) {
      bound = api.bind_to_any_port(options.listen_host);
    } else if (api.bind_to_port(options.listen_host, options.listen_port)) {
      bound = options.listen_port;
    }
    if (bound < 0) {
      const int err = errno;
      return make_error(ErrorCode::Io,
                        "cannot serve the API on " + options.listen_host + ":" + std::to_string(options.listen_port) +
                            (err != 0 ? std::string(": ") + std::strerror(err) : std::string()),
                        "pass --listen ADDR:PORT with a free port");
    }
    api_port = static_cast<std::uint16_t>(bound);
    api_thread = std::thread([this] { api.listen_after_bind(); });
    while (!api.is_running()) std::this_thread::yield();
    return Ok{};
  }

  void shutdown(const std::atomic<bool>* cut_off) {
    if (shut_down) return;
    shut_down = true;
    shutting_down.store(true);
    {
      std::unique_lock lock(mu);
      cv.notify_all();  // the connector
      if (active) {
        log("shutting down: stopping run " + active->id + " (its client gets the final line)");
        stop.store(true);
        const auto deadline = Steady::now() +
                              std::chrono::duration_cast<Steady::duration>(
                                  std::chrono::duration<double>(options.coordinator.grace_secs)) +
                              kShutdownMargin;
        while (active && Steady::now() < deadline) {
          if (cut_off != nullptr && cut_off->load()) stop_now.store(true);
          cv.wait_for(lock, 100ms);
        }
      }
    }
    if (connector.joinable()) connector.join();
    api.stop();
    if (api_thread.joinable()) api_thread.join();
    metrics.reset();
  }
};

CoordinatorService::CoordinatorService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

CoordinatorService::~CoordinatorService() { impl_->shutdown(nullptr); }

Result<std::unique_ptr<CoordinatorService>> CoordinatorService::start(ServiceOptions options) {
  auto impl = std::make_unique<Impl>();
  Impl* self = impl.get();
  self->options = std::move(options);
  cluster::CoordinatorOptions& c = self->options.coordinator;
  c.agents = self->wanted();
  c.wait_for_agents = self->options.wait_for_agents;
  c.stop = &self->stop;
  c.stop_now = &self->stop_now;
  c.on_snapshot = nullptr;
  c.on_stats = [self](const metrics::Snapshot& s, const metrics::RunStats& stats) { self->on_interval(s, stats); };
  self->coordinator = std::make_unique<cluster::Coordinator>(c);

  auto metrics = MetricsServer::start(self->options.metrics_host, self->options.metrics_port);
  if (!metrics) {
    Error e = std::move(metrics).error();
    e.hint = "pass --metrics-listen ADDR:PORT with a free port";
    return e;
  }
  self->metrics = std::move(*metrics);
  self->metrics->publish(metrics::to_prometheus(metrics::make_snapshot(metrics::RunStats(0), {}), metrics::RunStats(0),
                                                metrics::ExpositionInfo{"", "", "static", "", LOADPILOT_VERSION}));
  self->metrics->set_live([self] { return self->live_families(); });

  self->routes();
  if (auto s = self->bind_api(); !s) {
    self->metrics.reset();
    return s.error();
  }
  std::unique_ptr<CoordinatorService> service(new CoordinatorService(std::move(impl)));

  if (auto s = self->connect_nats(); !s) {
    if (s.error().code != ErrorCode::Unavailable) {
      service->impl_->shutdown(nullptr);
      return s.error();
    }
    self->log("NATS not reachable yet: " + s.error().message + " (retrying every 2 s)");
    {
      std::lock_guard lock(self->mu);
      self->nats_error = s.error().message;
    }
    self->connector = std::thread([self] { self->keep_connecting(); });
  }
  if (self->options.api_token.empty()) {
    self->log("warning: LOADPILOT_API_TOKEN is not set: anyone who can reach the API can make the agents load any "
              "target they name; set a token (the Helm chart does) or keep the port private");
  }
  self->log("serving the API on http://" + self->options.listen_host + ":" + std::to_string(self->api_port) +
            " (POST /run, POST /stop, GET /healthz, GET /readyz), Prometheus on http://" +
            self->options.metrics_host + ":" + std::to_string(self->metrics->port()) + "/metrics; agents: " +
            (self->options.agents == 0 ? std::string("every connected one") : std::to_string(self->options.agents)));
  return service;
}

std::uint16_t CoordinatorService::port() const noexcept { return impl_->api_port; }

std::uint16_t CoordinatorService::metrics_port() const noexcept {
  return impl_->metrics ? impl_->metrics->port() : 0;
}

void CoordinatorService::shutdown(const std::atomic<bool>* cut_off) { impl_->shutdown(cut_off); }

}  // namespace lp::service
