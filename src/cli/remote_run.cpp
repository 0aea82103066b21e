#include "cli/remote_run.hpp"

#include "http/httplib.hpp"

#include <cstdio>
#include <mutex>
#include <thread>

#include "core/plan_json.hpp"
#include "http/url.hpp"
#include "service/run_stream.hpp"

namespace lp::cli {

namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

/// The answer to anything but a stream is small; more than this is not ours.
constexpr std::size_t kMaxErrorBody = 1u << 20;
constexpr auto kWatchEvery = 50ms;
/// A read that waits this long means the watchdog failed to act: a last backstop.
constexpr auto kReadBackstop = 10min;
constexpr auto kStopRequestTimeout = 5s;

const char* const kPortForwardHint =
    "is the coordinator service running there? With the Helm chart: kubectl port-forward -n loadpilot "
    "svc/loadpilot-coordinator 8080:8080";

std::int64_t now_ns() { return std::chrono::duration_cast<std::chrono::nanoseconds>(Steady::now().time_since_epoch()).count(); }

std::string secs_text(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", std::chrono::duration<double>(d).count());
  return buf;
}

/// Where the service is: its origin for the client, and a path prefix (a service behind
/// a reverse proxy at http://host/loadpilot).
struct Endpoint {
  std::string origin;
  std::string prefix;  ///< "" or "/loadpilot"
  std::string shown;   ///< the URL as the user gave it, for messages
};

Result<Endpoint> endpoint_of(const std::string& url) {
  auto parsed = http::parse_url(url);
  if (!parsed) {
    return make_error(ErrorCode::Invalid, "--coordinator-url must be an http:// or https:// URL, got '" + url + "'",
                      "e.g. --coordinator-url http://localhost:8080 (after kubectl port-forward)");
  }
  Endpoint e;
  e.origin = parsed->origin();
  e.prefix = parsed->target.substr(0, parsed->target.find('?'));
  while (!e.prefix.empty() && e.prefix.back() == '/') e.prefix.pop_back();
  e.shown = url;
  return e;
}

/// What the service answered instead of a stream, as an error for the user.
Error refusal(int status, const std::string& body, const Endpoint& where, const std::string& token) {
  auto parsed = service::parse_error_body(body);
  std::string said = parsed ? parsed->message : body.substr(0, 200);
  std::string hint = parsed ? parsed->hint : std::string();
  const std::string at = "the coordinator at " + where.shown;
  switch (status) {
    case 400: {
      std::string message = at + " refused the plan: " + said;
      if (parsed) {
        for (const auto& p : parsed->problems) message += "\n  - " + p;
      }
      return make_error(ErrorCode::Invalid, message, hint);
    }
    case 401:
      return make_error(ErrorCode::Unavailable, at + " refused the request: " + said + " (401)",
                        token.empty() ? "set LOADPILOT_API_TOKEN to the service's API token (with the Helm chart: "
                                        "kubectl get secret -n loadpilot loadpilot -o jsonpath='{.data.api-token}' | "
                                        "base64 -d)"
                                      : "LOADPILOT_API_TOKEN is set but is not the service's API token");
    case 409:
      return make_error(ErrorCode::Unavailable, at + " is busy: " + said + " (409)",
                        hint.empty() ? "wait for that test to end" : hint);
    case 413:
      return make_error(ErrorCode::Invalid, at + " refused the plan: " + said + " (413)", hint);
    case 503:
      return make_error(ErrorCode::Unavailable, at + " cannot run the plan now: " + said + " (503)", hint);
    default:
      return make_error(ErrorCode::Unavailable, at + " answered HTTP " + std::to_string(status) + ": " + said,
                        "is that URL a LoadPilot coordinator service (loadpilot-coordinator --serve)?");
  }
}

/// Reads the stream: splits lines, hands each to the caller, keeps the last.
class StreamReader {
 public:
  StreamReader(const RemoteRunOptions& options) : options_(options) {}

  /// Bytes of the body. For a stream (200), whole lines are parsed as they complete.
  bool feed(const char* data, std::size_t n) {
    if (status_ != 200) {
      if (body_.size() + n <= kMaxErrorBody) body_.append(data, n);
      return true;
    }
    body_.append(data, n);
    for (std::size_t nl; (nl = body_.find('\n')) != std::string::npos;) {
      std::string line = body_.substr(0, nl);
      body_.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      if (!take(line)) return false;
    }
    return true;
  }

