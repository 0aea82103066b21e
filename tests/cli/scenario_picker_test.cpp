#include "cli/scenario_picker.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace fs = std::filesystem;
using lp::cli::find_scenario_files;
using lp::cli::pick_scenario_file;

namespace {

class ScenarioPicker : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lp-picker-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_ / "scenarios");
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const fs::path& rel, const std::string& text) { std::ofstream(dir_ / rel) << text; }

  /// `answer` as stdin; returns the choice and what was printed.
  std::pair<lp::Result<fs::path>, std::string> pick(const std::vector<fs::path>& found, const std::string& answer) {
    std::FILE* in = fmemopen(const_cast<char*>(answer.data()), answer.size(), "r");
    char* buf = nullptr;
    std::size_t len = 0;
    std::FILE* out = open_memstream(&buf, &len);
    auto r = pick_scenario_file(found, in, out, /*interactive=*/true);
    std::fclose(out);
    std::fclose(in);
    std::string printed(buf, len);
    std::free(buf);
    return {std::move(r), printed};
  }

  fs::path dir_;
};

}  // namespace

TEST_F(ScenarioPicker, FindsScenarioFilesHereAndInScenarios) {
  write("load.py", "@scenario(rps=1)\nclass A: ...\n");
  write("helpers.py", "def f(): ...\n");
  write("scenarios/checkout.py", "from loadpilot import scenario\n@scenario()\nclass B: ...\n");

  auto found = find_scenario_files(dir_);

  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0], fs::path("load.py"));
  EXPECT_EQ(found[1], fs::path("scenarios/checkout.py"));
}

TEST_F(ScenarioPicker, ListsTheChoicesAndTakesTheNumberTyped) {
  auto [picked, printed] = pick({"a.py", "scenarios/b.py"}, "2\n");

  ASSERT_TRUE(picked.ok());
  EXPECT_EQ(*picked, fs::path("scenarios/b.py"));
  EXPECT_NE(printed.find("  1) a.py\n  2) scenarios/b.py\n"), std::string::npos);
}

TEST_F(ScenarioPicker, AnEmptyAnswerTakesTheFirst) {
  auto [picked, printed] = pick({"a.py", "b.py"}, "\n");

  ASSERT_TRUE(picked.ok());
  EXPECT_EQ(*picked, fs::path("a.py"));
}

TEST_F(ScenarioPicker, ABadAnswerNamesItAndTheRange) {
  auto [picked, printed] = pick({"a.py", "b.py"}, "7\n");

  ASSERT_FALSE(picked.ok());
  EXPECT_EQ(picked.error().message, "not a choice: '7'");
  EXPECT_NE(picked.error().hint.find("from 1 to 2"), std::string::npos);
}

TEST_F(ScenarioPicker, WithoutATerminalSaysWhatToPass) {
  auto r = pick_scenario_file({"a.py", "b.py"}, stdin, stdout, /*interactive=*/false);

  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "no scenario file given");
  EXPECT_EQ(r.error().hint, "pass one of: a.py, b.py (e.g. loadpilot run a.py)");
}

TEST_F(ScenarioPicker, WithNothingFoundSaysSo) {
  auto r = pick_scenario_file({}, stdin, stdout, /*interactive=*/true);

  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "no scenario file given, and none found in . or ./scenarios");
}

namespace {

/// pick_scenario_class with `answer` as stdin; returns the choice and what was printed.
std::pair<lp::Result<std::string>, std::string> pick_class(const std::vector<std::string>& names,
                                                           const std::string& answer) {
  std::FILE* in = fmemopen(const_cast<char*>(answer.data()), answer.size(), "r");
  char* buf = nullptr;
  std::size_t len = 0;
  std::FILE* out = open_memstream(&buf, &len);
  auto r = lp::cli::pick_scenario_class(names, "shop.py", in, out);
  std::fclose(out);
  std::fclose(in);
  std::string printed(buf, len);
  std::free(buf);
  return {std::move(r), printed};
}

}  // namespace

TEST(ScenarioClassPicker, ListsTheClassesOfTheFileAndTakesTheNumberTyped) {
  auto [picked, printed] = pick_class({"CheckoutFlow", "Browse", "Admin"}, "2\n");

  ASSERT_TRUE(picked.ok());
  EXPECT_EQ(*picked, "Browse");
  EXPECT_EQ(printed, "shop.py has 3 scenarios; pick one to run:\n  1) CheckoutFlow\n  2) Browse\n  3) Admin\n"
                     "Number [1]: ");
}

TEST(ScenarioClassPicker, ABadAnswerSaysToPassScenario) {
  auto [picked, printed] = pick_class({"CheckoutFlow", "Browse"}, "x\n");

  ASSERT_FALSE(picked.ok());
  EXPECT_EQ(picked.error().message, "not a choice: 'x'");
  EXPECT_EQ(picked.error().hint, "type a number from 1 to 2, or pass it instead: --scenario NAME (e.g. --scenario "
                                 "CheckoutFlow)");
}
