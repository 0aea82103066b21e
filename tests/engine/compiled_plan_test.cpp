#include "engine/compiled_plan.hpp"

#include <gtest/gtest.h>

namespace lp::engine {
namespace {

const std::string kAgent = "User-Agent: loadpilot/" LOADPILOT_VERSION "\r\n";

core::Plan base_plan() {
  core::Plan p;
  p.target_url = "http://127.0.0.1:8000/api";
  p.settings.threads = 2;
  p.settings.max_connections = 10;
  core::Task t;
  t.name = "browse";
  t.url = "/items";
  t.headers = {{"Authorization", "Bearer task"}};
  p.tasks.push_back(t);
  return p;
}

std::shared_ptr<const CompiledPlan> compile(const core::Plan& p) {
  auto compiled = compile_plan(p);
  EXPECT_TRUE(compiled.ok()) << (compiled.ok() ? "" : compiled.error().message);
  return compiled.ok() ? *compiled : nullptr;
}

TEST(CompiledPlan, RendersTheTaskCallOnceIntoBytes) {
  auto c = compile(base_plan());

  ASSERT_EQ(c->variants.size(), 1u);
  ASSERT_EQ(c->variants[0].size(), 1u);  // no virtual-user configs: one variant
  const RenderedCall& call = c->variants[0][0].calls.at(0);
  EXPECT_EQ(call.bytes, "GET /api/items HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n" + kAgent + "Authorization: Bearer task\r\n\r\n");
  EXPECT_EQ(c->task_names, std::vector<std::string>{"browse"});
}

TEST(CompiledPlan, CarriesHeadAndIdempotencyPerCall) {
  core::Plan p = base_plan();
  p.tasks[0].requests = {{"HEAD", "/a", {}, ""},   {"GET", "/b", {}, ""},    {"POST", "/c", {}, "{}"},
                         {"PATCH", "/d", {}, "{}"}, {"PUT", "/e", {}, "{}"}, {"DELETE", "/f", {}, ""},
                         {"OPTIONS", "/g", {}, ""}};

  auto c = compile(p);

  const auto& calls = c->variants[0][0].calls;
  ASSERT_EQ(calls.size(), 7u);
  EXPECT_TRUE(calls[0].method.head);
  EXPECT_TRUE(calls[0].method.idempotent);
  EXPECT_FALSE(calls[1].method.head);
  EXPECT_TRUE(calls[1].method.idempotent);
  EXPECT_FALSE(calls[2].method.idempotent);  // POST
  EXPECT_FALSE(calls[3].method.idempotent);  // PATCH
  EXPECT_TRUE(calls[4].method.idempotent);   // PUT
  EXPECT_TRUE(calls[5].method.idempotent);   // DELETE
  EXPECT_TRUE(calls[6].method.idempotent);   // OPTIONS
  EXPECT_TRUE(calls[0].bytes.starts_with("HEAD /api/a HTTP/1.1\r\n"));
}

TEST(CompiledPlan, SharesOneEndpointPerOrigin) {
  core::Plan p = base_plan();
  p.tasks[0].requests = {{"GET", "/a", {}, ""},
                         {"GET", "http://127.0.0.1:8000/b", {}, ""},
                         {"GET", "http://127.0.0.1:9000/c", {}, ""}};

  auto c = compile(p);

  const auto& calls = c->variants[0][0].calls;
  ASSERT_EQ(c->endpoints.size(), 2u);
  EXPECT_EQ(calls[0].endpoint, calls[1].endpoint);
  EXPECT_NE(calls[0].endpoint, calls[2].endpoint);
  EXPECT_EQ(c->endpoints[calls[2].endpoint].key, "http://127.0.0.1:9000");
}

TEST(CompiledPlan, VirtualUsersGetTheirHeadersAndUrls) {
  core::Plan p = base_plan();
  for (const char* user : {"alice", "bob"}) {
    core::VUserConfig vu;
    vu.task_headers["browse"] = {{"authorization", std::string("Bearer ") + user}};
    vu.task_urls["browse"] = std::string("/users/") + user;
    p.vuser_configs.push_back(vu);
  }

  auto c = compile(p);

  ASSERT_EQ(c->vuser_count(), 2u);
  const std::string& bob = c->variants[0][1].calls.at(0).bytes;
  EXPECT_TRUE(bob.starts_with("GET /api/users/bob HTTP/1.1\r\n"));
  EXPECT_NE(bob.find("authorization: Bearer bob\r\n"), std::string::npos);
  EXPECT_EQ(bob.find("Bearer task"), std::string::npos);  // the user's header replaced the task's
}

TEST(CompiledPlan, AVirtualUsersOwnCallsReplaceTheTasksCalls) {
  core::Plan p = base_plan();
  core::VUserConfig alice;
  alice.task_calls["browse"] = {{"GET", "/projects/7", {{"Authorization", "Bearer alice"}}, ""},
                                {"PATCH", "/projects/7", {{"Authorization", "Bearer alice"}}, "{}"}};
  core::VUserConfig bob;  // no calls of its own: the task's, with its header override
  bob.task_headers["browse"] = {{"Authorization", "Bearer bob"}};
  p.vuser_configs = {alice, bob};

  auto c = compile(p);

  const auto& a = c->variants[0][0].calls;
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].bytes, "GET /api/projects/7 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n" + kAgent +
                            "Authorization: Bearer alice\r\n\r\n");
  EXPECT_TRUE(a[1].bytes.starts_with("PATCH /api/projects/7 HTTP/1.1\r\n"));
  EXPECT_TRUE(a[1].bytes.ends_with("Content-Length: 2\r\n\r\n{}"));
  EXPECT_FALSE(a[1].method.idempotent);
  const auto& b = c->variants[0][1].calls;
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].bytes, "GET /api/items HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n" + kAgent +
                            "Authorization: Bearer bob\r\n\r\n");
}

TEST(CompiledPlan, NeverMoreThreadsThanConnections) {
  core::Plan p = base_plan();
  p.settings.threads = 8;
  p.settings.max_connections = 3;

  auto c = compile(p);

  EXPECT_EQ(c->threads, 3u);
  EXPECT_EQ(c->connections_per_thread, 1u);
}

TEST(CompiledPlan, MakesATlsContextOnlyForHttps) {
  core::Plan plain = base_plan();
  core::Plan tls = base_plan();
  tls.target_url = "https://127.0.0.1:8443";

  EXPECT_EQ(compile(plain)->tls, nullptr);
  EXPECT_NE(compile(tls)->tls, nullptr);
}

TEST(CompiledPlan, AnInvalidTaskUrlNamesTheTask) {
  core::Plan p = base_plan();
  p.tasks[0].url = "http://:80/x";

  auto c = compile_plan(p);

  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message, "task 'browse': invalid URL 'http://:80/x'");
}

}  // namespace
}  // namespace lp::engine
