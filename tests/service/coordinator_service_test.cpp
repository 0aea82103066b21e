// The coordinator service's HTTP answers that need no agent: refusals, probes, the
// Prometheus endpoint. Runs on the embedded broker on a free loopback port; a run end to
// end (agents, a target, the stream) is tests/e2e/test_service.py's.
#include "service/coordinator_service.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "service/run_stream.hpp"

namespace lp::service {
namespace {

using namespace std::chrono_literals;

/// One request on a fresh loopback connection; the whole response, headers included.
std::string roundtrip(std::uint16_t port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};  // every read bounded
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "connect failed";
  }
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) response.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return response;
}

std::string post(std::uint16_t port, const std::string& path, const std::string& body, const std::string& extra = "") {
  return roundtrip(port, "POST " + path + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" + extra +
                            "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
}

std::string get(std::uint16_t port, const std::string& path) {
  return roundtrip(port, "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
}

int status_of(const std::string& response) {
  return response.size() > 12 ? std::atoi(response.c_str() + 9) : 0;
}

std::string body_of(const std::string& response) {
  const auto at = response.find("\r\n\r\n");
  return at == std::string::npos ? std::string() : response.substr(at + 4);
}

const char* const kPlan = R"({"name": "svc", "rps": 5, "duration_secs": 1, "mode": "constant",
  "target_url": "http://127.0.0.1:9", "tasks": [{"name": "a", "url": "/"}]})";

class CoordinatorServiceTest : public ::testing::Test {
 protected:
  std::unique_ptr<CoordinatorService> start(const std::string& token = "", std::size_t max_body = kDefaultMaxBodyBytes) {
    ServiceOptions o;
    o.listen_host = "127.0.0.1";
    o.listen_port = 0;
    o.metrics_host = "127.0.0.1";
    o.metrics_port = 0;
    o.agents = 2;
    o.wait_for_agents = 300ms;
    o.api_token = token;
    o.max_body_bytes = max_body;
    o.coordinator.broker_addr = "127.0.0.1";
    o.coordinator.broker_port = 0;
    o.coordinator.on_status = [](std::string_view) {};
    o.log = [this](std::string_view line) { log.emplace_back(line); };
    auto s = CoordinatorService::start(std::move(o));
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    return s.ok() ? std::move(*s) : nullptr;
  }
  std::vector<std::string> log;
};

TEST_F(CoordinatorServiceTest, HealthzIsOk) {
  auto service = start();
  ASSERT_TRUE(service);

  const std::string response = get(service->port(), "/healthz");

  EXPECT_EQ(status_of(response), 200) << response;
  EXPECT_EQ(body_of(response), "ok");
}

TEST_F(CoordinatorServiceTest, ReadyzIs503WithTheCountUntilTheAgentsCome) {
  auto service = start();
  ASSERT_TRUE(service);

  const std::string response = get(service->port(), "/readyz");

  EXPECT_EQ(status_of(response), 503) << response;
  EXPECT_NE(body_of(response).find("\"agents_connected\":0"), std::string::npos) << response;
  EXPECT_NE(body_of(response).find("\"agents_wanted\":2"), std::string::npos) << response;
}

TEST_F(CoordinatorServiceTest, APlanWithoutTheWantedAgentsIs503NamingTheCount) {
  auto service = start();
  ASSERT_TRUE(service);

  const std::string response = post(service->port(), "/run", kPlan);

  EXPECT_EQ(status_of(response), 503) << response;
  auto body = parse_error_body(body_of(response));
  ASSERT_TRUE(body.has_value()) << response;
  EXPECT_NE(body->message.find("only 0 of 2 agents connected"), std::string::npos) << body->message;
}

TEST_F(CoordinatorServiceTest, ABadPlanIs400WithEveryProblem) {
  auto service = start();
  ASSERT_TRUE(service);

  const std::string response = post(service->port(), "/run",
                                    R"({"name": "x", "rps": 0, "duration_secs": 1, "ramp_up_secs": 0, "target_url": "ftp://x",
                                        "tasks": [{"name": "a", "url": "/"}]})");

  EXPECT_EQ(status_of(response), 400) << response;
  auto body = parse_error_body(body_of(response));
  ASSERT_TRUE(body.has_value()) << response;
  ASSERT_EQ(body->problems.size(), 2u) << response;
  EXPECT_NE(body->problems[0].find("rps must be > 0, got 0"), std::string::npos);
  EXPECT_NE(body->problems[1].find("target_url must start with http:// or https://"), std::string::npos);
}

