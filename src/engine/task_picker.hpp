#pragma once
// Picks tasks by weight with smooth weighted round-robin (nginx's upstream algorithm):
// deterministic, and within any window of sum(weights) picks the shares are exact, so
// weights hold on short runs too, with no random clumping.

#include <cstddef>
#include <vector>

namespace lp::engine {

class TaskPicker {
 public:
  explicit TaskPicker(std::vector<double> weights) : weights_(std::move(weights)), current_(weights_.size(), 0.0) {
    for (double w : weights_) total_ += w;
  }

  /// Index of the next task. O(tasks), no allocation.
  std::size_t next() noexcept {
    std::size_t best = 0;
    for (std::size_t i = 0; i < weights_.size(); ++i) {
      current_[i] += weights_[i];
      if (current_[i] > current_[best]) best = i;
    }
    current_[best] -= total_;
    return best;
  }

 private:
  std::vector<double> weights_;
  std::vector<double> current_;
  double total_ = 0;
};

}  // namespace lp::engine
