#include "cli/metrics_endpoint.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace lp::cli {
namespace {

/// Holds a port on every interface, as another process would.
class PortHolder {
 public:
  PortHolder() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 1);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~PortHolder() { ::close(fd_); }
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

std::string text_of(std::FILE* f) {
  std::rewind(f);
  std::string out;
  char buf[1024];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  return out;
}

TEST(MetricsEndpoint, ABusyPortTheUserChoseIsAnError) {
  PortHolder held;
  std::FILE* notes = std::tmpfile();

  auto endpoint = MetricsEndpoint::start(held.port(), /*chosen=*/true, {}, notes);

  ASSERT_FALSE(endpoint.ok());
  EXPECT_NE(endpoint.error().message.find("Address already in use"), std::string::npos);
  std::fclose(notes);
}

TEST(MetricsEndpoint, TheDefaultPortBusyWarnsAndRunsWithoutMetrics) {
  PortHolder held;
  std::FILE* notes = std::tmpfile();

  auto endpoint = MetricsEndpoint::start(held.port(), /*chosen=*/false, {}, notes);

  ASSERT_TRUE(endpoint.ok());
  EXPECT_FALSE(endpoint->serving());
  const std::string said = text_of(notes);
  EXPECT_NE(said.find("warning: cannot serve metrics on 0.0.0.0:" + std::to_string(held.port()) +
                      ": Address already in use; running without Prometheus metrics"),
            std::string::npos)
      << said;
  std::fclose(notes);
}

TEST(MetricsEndpoint, PortZeroServesNothingAndSaysNothing) {
  std::FILE* notes = std::tmpfile();

  auto endpoint = MetricsEndpoint::start(0, /*chosen=*/true, {}, notes);

  ASSERT_TRUE(endpoint.ok());
  EXPECT_FALSE(endpoint->serving());
  EXPECT_EQ(text_of(notes), "");
  std::fclose(notes);
}

}  // namespace
}  // namespace lp::cli
