#include "engine/rate_schedule.hpp"

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

}  // namespace

RateSchedule::RateSchedule(const core::Profile& profile, std::uint64_t residue, std::uint64_t stride)
    : profile_(profile), residue_(residue), stride_(stride == 0 ? 1 : stride) {
  std::uint64_t n = global_count(profile);
  count_ = n > residue_ ? (n - residue_ + stride_ - 1) / stride_ : 0;
  update_due();
}

void RateSchedule::update_due() noexcept {
  next_due_ = exhausted() ? std::numeric_limits<double>::infinity()
                          : profile_.time_of(static_cast<double>(next_index()));
}

void RateSchedule::advance() noexcept {
  ++m_;
  update_due();
}

std::uint64_t RateSchedule::backlog(double t) const noexcept {
  if (exhausted() || next_due_ > t) return 0;
  // Global iterations due by t are k <= count_until(t); ours among them are m < due_m.
  double c = profile_.count_until(t);
  auto last_k = static_cast<std::uint64_t>(std::floor(c + 1e-9));
  std::uint64_t due_m = last_k >= residue_ ? (last_k - residue_) / stride_ + 1 : 0;
  if (due_m > count_) due_m = count_;
  return due_m > m_ ? due_m - m_ : 1;
}

std::uint64_t RateSchedule::drop_due_before(double t) noexcept {
  if (exhausted() || next_due_ >= t) return 0;
  // Ours among the global iterations due strictly before t: k < count_until(t).
  double c = profile_.count_until(t);
  auto before = static_cast<std::uint64_t>(std::ceil(c - 1e-9));  // k = 0 .. before-1
  std::uint64_t due_m = before > residue_ ? (before - residue_ + stride_ - 1) / stride_ : 0;
  if (due_m > count_) due_m = count_;
  if (due_m <= m_) return 0;
  std::uint64_t dropped = due_m - m_;
  m_ = due_m;
  update_due();
  return dropped;
}

std::uint64_t RateSchedule::drop_rest() noexcept {
  std::uint64_t dropped = count_ - m_;
  m_ = count_;
  update_due();
  return dropped;
}

}  // namespace lp::engine
