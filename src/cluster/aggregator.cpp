#include "cluster/aggregator.hpp"

namespace lp::cluster {

namespace {

// Parts of a seq that never completes (a part lost on the way) are given up once this
// many newer seqs are pending: the next complete message carries everything anyway.
constexpr std::size_t kMaxPendingSeqs = 4;

}  // namespace

Result<std::optional<metrics::StatsHeader>> Aggregator::add(metrics::StatsMessage m) {
  if (m.stats.task_count != task_count_) {
    return make_error(ErrorCode::Invalid, "stats from " + m.header.agent_id + " have " +
                                              std::to_string(m.stats.task_count) + " tasks, the run has " +
                                              std::to_string(task_count_));
  }
  auto [it, fresh] = instances_.try_emplace(Key{m.header.agent_id, m.header.instance});
  Instance& inst = it->second;
  if (fresh) inst.order = ++seen_;
  const bool have_latest = !fresh && inst.header.seq != 0;
  if (have_latest && m.header.seq <= inst.header.seq) return std::optional<metrics::StatsHeader>{};

  metrics::StatsMessage whole;
  if (m.header.parts == 1) {
    whole = std::move(m);
  } else {
    const std::uint64_t seq = m.header.seq;
    auto& parts = inst.pending[seq];
    for (const auto& p : parts) {
      if (p.header.part == m.header.part) return std::optional<metrics::StatsHeader>{};  // a repeat
    }
    parts.push_back(std::move(m));
    if (parts.size() < parts.front().header.parts) {
      while (inst.pending.size() > kMaxPendingSeqs) inst.pending.erase(inst.pending.begin());
      return std::optional<metrics::StatsHeader>{};
    }
    auto joined = metrics::join_stats_parts(std::move(parts));
    inst.pending.erase(seq);
    if (!joined) return std::move(joined).error();
    whole = std::move(*joined);
  }
  // Every part older than the one just completed is moot now.
  while (!inst.pending.empty() && inst.pending.begin()->first <= whole.header.seq) inst.pending.erase(inst.pending.begin());
  std::uint64_t requests = 0;
  for (const auto& t : whole.stats.tasks) requests += t.requests;
  inst.requests = requests;
  inst.header = std::move(whole.header);
  inst.stats = std::move(whole.stats);
  return std::optional<metrics::StatsHeader>{inst.header};
}

metrics::RunStats Aggregator::merged() const {
  metrics::RunStats out(task_count_);
  for (const auto& [key, inst] : instances_) {
    if (inst.header.seq != 0) (void)metrics::merge_wire(out, inst.stats);  // sizes checked in add()
  }
  return out;
}

const metrics::StatsHeader* Aggregator::latest(const std::string& agent_id) const {
  const Instance* best = nullptr;
  for (auto it = instances_.lower_bound(Key{agent_id, 0}); it != instances_.end() && it->first.first == agent_id; ++it) {
    if (it->second.header.seq != 0 && (best == nullptr || it->second.order > best->order)) best = &it->second;
  }
  return best ? &best->header : nullptr;
}

std::uint64_t Aggregator::requests(const std::string& agent_id) const {
  std::uint64_t n = 0;
  for (auto it = instances_.lower_bound(Key{agent_id, 0}); it != instances_.end() && it->first.first == agent_id; ++it) {
    n += it->second.requests;
  }
  return n;
}

double Aggregator::first_start_unix_ms(const std::string& agent_id) const {
  const Instance* first = nullptr;
  for (auto it = instances_.lower_bound(Key{agent_id, 0}); it != instances_.end() && it->first.first == agent_id; ++it) {
    if (it->second.header.start_unix_ms > 0 && (first == nullptr || it->second.order < first->order)) first = &it->second;
  }
  return first ? first->header.start_unix_ms : 0;
}

}  // namespace lp::cluster
