#include "cli/terminal.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace lp::cli {
namespace {

TEST(FormatClock, PrintsMinutesAndSecondsRoundedDown) {
  EXPECT_EQ(format_clock(0), "00:00");
  EXPECT_EQ(format_clock(5.9), "00:05");
  EXPECT_EQ(format_clock(90), "01:30");
  EXPECT_EQ(format_clock(5400), "90:00");
  EXPECT_EQ(format_clock(-3), "00:00");
  EXPECT_EQ(format_clock(NAN), "00:00");
}

TEST(FormatMs, UsesMoreDecimalsForSmallerValues) {
  EXPECT_EQ(format_ms(0.354), "0.35ms");
  EXPECT_EQ(format_ms(1.23), "1.2ms");
  EXPECT_EQ(format_ms(99.94), "99.9ms");
  EXPECT_EQ(format_ms(250.4), "250ms");
  EXPECT_EQ(format_ms(INFINITY), "-");
}

TEST(FormatCount, GroupsThousands) {
  EXPECT_EQ(format_count(0), "0");
  EXPECT_EQ(format_count(999), "999");
  EXPECT_EQ(format_count(1000), "1,000");
  EXPECT_EQ(format_count(1234567), "1,234,567");
}

TEST(FormatRate, DropsTheDecimalWhenWhole) {
  EXPECT_EQ(format_rate(100), "100");
  EXPECT_EQ(format_rate(99.84), "99.8");
  EXPECT_EQ(format_rate(99.96), "100");
}

TEST(PercentOf, IsZeroForAnEmptyWhole) {
  EXPECT_EQ(percent_of(3, 0), 0.0);
  EXPECT_DOUBLE_EQ(percent_of(1, 4), 25.0);
}

TEST(Fit, CutsByCodePointsAndEndsWithAnEllipsis) {
  EXPECT_EQ(fit("abcdef", 0), "abcdef");
  EXPECT_EQ(fit("abcdef", 6), "abcdef");
  EXPECT_EQ(fit("abcdef", 4), "abc…");
  EXPECT_EQ(fit("██████", 3), "██…");
  EXPECT_EQ(display_width(fit("██████", 3)), 3u);
}

TEST(Pad, AlignsByDisplayWidth) {
  EXPECT_EQ(pad_left("7", 3), "  7");
  EXPECT_EQ(pad_right("✓", 3), "✓  ");
  EXPECT_EQ(pad_left("long", 2), "long");
}

TEST(TerminalColumns, IsZeroForAFileThatIsNotATerminal) {
  std::FILE* file = std::tmpfile();

  const auto columns = terminal_columns(file);

  std::fclose(file);
  EXPECT_EQ(columns, 0u);
}

}  // namespace
}  // namespace lp::cli
