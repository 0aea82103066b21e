#include "core/duration.hpp"

#include <gtest/gtest.h>

using lp::core::format_duration;
using lp::core::parse_duration;

TEST(Duration, ParsesEveryFormTheSpecNames) {
  EXPECT_DOUBLE_EQ(*parse_duration("90"), 90);
  EXPECT_DOUBLE_EQ(*parse_duration("500ms"), 0.5);
  EXPECT_DOUBLE_EQ(*parse_duration("30s"), 30);
  EXPECT_DOUBLE_EQ(*parse_duration("2m"), 120);
  EXPECT_DOUBLE_EQ(*parse_duration("1h"), 3600);
  EXPECT_DOUBLE_EQ(*parse_duration("2m30s"), 150);
  EXPECT_DOUBLE_EQ(*parse_duration("1.5s"), 1.5);
}

TEST(Duration, RejectsWhatIsNotADuration) {
  for (const char* bad : {"", "abc", "10x", "1m30", "m", "-5s", "1..2s"}) {
    EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
  }
}

TEST(Duration, FormatsForHumans) {
  EXPECT_EQ(format_duration(90), "1m30s");
  EXPECT_EQ(format_duration(30), "30s");
  EXPECT_EQ(format_duration(0.5), "500ms");
  EXPECT_EQ(format_duration(3600), "1h");
}

TEST(Duration, FormatsDurationsTooLongForWholeSecondsAsSeconds) {
  const double secs = *parse_duration("199999999999999999999h");  // 7.2e23 s, found by fuzz.duration

  const std::string shown = format_duration(secs);

  EXPECT_EQ(shown.find_first_not_of("0123456789"), shown.size() - 1) << shown;
  EXPECT_EQ(shown.back(), 's') << shown;
  EXPECT_EQ(parse_duration(shown), secs) << shown;
}

TEST(Duration, RejectsADurationTooLongForADouble) {
  // Each part is finite (1e306) but hours of it are not; found by fuzz.duration.
  const std::string text = "1" + std::string(306, '0') + "h";

  EXPECT_FALSE(parse_duration(text).has_value()) << "parsed to " << *parse_duration(text);
}