  void set_status(int status) { status_ = status; }
  int status() const { return status_; }
  const std::string& body() const { return body_; }
  std::size_t lines() const { return lines_; }
  double last_elapsed() const { return last_elapsed_; }
  std::optional<service::StreamLine>& last() { return last_; }
  const std::optional<Error>& bad() const { return bad_; }

 private:
  bool take(const std::string& text) {
    auto line = service::parse_stream_line(text);
    if (!line) {
      bad_ = make_error(ErrorCode::Unavailable, "the coordinator sent a line this loadpilot cannot read: " +
                                                    line.error().message,
                        "are the CLI and the service the same LoadPilot version? (loadpilot version)");
      return false;
    }
    ++lines_;
    if (line->kind == service::StreamLine::Kind::Snapshot) {
      last_elapsed_ = line->snapshot.elapsed_secs;
      if (options_.on_snapshot) options_.on_snapshot(line->snapshot, line->stats ? &*line->stats : nullptr);
      return true;
    }
    last_ = std::move(*line);  // the final line, or an error line: nothing comes after it
    return true;
  }

  const RemoteRunOptions& options_;
  int status_ = 0;
  std::string body_;
  std::size_t lines_ = 0;
  double last_elapsed_ = 0;
  std::optional<service::StreamLine> last_;
  std::optional<Error> bad_;
};

/// Watches the request from another thread: the time limits, and Ctrl+C (POST /stop).
class Watchdog {
 public:
  Watchdog(httplib::Client& client, const RemoteRunOptions& options, const Endpoint& where)
      : client_(client), options_(options), where_(where), started_(now_ns()) {
    last_byte_.store(started_);
    thread_ = std::thread([this] { watch(); });
  }
  ~Watchdog() {
    done_.store(true);
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void answered(const std::string& run_id) {
    {
      std::lock_guard lock(mu_);
      run_id_ = run_id;
    }
    last_byte_.store(now_ns());
    answered_.store(true);
  }
  void byte_came() { last_byte_.store(now_ns()); }

  /// Why the watchdog cut the request off; empty when it did not.
  std::optional<Error> cut() const {
    std::lock_guard lock(mu_);
    return cut_;
  }
  bool stopped_by_user() const { return stop_sent_.load() || user_cut_.load(); }

 private:
  void note(const std::string& text) const {
    if (options_.on_note) {
      options_.on_note(text);
    } else {
      std::fprintf(stderr, "note: %s\n", text.c_str());
    }
  }

  void cut_off(Error why) {
    {
      std::lock_guard lock(mu_);
      if (!cut_) cut_ = std::move(why);
    }
    client_.stop();
  }

  /// POST /stop for our run on a connection of its own; false when it did not go through.
  bool send_stop() {
    std::string id;
    {
      std::lock_guard lock(mu_);
      id = run_id_;
    }
    httplib::Client c(where_.origin);
    c.set_connection_timeout(kStopRequestTimeout);
    c.set_read_timeout(kStopRequestTimeout);
    httplib::Headers headers;
    if (!options_.api_token.empty()) headers.emplace("Authorization", "Bearer " + options_.api_token);
    auto res = c.Post((where_.prefix + "/stop?run=" + id).c_str(), headers, "", "application/json");
    return res && res->status == 202;
  }

  void watch() {
    bool stop_now_sent = false;
    std::int64_t stop_deadline = 0;
    while (!done_.load()) {
      std::this_thread::sleep_for(kWatchEvery);
      const std::int64_t now = now_ns();
      const bool answered = answered_.load();
      const bool user_stop = options_.stop != nullptr && options_.stop->load();
      if (user_stop && !stop_sent_.load() && !user_cut_.load()) {
        if (!answered) {
          // Not streaming yet (the service may still be waiting for its agents): closing
          // the connection is all it takes; it stops the run as soon as it finds us gone.
          user_cut_.store(true);
          note("stopped before the coordinator began the run");
          cut_off(make_error(ErrorCode::Unavailable, "stopped before the coordinator at " + where_.shown +
                                                         " began the run"));
          continue;
        }
        if (send_stop()) {
          stop_sent_.store(true);
          stop_deadline = now + std::chrono::duration_cast<std::chrono::nanoseconds>(options_.stop_timeout).count();
          note("stopping the run on the coordinator: in-flight requests get their grace (Ctrl+C again to cut "
               "them off)");
        } else {
          user_cut_.store(true);
          note("POST /stop did not reach the coordinator: closing the stream, which stops the run there");
          cut_off(make_error(ErrorCode::Unavailable, "stopped: the coordinator at " + where_.shown +
                                                         " did not answer POST /stop, so the stream was closed "
                                                         "(the run stops when the service sees it gone)"));
          continue;
        }
      }
      if (stop_sent_.load() && !stop_now_sent && options_.stop_now != nullptr && options_.stop_now->load()) {
        stop_now_sent = true;
        send_stop();  // the second stop cuts the grace short
      }
      if (stop_sent_.load() && now > stop_deadline) {
        cut_off(make_error(ErrorCode::Unavailable,
                           "the coordinator at " + where_.shown + " did not finish the stopped run within " +
                               secs_text(options_.stop_timeout),
                           "its log (kubectl logs) says why"));
        continue;
      }
      const auto since_ms = (now - (answered ? last_byte_.load() : started_)) / 1'000'000;
      const auto limit = answered ? options_.silence_timeout : options_.answer_timeout;
      if (since_ms > limit.count()) {
        cut_off(make_error(ErrorCode::Unavailable,
                           answered ? "the stream from the coordinator at " + where_.shown + " went silent for " +
                                          secs_text(limit) + " (a line comes every second): the connection was lost"
                                    : "no answer from the coordinator at " + where_.shown + " within " +
                                          secs_text(limit),
                           kPortForwardHint));
      }
    }
  }

  httplib::Client& client_;
  const RemoteRunOptions& options_;
  const Endpoint& where_;
  const std::int64_t started_;
  std::atomic<std::int64_t> last_byte_{0};
  std::atomic<bool> answered_{false}, done_{false}, stop_sent_{false}, user_cut_{false};
  mutable std::mutex mu_;
  std::string run_id_;          ///< guarded by mu_
  std::optional<Error> cut_;    ///< guarded by mu_
  std::thread thread_;
};

}  // namespace

std::optional<std::string> coordinator_url_problem(const std::string& url) {
  auto where = endpoint_of(url);
  if (where) return std::nullopt;
  return where.error().message + " (" + where.error().hint + ")";
}

Result<RemoteRunResult> run_remote(const core::Plan& plan, const RemoteRunOptions& options) {
  auto where = endpoint_of(options.coordinator_url);
  if (!where) return std::move(where).error();

  httplib::Client client(where->origin);
  client.set_connection_timeout(options.connect_timeout);
  client.set_read_timeout(kReadBackstop);
  client.set_write_timeout(options.connect_timeout);

  httplib::Request req;
  req.method = "POST";
  req.path = where->prefix + "/run?stats=1";
  req.headers = {{"Content-Type", "application/json"}, {"Accept", service::kStreamContentType},
                 {"User-Agent", "loadpilot/" LOADPILOT_VERSION}};
  if (!options.api_token.empty()) req.headers.emplace("Authorization", "Bearer " + options.api_token);
  req.body = core::plan_to_json(plan);

  StreamReader reader(options);
  std::string run_id;
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  bool sent = false;
  {
    Watchdog watchdog(client, options, *where);
    req.response_handler = [&](const httplib::Response& r) {
      reader.set_status(r.status);
      run_id = r.get_header_value("X-LoadPilot-Run");
      watchdog.answered(run_id);
      return true;
    };
    req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
      watchdog.byte_came();
      return reader.feed(data, n);
    };
    sent = client.send(req, res, err);
    if (auto why = watchdog.cut(); why && !(reader.last() && reader.last()->kind != service::StreamLine::Kind::Snapshot)) {
      return *why;
    }
  }
  if (reader.bad()) return *reader.bad();
  if (reader.status() == 0) {
    return make_error(ErrorCode::Unavailable,
                      "cannot reach the coordinator at " + where->shown + ": " + httplib::to_string(err),
                      kPortForwardHint);
  }
  if (reader.status() != 200) return refusal(reader.status(), reader.body(), *where, options.api_token);

  auto& last = reader.last();
  if (!last) {
    char at[64];
    std::snprintf(at, sizeof at, "%.0f s", reader.last_elapsed());
    return make_error(ErrorCode::Unavailable,
                      "the stream from the coordinator at " + where->shown + " ended before the run's last line (" +
                          std::to_string(reader.lines()) + " lines, the last at " + at +
                          "): " + (sent ? std::string("the service closed it") : httplib::to_string(err)),
                      "the coordinator's log (kubectl logs) says why; the run stops there when its client is gone");
  }
  if (last->kind == service::StreamLine::Kind::Error) return last->error;
  RemoteRunResult result;
  result.run_id = run_id;
  result.final_snapshot = std::move(last->snapshot);
  result.stats = std::move(last->stats);
  result.thresholds = std::move(last->thresholds);
  return result;
}

}  // namespace lp::cli
