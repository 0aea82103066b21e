#include "engine/pacer.hpp"

#include <cmath>

#include "metrics/stats.hpp"

namespace lp::engine {

namespace {

using std::chrono::duration;
using std::chrono::duration_cast;
using std::chrono::nanoseconds;

Clock::time_point at(Clock::time_point start, double secs) noexcept {
  if (!std::isfinite(secs)) return Clock::time_point::max();
  return start + duration_cast<nanoseconds>(duration<double>(secs));
}

}  // namespace

Pacer::Pacer(const core::Profile& profile, std::uint64_t residue, std::uint64_t stride, std::uint64_t from_index)
    : schedule_(profile, residue, stride, from_index) {}

void Pacer::start_at(Clock::time_point start) noexcept {
  start_ = start;
  started_ = true;
  end_ = at(start, schedule_.profile().total_secs());
  update_due();
}

double Pacer::secs_at(Clock::time_point t) const noexcept { return duration<double>(t - start_).count(); }

void Pacer::update_due() noexcept {
  const double secs = schedule_.next_due();
  next_due_ = started_ && !closed_ && secs < lease_secs_ ? at(start_, secs) : Clock::time_point::max();
}

Clock::time_point Pacer::take(Clock::time_point now) noexcept {
  const Clock::time_point intended = next_due_;
  if (now - intended >= metrics::kLateAfter) ++late_;
  ++sent_;
  schedule_.advance();
  update_due();
  return intended;
}

std::uint64_t Pacer::shed(Clock::time_point now) noexcept {
  // Most calls find the oldest due iteration younger than the bound: no arithmetic.
  if (next_due_ >= now - kMaxLag) return 0;
  const std::uint64_t n = schedule_.drop_due_before(secs_at(now - kMaxLag));
  dropped_ += n;
  update_due();
  return n;
}

std::uint64_t Pacer::backlog(Clock::time_point now) const noexcept {
  if (!due(now)) return 0;
  return schedule_.backlog(secs_at(now));
}

std::uint64_t Pacer::stop(Clock::time_point now) noexcept {
  if (closed_ || !started_) return 0;
  if (now >= end_) return close(now);
  return close(now - metrics::kLateAfter);
}

std::uint64_t Pacer::close(Clock::time_point now) noexcept {
  if (closed_ || !started_) return 0;
  std::uint64_t n = 0;
  if (now >= end_) {
    n = schedule_.drop_rest();  // the profile is over: every iteration left was due
  } else if (due(now)) {
    // drop_due_before is strict; a nanosecond more takes in one due exactly at `now`.
    n = schedule_.drop_due_before(secs_at(now + nanoseconds(1)));
  }
  closed_ = true;
  dropped_ += n;
  update_due();
  return n;
}

}  // namespace lp::engine

namespace lp::engine {

void Pacer::set_lease(double until_secs) noexcept {
  if (!(until_secs > lease_secs_) && std::isfinite(lease_secs_)) return;
  if (std::isnan(until_secs)) return;
  lease_secs_ = until_secs;
  update_due();
}

std::uint64_t Pacer::expire_lease() noexcept {
  if (closed_) return 0;
  std::uint64_t n = schedule_.drop_due_before_exact(lease_secs_);
  closed_ = true;
  dropped_ += n;
  update_due();
  return n;
}

void Pacer::limit_to(std::uint64_t end_index) noexcept {
  schedule_.limit_to(end_index);
  update_due();
}

}  // namespace lp::engine
