#include "http/url.hpp"

#include <gtest/gtest.h>

namespace lp::http {
namespace {

TEST(Url, ParsesSchemeHostPortAndTarget) {
  auto url = parse_url("http://api.example.test:8080/v1/items?page=2");

  ASSERT_TRUE(url.has_value());
  EXPECT_FALSE(url->tls);
  EXPECT_EQ(url->host, "api.example.test");
  EXPECT_EQ(url->port, 8080);
  EXPECT_EQ(url->target, "/v1/items?page=2");
}

TEST(Url, DefaultPortsFollowTheScheme) {
  auto plain = parse_url("http://h");
  auto tls = parse_url("https://h/x");

  ASSERT_TRUE(plain && tls);
  EXPECT_EQ(plain->port, 80);
  EXPECT_EQ(plain->target, "/");
  EXPECT_TRUE(tls->tls);
  EXPECT_EQ(tls->port, 443);
}

TEST(Url, Ipv6LiteralLosesItsBrackets) {
  auto url = parse_url("http://[::1]:9000/p");

  ASSERT_TRUE(url.has_value());
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 9000);
  EXPECT_EQ(url->authority(), "[::1]:9000");
  EXPECT_EQ(url->origin(), "http://[::1]:9000");
}

TEST(Url, DropsUserInfoAndFragment) {
  auto url = parse_url("https://user:secret@h:8443/a?b=1#section");

  ASSERT_TRUE(url.has_value());
  EXPECT_EQ(url->host, "h");
  EXPECT_EQ(url->target, "/a?b=1");
}

TEST(Url, QueryWithoutPathGetsASlash) {
  auto url = parse_url("http://h?q=1");

  ASSERT_TRUE(url.has_value());
  EXPECT_EQ(url->target, "/?q=1");
}

TEST(Url, RejectsWhatIsNotAnAbsoluteHttpUrl) {
  for (const char* bad : {"ftp://h/", "h:80/x", "/path", "http://", "http:///x", "http://:80/", "http://h:0/",
                          "http://h:65536/", "http://h:8x/", "http://[::1/", "http://[::1]x/"}) {
    EXPECT_FALSE(parse_url(bad).has_value()) << bad;
  }
}

TEST(Url, AuthorityOmitsTheDefaultPort) {
  EXPECT_EQ(parse_url("http://h:80/")->authority(), "h");
  EXPECT_EQ(parse_url("https://h:443/")->authority(), "h");
  EXPECT_EQ(parse_url("https://h:80/")->authority(), "h:80");
  EXPECT_EQ(parse_url("http://h/")->origin(), "http://h:80");
}

TEST(Url, ResolvesAPathUnderTheTargetsPath) {
  auto base = *parse_url("http://h:8000/api/?debug=1");

  EXPECT_EQ(resolve_url(base, "/items?x=1")->target, "/api/items?x=1");
  EXPECT_EQ(resolve_url(base, "items")->target, "/api/items");
  EXPECT_EQ(resolve_url(base, "")->target, "/api/");
  EXPECT_EQ(resolve_url(base, "/items")->port, 8000);
}

TEST(Url, AnAbsoluteTaskUrlStandsAlone) {
  auto base = *parse_url("http://h:8000/api");

  auto other = resolve_url(base, "https://other.test/x");

  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->host, "other.test");
  EXPECT_TRUE(other->tls);
  EXPECT_EQ(other->target, "/x");
}

}  // namespace
}  // namespace lp::http
