#include "engine/rate_schedule.hpp"

#include <algorithm>
#include <cmath>

namespace lp::engine {

namespace {

/// Global iterations in the profile: those due strictly before its end.
std::uint64_t global_count(const core::Profile& p) {
  double total = p.total_count();
  // A small tolerance keeps 400 rps × 5 s at exactly 2000 despite floating error.
  double whole = std::floor(total + 1e-9);
  return static_cast<std::uint64_t>(std::fabs(total - whole) < 1e-9 ? whole : std::ceil(total));
}

/// m of the first k = residue + m·stride with k ≥ index.
std::uint64_t first_m_at(std::uint64_t index, std::uint64_t residue, std::uint64_t stride) {
  return index > residue ? (index - residue + stride - 1) / stride : 0;
}

}  // namespace

std::uint64_t first_index_due_at_or_after(const core::Profile& profile, double secs, std::uint64_t residue,
                                          std::uint64_t stride, std::uint64_t from) noexcept {
  if (stride == 0) stride = 1;
  auto index = [&](std::uint64_t m) { return residue + m * stride; };
  auto due = [&](std::uint64_t m) { return profile.time_of(static_cast<double>(index(m))); };
  std::uint64_t lo = first_m_at(from, residue, stride);
  // At or past the end nothing is due any more: the first index past the profile.
  if (!(secs < profile.total_secs())) return index(std::max(lo, first_m_at(global_count(profile), residue, stride)));
  // An estimate from the integral, then exact steps: time_of is non-decreasing in k.
  std::uint64_t m = lo;
  const double c = secs > 0 ? profile.count_until(std::min(secs, profile.total_secs())) : 0;
  if (std::isfinite(c) && c > 0) m = std::max(lo, first_m_at(static_cast<std::uint64_t>(c), residue, stride));
  while (m > lo && due(m - 1) >= secs) --m;
  while (due(m) < secs) ++m;
  return index(m);
}

RateSchedule::RateSchedule(const core::Profile& profile, std::uint64_t residue, std::uint64_t stride,
                           std::uint64_t from_index)
    : profile_(&profile), residue_(residue), stride_(stride == 0 ? 1 : stride) {
  std::uint64_t n = global_count(profile);
  count_ = n > residue_ ? (n - residue_ + stride_ - 1) / stride_ : 0;
  first_m_ = m_ = std::min(first_m_at(from_index, residue_, stride_), count_);
  update_due();
}

void RateSchedule::update_due() noexcept {
  next_due_ = exhausted() ? std::numeric_limits<double>::infinity()
                          : profile_->time_of(static_cast<double>(next_index()));
}

void RateSchedule::advance() noexcept {
  ++m_;
  update_due();
}

std::uint64_t RateSchedule::backlog(double t) const noexcept {
  if (exhausted() || next_due_ > t) return 0;
  // Global iterations due by t are k <= count_until(t); ours among them are m < due_m.
  double c = profile_->count_until(t);
  auto last_k = static_cast<std::uint64_t>(std::floor(c + 1e-9));
  std::uint64_t due_m = last_k >= residue_ ? (last_k - residue_) / stride_ + 1 : 0;
  if (due_m > count_) due_m = count_;
  return due_m > m_ ? due_m - m_ : 1;
}

std::uint64_t RateSchedule::drop_due_before(double t) noexcept {
  if (exhausted() || next_due_ >= t) return 0;
  // Ours among the global iterations due strictly before t: k < count_until(t).
  double c = profile_->count_until(t);
  auto before = static_cast<std::uint64_t>(std::ceil(c - 1e-9));  // k = 0 .. before-1
  std::uint64_t due_m = before > residue_ ? (before - residue_ + stride_ - 1) / stride_ : 0;
  if (due_m > count_) due_m = count_;
  if (due_m <= m_) return 0;
  std::uint64_t dropped = due_m - m_;
  m_ = due_m;
  update_due();
  return dropped;
}

std::uint64_t RateSchedule::drop_due_before_exact(double t) noexcept {
  if (exhausted() || next_due_ >= t) return 0;
  const std::uint64_t k = first_index_due_at_or_after(*profile_, t, residue_, stride_, next_index());
  const std::uint64_t to = std::min(first_m_at(k, residue_, stride_), count_);
  const std::uint64_t dropped = to > m_ ? to - m_ : 0;
  m_ = std::max(m_, to);
  update_due();
  return dropped;
}

std::uint64_t RateSchedule::drop_rest() noexcept {
  std::uint64_t dropped = count_ - m_;
  m_ = count_;
  update_due();
  return dropped;
}

void RateSchedule::limit_to(std::uint64_t end_index) noexcept {
  count_ = std::max(m_, std::min(count_, first_m_at(end_index, residue_, stride_)));
  update_due();
}

}  // namespace lp::engine
