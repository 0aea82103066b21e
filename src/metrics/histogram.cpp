#include "metrics/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace lp::metrics {
namespace {

constexpr std::uint64_t kSubBucketCount = std::uint64_t{1} << Histogram::kSubBucketBits;

// How far a value is shifted right to land in its octave's 128 buckets: 0 below
// kLinearLimit (exact buckets), else bit_width - 8. OR-ing in kLinearLimit - 1 floors the
// bit width at 8 so the linear range needs no branch.
constexpr unsigned shift_of(std::uint64_t value_us) noexcept {
  return static_cast<unsigned>(std::bit_width(value_us | (Histogram::kLinearLimit - 1))) -
         (Histogram::kSubBucketBits + 1);
}

// `value_us` must already be clamped to kMaxValueUs. Below 256 this is the value itself;
// above, the octave index times 128 plus the value's top 8 bits (128..255), which lands
// octave e (values in [2^e, 2^(e+1))) on buckets 256 + (e - 8)·128 ... + 127.
constexpr std::size_t bucket_of_clamped(std::uint64_t value_us) noexcept {
  const unsigned shift = shift_of(value_us);
  return static_cast<std::size_t>((std::uint64_t{shift} << Histogram::kSubBucketBits) +
                                  (value_us >> shift));
}

// Inverse of bucket_of_clamped: buckets 0..255 have shift 0, then every 128 more buckets
// one more bit of shift.
constexpr unsigned bucket_shift(std::size_t bucket) noexcept {
  const auto octave = static_cast<unsigned>(bucket >> Histogram::kSubBucketBits);
  return octave == 0 ? 0 : octave - 1;
}

static_assert(bucket_of_clamped(0) == 0);
static_assert(bucket_of_clamped(255) == 255);
static_assert(bucket_of_clamped(256) == 256);
static_assert(bucket_of_clamped(511) == 383);
static_assert(bucket_of_clamped(512) == 384);
static_assert(bucket_of_clamped(Histogram::kMaxValueUs) == Histogram::kBucketCount - 1);

}  // namespace

void Histogram::record(std::uint64_t value_us) noexcept {
  const bool over = value_us > kMaxValueUs;
  const std::uint64_t v = over ? kMaxValueUs : value_us;  // a cmov, not a jump
  saturated_ += over;
  ++counts_[bucket_of_clamped(v)];
  ++count_;
  sum_ += v;
  min_ = std::min(min_, v);
  max_ = std::max(max_, v);
}

void Histogram::merge(const Histogram& other) noexcept {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
  saturated_ += other.saturated_;
}

bool Histogram::subtract(const Histogram& earlier) noexcept {
  if (earlier.count_ == 0) return true;
  bool prefix = earlier.count_ <= count_ && earlier.sum_ <= sum_ && earlier.saturated_ <= saturated_;
  std::uint64_t left = 0;
  std::size_t lowest = kBucketCount, highest = 0;
  for (std::size_t i = 0; i < kBucketCount; ++i) {
    if (counts_[i] >= earlier.counts_[i]) {
      counts_[i] -= earlier.counts_[i];
    } else {
      counts_[i] = 0;
      prefix = false;
    }
    if (counts_[i] != 0) {
      left += counts_[i];
      lowest = std::min(lowest, i);
      highest = i;
    }
  }
  if (left == 0) {
    reset();
    return prefix;
  }
  // A new extreme can only have come in the interval, so it is the interval's own; an
  // old one may belong to the earlier samples, and then the bucket bound is what is known.
  if (!(min_ < earlier.min_)) min_ = std::max(bucket_lower(lowest), min_);
  if (!(max_ > earlier.max_)) max_ = std::min(bucket_upper(highest), max_);
  count_ = left;
  sum_ -= std::min(sum_, earlier.sum_);
  saturated_ -= std::min(saturated_, earlier.saturated_);
  return prefix;
}

void Histogram::reset() noexcept {
  counts_.fill(0);
  count_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
  sum_ = 0;
  saturated_ = 0;
}

std::uint64_t Histogram::value_at_quantile(double q) const noexcept {
  if (count_ == 0) return 0;
  if (!(q > 0.0)) return min_;  // also catches NaN
  if (q >= 1.0) return max_;

  // q·count is computed in binary floating point, so 0.95 · 100 may come out as
  // 95.00000000000001 and ceil would skip a whole sample. Shaving a relative 1e-12 off
  // absorbs that noise while only moving ranks whose true fraction is below 1e-12.
  const double n = static_cast<double>(count_);
  const double wanted = std::ceil(q * n * (1.0 - 1e-12));
  const std::uint64_t rank =
      std::clamp<std::uint64_t>(static_cast<std::uint64_t>(wanted), 1, count_);

  std::uint64_t seen = 0;
  for (std::size_t b = 0; b < kBucketCount; ++b) {
    seen += counts_[b];
    if (seen >= rank) {
      const std::uint64_t width = std::uint64_t{1} << bucket_shift(b);
      return std::clamp(bucket_lower(b) + width / 2, min_, max_);
    }
  }
  return max_;  // unreachable while counts_ sums to count_
}

std::vector<std::pair<std::uint32_t, std::uint64_t>> Histogram::sparse() const {
  std::vector<std::pair<std::uint32_t, std::uint64_t>> out;
  for (std::size_t b = 0; b < kBucketCount; ++b) {
    if (counts_[b] != 0) out.emplace_back(static_cast<std::uint32_t>(b), counts_[b]);
  }
  return out;
}

bool Histogram::add_sparse(const std::vector<std::pair<std::uint32_t, std::uint64_t>>& buckets,
                           std::uint64_t min_us, std::uint64_t max_us,
                           std::uint64_t sum_us, std::uint64_t saturated) noexcept {
  bool all_in_range = true;
  std::uint64_t added = 0;
  for (const auto& [bucket, n] : buckets) {
    if (bucket >= kBucketCount) {
      all_in_range = false;
      continue;
    }
    counts_[bucket] += n;
    added += n;
  }
  // An empty sender's min is meaningless (0 on the wire); taking it would pin min_ at 0.
  if (added != 0) {
    count_ += added;
    min_ = std::min(min_, std::min(min_us, kMaxValueUs));
    max_ = std::max(max_, std::min(max_us, kMaxValueUs));
    sum_ += sum_us;
    saturated_ += std::min(saturated, added);
  }
  return all_in_range;
}

std::size_t Histogram::bucket_of(std::uint64_t value_us) noexcept {
  return bucket_of_clamped(std::min(value_us, kMaxValueUs));
}

std::uint64_t Histogram::bucket_lower(std::size_t bucket) noexcept {
  bucket = std::min(bucket, kBucketCount - 1);
  const unsigned shift = bucket_shift(bucket);
  return (static_cast<std::uint64_t>(bucket) - (std::uint64_t{shift} * kSubBucketCount)) << shift;
}

std::uint64_t Histogram::bucket_upper(std::size_t bucket) noexcept {
  bucket = std::min(bucket, kBucketCount - 1);
  return bucket_lower(bucket) + (std::uint64_t{1} << bucket_shift(bucket)) - 1;
}

bool operator==(const Histogram& a, const Histogram& b) noexcept {
  return a.count_ == b.count_ && a.min_us() == b.min_us() && a.max_ == b.max_ &&
         a.sum_ == b.sum_ && a.counts_ == b.counts_;
}

}  // namespace lp::metrics
