#include "http/request_bytes.hpp"

#include <gtest/gtest.h>

namespace lp::http {
namespace {

const Url kUrl = *parse_url("http://shop.test:8080/api/items?page=2");
const std::string kAgent = "User-Agent: loadpilot/" LOADPILOT_VERSION "\r\n";

TEST(RenderRequest, GetIsRequestLineHostAgentAndHeadersInOrder) {
  auto bytes = render_request("GET", kUrl, {{"Accept", "application/json"}, {"X-B", "2"}, {"X-A", "1"}}, "");

  EXPECT_EQ(bytes, "GET /api/items?page=2 HTTP/1.1\r\nHost: shop.test:8080\r\n" + kAgent +
                       "Accept: application/json\r\nX-B: 2\r\nX-A: 1\r\n\r\n");
}

TEST(RenderRequest, BodyGetsItsContentLength) {
  auto bytes = render_request("POST", kUrl, {{"Content-Type", "application/json"}}, "{\"a\":1}");

  EXPECT_EQ(bytes, "POST /api/items?page=2 HTTP/1.1\r\nHost: shop.test:8080\r\n" + kAgent +
                       "Content-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}");
}

TEST(RenderRequest, PostPutAndPatchWithoutBodySayContentLengthZero) {
  for (const char* method : {"POST", "PUT", "PATCH"}) {
    EXPECT_NE(render_request(method, kUrl, {}, "").find("\r\nContent-Length: 0\r\n\r\n"), std::string::npos) << method;
  }
}

TEST(RenderRequest, GetHeadOptionsAndDeleteWithoutBodyHaveNoContentLength) {
  for (const char* method : {"GET", "HEAD", "OPTIONS", "DELETE"}) {
    auto bytes = render_request(method, kUrl, {}, "");

    EXPECT_EQ(bytes.find("Content-Length"), std::string::npos) << method;
    EXPECT_TRUE(bytes.starts_with(std::string(method) + " /api/items?page=2 HTTP/1.1\r\n")) << method;
  }
}

TEST(RenderRequest, CallersHostAgentAndLengthWinInAnyCase) {
  auto bytes = render_request("POST", kUrl, {{"host", "virtual.test"}, {"USER-AGENT", "me"}, {"content-length", "3"}}, "abc");

  EXPECT_EQ(bytes, "POST /api/items?page=2 HTTP/1.1\r\nhost: virtual.test\r\nUSER-AGENT: me\r\ncontent-length: 3\r\n\r\nabc");
}

TEST(RenderRequest, HostOmitsTheDefaultPort) {
  auto bytes = render_request("GET", *parse_url("https://shop.test/"), {}, "");

  EXPECT_TRUE(bytes.starts_with("GET / HTTP/1.1\r\nHost: shop.test\r\n"));
}

TEST(MergeHeaders, OverReplacesTheSameNameAndKeepsTheRestInOrder) {
  core::Headers base{{"Accept", "*/*"}, {"Authorization", "Bearer task"}, {"X-Trace", "1"}};
  core::Headers over{{"authorization", "Bearer user"}, {"X-User", "7"}};

  auto merged = merge_headers(base, over);

  EXPECT_EQ(merged, (core::Headers{{"Accept", "*/*"}, {"X-Trace", "1"}, {"authorization", "Bearer user"}, {"X-User", "7"}}));
}

}  // namespace
}  // namespace lp::http
