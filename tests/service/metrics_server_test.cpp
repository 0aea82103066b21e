#include "service/metrics_server.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace lp::service {
namespace {

/// One HTTP/1.0 GET on loopback; the whole response, headers included.
std::string get(std::uint16_t port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "connect failed";
  }
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
  ::send(fd, request.data(), request.size(), 0);
  std::string response;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) response.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return response;
}

TEST(MetricsServer, ServesTheLatestPublishedText) {
  auto server = MetricsServer::start("127.0.0.1", 0);
  ASSERT_TRUE(server.ok()) << server.error().message;

  (*server)->publish("loadpilot_requests_total{task=\"a\"} 1\n");
  (*server)->publish("loadpilot_requests_total{task=\"a\"} 2\n");
  const std::string response = get((*server)->port(), "/metrics");

  EXPECT_NE(response.find("200 OK"), std::string::npos) << response;
  EXPECT_NE(response.find("text/plain; version=0.0.4"), std::string::npos) << response;
  EXPECT_NE(response.find("loadpilot_requests_total{task=\"a\"} 2\n"), std::string::npos);
  EXPECT_EQ(response.find("} 1\n"), std::string::npos);
}

TEST(MetricsServer, OtherPathsAre404) {
  auto server = MetricsServer::start("127.0.0.1", 0);
  ASSERT_TRUE(server.ok());

  EXPECT_NE(get((*server)->port(), "/nope").find(" 404 "), std::string::npos);
  EXPECT_NE(get((*server)->port(), "/").find("/metrics"), std::string::npos);
}

TEST(MetricsServer, ABusyPortIsAClearErrorNotASharedPort) {
  auto first = MetricsServer::start("127.0.0.1", 0);
  ASSERT_TRUE(first.ok());

  auto second = MetricsServer::start("127.0.0.1", (*first)->port());

  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::Io);
  EXPECT_NE(second.error().message.find("cannot serve metrics on 127.0.0.1:" + std::to_string((*first)->port()) +
                                        ": Address already in use"),
            std::string::npos)
      << second.error().message;
  EXPECT_NE(second.error().hint.find("--metrics-port"), std::string::npos);
}

TEST(MetricsServer, LiveFamiliesAreComputedAtEachScrapeAfterThePublishedText) {
  auto server = MetricsServer::start("127.0.0.1", 0);
  ASSERT_TRUE(server.ok());
  int scrapes = 0;
  (*server)->publish("loadpilot_requests_total 7\n");
  (*server)->set_live([&scrapes] { return "loadpilot_agents_connected " + std::to_string(++scrapes) + "\n"; });

  const std::string first = get((*server)->port(), "/metrics");
  const std::string second = get((*server)->port(), "/metrics");

  EXPECT_NE(first.find("loadpilot_requests_total 7\nloadpilot_agents_connected 1\n"), std::string::npos) << first;
  EXPECT_NE(second.find("loadpilot_agents_connected 2\n"), std::string::npos) << second;
}

TEST(MetricsServer, StopsWhenDestroyed) {
  std::uint16_t port = 0;
  {
    auto server = MetricsServer::start("127.0.0.1", 0);
    ASSERT_TRUE(server.ok());
    port = (*server)->port();
  }

  EXPECT_EQ(get(port, "/metrics"), "connect failed");
}

}  // namespace
}  // namespace lp::service
