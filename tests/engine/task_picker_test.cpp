#include "engine/task_picker.hpp"

#include <gtest/gtest.h>

#include <vector>

using lp::engine::TaskPicker;

TEST(TaskPicker, HoldsWeightsExactlyOverAWindow) {
  TaskPicker picker({5, 3, 1});

  std::vector<int> counts(3);
  for (int i = 0; i < 900; ++i) ++counts[picker.next()];

  EXPECT_EQ(counts[0], 500);
  EXPECT_EQ(counts[1], 300);
  EXPECT_EQ(counts[2], 100);
}

TEST(TaskPicker, InterleavesInsteadOfClumping) {
  TaskPicker picker({1, 1});

  EXPECT_NE(picker.next(), picker.next());
}

TEST(TaskPicker, FractionalWeightsWork) {
  TaskPicker picker({0.5, 1.5});

  int second = 0;
  for (int i = 0; i < 400; ++i) second += picker.next() == 1;

  EXPECT_EQ(second, 300);
}
