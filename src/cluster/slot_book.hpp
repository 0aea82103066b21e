#pragma once
// Who fires which slot of a distributed run, and from which index: the coordinator's
// ledger. Pure bookkeeping (no I/O, no clock), so each handover rule is a unit test.
//
// Slot i starts with agent i (its home slot) from index 0. An agent that loses its lease
// loses every slot it holds at the first index due at or after that lease: the slots go
// round-robin to the agents still live, who adopt them from exactly there, so the total
// rate holds and nothing is fired twice. An agent that comes back gets its home slot
// again: from its current holder by release (which answers the first index it will not
// fire), or straight away when nobody held it.

#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "core/profile.hpp"

namespace lp::cluster {

class SlotBook {
 public:
  static constexpr std::uint32_t kNobody = UINT32_MAX;

  /// `profile` must outlive the book. Agent i holds slot i of `slot_count`.
  SlotBook(const core::Profile& profile, std::uint32_t slot_count);

  /// `agent` is to fire `slot` from `from` on.
  struct Adopt {
    std::uint32_t agent = 0;
    std::uint32_t slot = 0;
    std::uint64_t from = 0;
    friend bool operator==(const Adopt&, const Adopt&) = default;
  };
  /// Ask `holder` to release `slot`, then hand it to `to` (see released()).
  struct Release {
    std::uint32_t holder = 0;
    std::uint32_t slot = 0;
    std::uint32_t to = 0;
    friend bool operator==(const Release&, const Release&) = default;
  };

  /// `agent`'s lease ran out at `lease_secs` (seconds after the start, the value the
  /// agent was sent): every slot it holds moves, from the first of its indices due at or
  /// after the lease, round-robin over `live`. With nobody live the slots wait for the
  /// next agent to rejoin (from that index). Returns the adoptions to send.
  std::vector<Adopt> lose(std::uint32_t agent, double lease_secs, const std::vector<std::uint32_t>& live);

  /// `agent` is back with its lanes closed (paused): its home slot returns to it. A
  /// Release when someone else holds it, an Adopt when nobody does, nothing when it
  /// already holds it or a release for it is under way.
  std::variant<std::monostate, Adopt, Release> rejoin(std::uint32_t agent);
  /// `r.holder` answered: it fires the slot below `next_index`, `r.to` from there.
  Adopt released(const Release& r, std::uint64_t next_index);
  /// `r.holder` could not answer (gone too): the release is dropped; rejoin() may ask again.
  void release_failed(const Release& r);

  /// `agent` reports `slot` closed at `next_index` (it will never fire that index or a
  /// later one) while the book has it holding the slot: its lease lapsed without the
  /// book losing it (a renewal arrived too late). If iterations of the slot are left,
  /// the agent adopts it again from there; `now_secs` (seconds after the start) keeps
  /// it from repeating an adoption that is still on its way.
  std::optional<Adopt> closed_by_holder(std::uint32_t agent, std::uint32_t slot, std::uint64_t next_index,
                                        double now_secs);

  /// Records an adoption sent at `now_secs` (for closed_by_holder's de-duplication).
  void adoption_sent(const Adopt& a, double now_secs);

  std::uint32_t owner(std::uint32_t slot) const { return slots_.at(slot).owner; }
  std::uint64_t from(std::uint32_t slot) const { return slots_.at(slot).from; }
  std::vector<std::uint32_t> slots_of(std::uint32_t agent) const;
  std::uint32_t slot_count() const noexcept { return static_cast<std::uint32_t>(slots_.size()); }

 private:
  struct Slot {
    std::uint32_t owner = kNobody;
    std::uint64_t from = 0;           ///< the owner fires the slot from here
    bool releasing = false;           ///< a Release for it is under way
    std::uint64_t adopt_sent_index = 0;
    double adopt_sent_at = -1e300;
  };

  const core::Profile& profile_;
  std::vector<Slot> slots_;
  std::size_t next_live_ = 0;  ///< round-robin cursor over `live`
};

}  // namespace lp::cluster