TEST_F(CoordinatorServiceTest, WithATokenMissingOrWrongIs401AndTheRightOneGetsThrough) {
  auto service = start("s3cret-token");
  ASSERT_TRUE(service);

  const std::string missing = post(service->port(), "/run", kPlan);
  const std::string wrong = post(service->port(), "/run", kPlan, "Authorization: Bearer s3cret-tokem\r\n");
  const std::string right = post(service->port(), "/run", kPlan, "Authorization: Bearer s3cret-token\r\n");
  const std::string stop = roundtrip(service->port(), "POST /stop HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");

  EXPECT_EQ(status_of(missing), 401) << missing;
  EXPECT_NE(missing.find("WWW-Authenticate: Bearer"), std::string::npos);
  EXPECT_EQ(status_of(wrong), 401) << wrong;
  EXPECT_EQ(status_of(right), 503) << right;  // authorized: on to the agents, which are not there
  EXPECT_EQ(status_of(stop), 401) << stop;
}

TEST_F(CoordinatorServiceTest, ABodyOverTheLimitIs413BeforeItIsRead) {
  auto service = start("", 1000);
  ASSERT_TRUE(service);

  // Only the head is sent: the answer must not wait for a body it will not read.
  const std::string declared = roundtrip(service->port(),
                                        "POST /run HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000000\r\n\r\n");
  std::string chunked_body;
  for (int i = 0; i < 3; ++i) chunked_body += "200\r\n" + std::string(0x200, ' ') + "\r\n";
  chunked_body += "0\r\n\r\n";
  const std::string chunked = roundtrip(service->port(),
                                       "POST /run HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked_body);

  EXPECT_EQ(status_of(declared), 413) << declared;
  EXPECT_NE(body_of(declared).find("\"limit_bytes\":1000"), std::string::npos) << declared;
  EXPECT_EQ(status_of(chunked), 413) << chunked;
}

TEST_F(CoordinatorServiceTest, StopWithNoRunIs409AndOtherPathsAre404) {
  auto service = start();
  ASSERT_TRUE(service);

  const std::string stop = roundtrip(service->port(), "POST /stop HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  const std::string nowhere = post(service->port(), "/nowhere", "{}");
  const std::string get_run = get(service->port(), "/run");

  EXPECT_EQ(status_of(stop), 409) << stop;
  EXPECT_NE(body_of(stop).find("no test is running"), std::string::npos);
  EXPECT_EQ(status_of(nowhere), 404) << nowhere;
  EXPECT_EQ(status_of(get_run), 405) << get_run;
}

TEST_F(CoordinatorServiceTest, WarnsAtStartWhenTheApiIsOpen) {
  auto open = start();
  ASSERT_TRUE(open);
  const bool warned_open = !log.empty() && log.front().find("LOADPILOT_API_TOKEN is not set") != std::string::npos;
  log.clear();
  auto closed = start("t");
  ASSERT_TRUE(closed);

  EXPECT_TRUE(warned_open);
  for (const auto& line : log) EXPECT_EQ(line.find("LOADPILOT_API_TOKEN is not set"), std::string::npos) << line;
}

TEST_F(CoordinatorServiceTest, MetricsServeTheAgentGaugesBeforeAnyRun) {
  auto service = start();
  ASSERT_TRUE(service);

  const std::string response = get(service->metrics_port(), "/metrics");

  EXPECT_EQ(status_of(response), 200) << response;
  EXPECT_NE(response.find("\nloadpilot_agents_connected 0\n"), std::string::npos) << response;
  EXPECT_NE(response.find("\nloadpilot_agents_wanted 2\n"), std::string::npos);
  EXPECT_NE(response.find("\nloadpilot_service_running 0\n"), std::string::npos);
  EXPECT_NE(response.find("# TYPE loadpilot_requests_total counter"), std::string::npos);
}

TEST_F(CoordinatorServiceTest, APortInUseIsAClearError) {
  auto first = start();
  ASSERT_TRUE(first);
  ServiceOptions o;
  o.listen_host = "127.0.0.1";
  o.listen_port = first->port();
  o.metrics_host = "127.0.0.1";
  o.metrics_port = 0;
  o.coordinator.broker_port = 0;
  o.coordinator.on_status = [](std::string_view) {};
  o.log = [](std::string_view) {};

  auto second = CoordinatorService::start(std::move(o));

  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("cannot serve the API on 127.0.0.1:" + std::to_string(first->port())),
            std::string::npos)
      << second.error().message;
}

}  // namespace
}  // namespace lp::service
