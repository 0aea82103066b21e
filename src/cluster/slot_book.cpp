#include "cluster/slot_book.hpp"

#include <algorithm>

#include "engine/rate_schedule.hpp"

namespace lp::cluster {

namespace {

// An adoption takes one message and a turn of the agent's loop to show in its stats;
// until then a report of the old, closed lane is not news.
constexpr double kAdoptionInFlightSecs = 2.5;

}  // namespace

SlotBook::SlotBook(const core::Profile& profile, std::uint32_t slot_count) : profile_(profile), slots_(slot_count) {
  for (std::uint32_t i = 0; i < slot_count; ++i) slots_[i].owner = i;
}

std::vector<SlotBook::Adopt> SlotBook::lose(std::uint32_t agent, double lease_secs,
                                            const std::vector<std::uint32_t>& live) {
  std::vector<Adopt> out;
  const std::uint64_t stride = slots_.size();
  for (std::uint32_t s = 0; s < slots_.size(); ++s) {
    Slot& slot = slots_[s];
    if (slot.owner != agent) continue;
    // The agent fired the slot's iterations due before its lease and none after: the
    // same computation it made, on the same numbers.
    slot.from = engine::first_index_due_at_or_after(profile_, lease_secs, s, stride, slot.from);
    slot.releasing = false;
    if (live.empty()) {
      slot.owner = kNobody;
      continue;
    }
    slot.owner = live[next_live_++ % live.size()];
    out.push_back({slot.owner, s, slot.from});
  }
  return out;
}

std::variant<std::monostate, SlotBook::Adopt, SlotBook::Release> SlotBook::rejoin(std::uint32_t agent) {
  if (agent >= slots_.size()) return std::monostate{};
  Slot& home = slots_[agent];
  if (home.owner == agent || home.releasing) return std::monostate{};
  if (home.owner == kNobody) {
    home.owner = agent;
    return Adopt{agent, agent, home.from};
  }
  home.releasing = true;
  return Release{home.owner, agent, agent};
}

SlotBook::Adopt SlotBook::released(const Release& r, std::uint64_t next_index) {
  Slot& slot = slots_.at(r.slot);
  slot.releasing = false;
  slot.owner = r.to;
  slot.from = std::max(slot.from, next_index);
  return {r.to, r.slot, slot.from};
}

void SlotBook::release_failed(const Release& r) { slots_.at(r.slot).releasing = false; }

std::optional<SlotBook::Adopt> SlotBook::closed_by_holder(std::uint32_t agent, std::uint32_t slot_index,
                                                          std::uint64_t next_index, double now_secs) {
  if (slot_index >= slots_.size()) return std::nullopt;
  Slot& slot = slots_[slot_index];
  if (slot.owner != agent || slot.releasing) return std::nullopt;
  // Nothing of the slot left before the profile's end: it closed because it is over.
  if (!(profile_.time_of(static_cast<double>(next_index)) < profile_.total_secs())) return std::nullopt;
  if (next_index <= slot.adopt_sent_index && now_secs - slot.adopt_sent_at < kAdoptionInFlightSecs) return std::nullopt;
  slot.from = std::max(slot.from, next_index);
  return Adopt{agent, slot_index, slot.from};
}

void SlotBook::adoption_sent(const Adopt& a, double now_secs) {
  Slot& slot = slots_.at(a.slot);
  slot.adopt_sent_index = a.from;
  slot.adopt_sent_at = now_secs;
}

std::vector<std::uint32_t> SlotBook::slots_of(std::uint32_t agent) const {
  std::vector<std::uint32_t> out;
  for (std::uint32_t s = 0; s < slots_.size(); ++s) {
    if (slots_[s].owner == agent) out.push_back(s);
  }
  return out;
}

}  // namespace lp::cluster
