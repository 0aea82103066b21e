#pragma once
// Log-linear latency histogram in microseconds (HdrHistogram's layout, fixed size).
//
// Values below 256 µs have a bucket each (exact). Above, every power of two is cut
// into 128 equal buckets, so a bucket is at most 1/128 of its lower bound wide and a
// value reported as its bucket's midpoint is within 0.4 % of the recorded one. The
// range ends at kMaxValueUs (2^36 µs, about 19 hours); larger values are clamped to it
// and counted in saturated(). min, max and sum are kept exactly beside the buckets.

#include <array>
#include <chrono>
#include <cstdint>
#include <utility>
#include <vector>

namespace lp::metrics {

class Histogram {
 public:
  static constexpr unsigned kSubBucketBits = 7;                         // 128 per octave
  static constexpr std::uint64_t kLinearLimit = 2u << kSubBucketBits;   // 256 µs, exact below
  static constexpr unsigned kMaxExponent = 36;                          // 2^36 µs ≈ 19 h
  static constexpr std::uint64_t kMaxValueUs = (std::uint64_t{1} << kMaxExponent) - 1;
  static constexpr std::size_t kBucketCount =
      kLinearLimit + (kMaxExponent - kSubBucketBits - 1) * (std::size_t{1} << kSubBucketBits);

  /// Records one sample. Not thread-safe: one histogram per worker, merged later.
  void record(std::uint64_t value_us) noexcept;
  void record(std::chrono::nanoseconds value) noexcept {
    record(static_cast<std::uint64_t>(value.count() < 0 ? 0 : value.count() / 1000));
  }

  /// Adds every sample of `other`; the result equals having recorded both into one.
  void merge(const Histogram& other) noexcept;
  /// Removes the samples of `earlier`, a copy of this histogram taken before (cumulative
  /// figures: a snapshot's interval is the later copy minus the earlier one). Counts,
  /// buckets, sum and saturated() come out exact. min and max are exact when the interval
  /// set a new extreme; otherwise they are the bounds of the lowest / highest non-empty
  /// bucket, kept within the old [min, max] (off by at most a bucket, ≤ 1/128). When
  /// `earlier` is not an earlier copy (some bucket holds more there), those buckets are
  /// clamped at zero and false is returned; the result is then not meaningful.
  bool subtract(const Histogram& earlier) noexcept;
  /// Back to empty, as if freshly constructed.
  void reset() noexcept;

  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t min_us() const noexcept { return count_ ? min_ : 0; }
  std::uint64_t max_us() const noexcept { return max_; }
  double mean_us() const noexcept { return count_ ? double(sum_) / double(count_) : 0.0; }
  std::uint64_t sum_us() const noexcept { return sum_; }
  std::uint64_t saturated() const noexcept { return saturated_; }

  /// The value at quantile q in [0, 1] (0.99 = p99): the midpoint of the bucket that
  /// holds the ceil(q·count)-th smallest sample, clamped to [min, max]. 0 when empty.
  std::uint64_t value_at_quantile(double q) const noexcept;

  /// Non-empty buckets as (bucket index, count), ascending: the wire form
  /// `[[bucket, count], ...]`. min/max/sum travel separately (see from_sparse).
  std::vector<std::pair<std::uint32_t, std::uint64_t>> sparse() const;
  /// Rebuilds a histogram from sparse() plus the exact min/max/sum (and saturated(),
  /// which the sparse form cannot tell). Out-of-range bucket indices are ignored and
  /// reported by returning false.
  bool add_sparse(const std::vector<std::pair<std::uint32_t, std::uint64_t>>& buckets,
                  std::uint64_t min_us, std::uint64_t max_us, std::uint64_t sum_us,
                  std::uint64_t saturated = 0) noexcept;

  /// Index of the bucket holding `value_us`; values above kMaxValueUs map to the last.
  static std::size_t bucket_of(std::uint64_t value_us) noexcept;
  /// Smallest value of `bucket`. Indices past the end are treated as the last bucket.
  static std::uint64_t bucket_lower(std::size_t bucket) noexcept;
  static std::uint64_t bucket_upper(std::size_t bucket) noexcept;  ///< inclusive

  /// Same samples: count, buckets, min, max and sum. saturated() is left out because
  /// it does not travel in the sparse wire form.
  friend bool operator==(const Histogram& a, const Histogram& b) noexcept;

 private:
  std::array<std::uint64_t, kBucketCount> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t saturated_ = 0;
};

}  // namespace lp::metrics
