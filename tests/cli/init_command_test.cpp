#include "cli/init_command.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "support/temp_dir.hpp"

namespace lp::cli {
namespace {

namespace fs = std::filesystem;
using lp::testing::read_text;
using lp::testing::TempDir;

bool contains(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

TEST(Init, CreatesTheScenarioMonitoringAndEnvFiles) {
  TempDir dir;

  auto result = init_project(dir.path() / "proj");

  ASSERT_TRUE(result.ok()) << result.error().message;
  for (const char* f : {"scenarios/example.py", "monitoring/docker-compose.yml", "monitoring/prometheus.yml",
                        "monitoring/grafana-dashboard.json", ".env.example"}) {
    EXPECT_TRUE(contains(result->created, f)) << f;
    EXPECT_TRUE(fs::is_regular_file(dir.path() / "proj" / f)) << f;
  }
  EXPECT_TRUE(result->skipped.empty());
  EXPECT_NE(read_text(dir.path() / "proj/monitoring/prometheus.yml").find("host.docker.internal:9090"), std::string::npos);
}

TEST(Init, NeverOverwritesAndSaysWhatItSkipped) {
  TempDir dir;
  fs::create_directories(dir.path() / "scenarios");
  std::ofstream(dir.path() / "scenarios/example.py") << "mine\n";

  auto result = init_project(dir.path());

  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->skipped, (std::vector<std::string>{"scenarios/example.py"}));
  EXPECT_EQ(read_text(dir.path() / "scenarios/example.py"), "mine\n");
  EXPECT_TRUE(contains(result->created, ".env.example"));
}

TEST(Init, ASecondRunSkipsEverything) {
  TempDir dir;
  ASSERT_TRUE(init_project(dir.path()).ok());

  auto again = init_project(dir.path());

  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->created.empty());
  EXPECT_EQ(again->skipped.size(), 7u);
}

TEST(Init, ADirectoryThatIsAFileIsAnError) {
  TempDir dir;
  std::ofstream(dir.path() / "file") << "x";

  auto result = init_project(dir.path() / "file");

  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::Io);
  EXPECT_NE(result.error().message.find("cannot write " + (dir.path() / "file").string()), std::string::npos)
      << result.error().message;
}

}  // namespace
}  // namespace lp::cli
