#include "metrics/stats_codec.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace lp::metrics {
namespace {

// Decoding limits: a message beyond them is refused rather than allocated for.
constexpr std::uint32_t kMaxTasks = 1'000'000;
constexpr std::size_t kMaxStringBytes = 4096;
constexpr std::uint32_t kMaxSlots = 1'000'000;

constexpr std::uint8_t kFlagFinal = 1;
constexpr std::uint8_t kSlotClosed = 1;

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7F) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void fixed64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
  void f64(double v) { fixed64(std::bit_cast<std::uint64_t>(v)); }
  void string(std::string_view s) {
    varint(s.size());
    out_.append(s);
  }

 private:
  std::string& out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : p_(in.data()), end_(in.data() + in.size()) {}

  bool ok() const noexcept { return error_.empty(); }
  const std::string& error() const noexcept { return error_; }
  std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - p_); }
  void fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
  }

  std::uint8_t u8() {
    if (!need(1)) return 0;
    return static_cast<std::uint8_t>(*p_++);
  }
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
      if (!need(1)) return 0;
      const auto byte = static_cast<std::uint8_t>(*p_++);
      if (shift == 63 && byte > 1) break;  // more than 64 bits
      v |= std::uint64_t{byte & 0x7Fu} << shift;
      if ((byte & 0x80) == 0) return v;
    }
    fail("malformed varint in stats message");
    return 0;
  }
  std::uint32_t varint32(const char* what, std::uint64_t limit) {
    const std::uint64_t v = varint();
    if (v > limit) {
      fail(std::string("stats message: ") + what + " " + std::to_string(v) + " is above the limit " +
           std::to_string(limit));
      return 0;
    }
    return static_cast<std::uint32_t>(v);
  }
  std::uint64_t fixed64() {
    if (!need(8)) return 0;
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= std::uint64_t{static_cast<std::uint8_t>(p_[i])} << (8 * i);
    p_ += 8;
    return v;
  }
  double f64() { return std::bit_cast<double>(fixed64()); }
  std::string string() {
    const std::uint64_t n = varint();
    if (n > kMaxStringBytes) {
      fail("stats message: a string of " + std::to_string(n) + " bytes (at most " +
           std::to_string(kMaxStringBytes) + ")");
      return {};
    }
    if (!need(static_cast<std::size_t>(n))) return {};
    std::string s(p_, static_cast<std::size_t>(n));
    p_ += n;
    return s;
  }
  /// True when `count` items of at least `min_bytes` each can still follow.
  bool can_hold(std::uint64_t count, std::size_t min_bytes) {
    if (count > remaining() / min_bytes) {
      fail("truncated stats message");
      return false;
    }
    return true;
  }

 private:
  bool need(std::size_t n) {
    if (!ok()) return false;
    if (remaining() < n) {
      fail("truncated stats message");
      return false;
    }
    return true;
  }

  const char* p_;
  const char* end_;
  std::string error_;
};

WireHistogram wire_of(const Histogram& h) {
  WireHistogram w;
  w.buckets = h.sparse();
  w.min_us = h.min_us();
  w.max_us = h.max_us();
  w.sum_us = h.sum_us();
  w.saturated = h.saturated();
  return w;
}

void put(Writer& w, const WireHistogram& h) {
  w.varint(h.buckets.size());
  std::uint64_t next = 0;  // buckets ascend: each index travels as its gap from the previous
  for (const auto& [index, count] : h.buckets) {
    w.varint(index - next);
    w.varint(count);
    next = std::uint64_t{index} + 1;
  }
  w.varint(h.min_us);
  w.varint(h.max_us);
  w.varint(h.sum_us);
  w.varint(h.saturated);
}

void get(Reader& r, WireHistogram& h) {
  const std::uint64_t n = r.varint();
  if (!r.can_hold(n, 2)) return;
  h.buckets.reserve(static_cast<std::size_t>(n));
  std::uint64_t next = 0;
  for (std::uint64_t i = 0; i < n && r.ok(); ++i) {
    const std::uint64_t index = next + r.varint();
    const std::uint64_t count = r.varint();
    if (index >= Histogram::kBucketCount) {
      r.fail("stats message: histogram bucket " + std::to_string(index) + " out of range (0.." +
             std::to_string(Histogram::kBucketCount - 1) + ")");
      return;
    }
    h.buckets.emplace_back(static_cast<std::uint32_t>(index), count);
    next = index + 1;
  }
  h.min_us = r.varint();
  h.max_us = r.varint();
  h.sum_us = r.varint();
  h.saturated = r.varint();
}

void put(Writer& w, const WireTask& t) {
  w.varint(t.index);
  w.varint(t.requests);
  w.varint(t.errors);
  w.varint(t.errors_without_request);
  w.varint(kErrorKindCount);
  for (std::uint64_t n : t.errors_by_kind) w.varint(n);
  put(w, t.latency);
  put(w, t.service);
  put(w, t.success);
}

void get(Reader& r, WireTask& t) {
  t.index = r.varint32("task index", kMaxTasks);
  t.requests = r.varint();
  t.errors = r.varint();
  t.errors_without_request = r.varint();
  // A newer sender may know more error kinds; they are read and left out.
  const std::uint64_t kinds = r.varint();
  if (!r.can_hold(kinds, 1)) return;
  for (std::uint64_t i = 0; i < kinds && r.ok(); ++i) {
    const std::uint64_t n = r.varint();
    if (i < kErrorKindCount) t.errors_by_kind[i] = n;
  }
  get(r, t.latency);
  get(r, t.service);
  get(r, t.success);
}

void put_header(Writer& w, const StatsHeader& h) {
  w.u8(kStatsWireVersion);
  w.string(h.run_id);
  w.string(h.agent_id);
  w.fixed64(h.instance);
  w.varint(h.seq);
  w.varint(h.part);
  w.varint(h.parts);
  w.u8(h.final ? kFlagFinal : 0);
  w.u8(static_cast<std::uint8_t>(h.state));
  w.f64(h.elapsed_secs);
  w.f64(h.start_unix_ms);
  w.varint(h.active_workers);
  w.varint(h.slots.size());
  for (const SlotProgress& s : h.slots) {
    w.varint(s.slot);
    w.varint(s.next_index);
    w.u8(s.closed ? kSlotClosed : 0);
  }
}

void put_counters(Writer& w, const WireStats& s, std::size_t task_entries) {
  w.varint(s.iterations);
  w.varint(s.late);
  w.varint(s.dropped);
  w.varint(s.retries);
  w.varint(s.in_flight);
  w.varint(s.connections);
  w.varint(s.task_count);
  w.varint(task_entries);
}

std::string encode_with(const StatsHeader& header, const WireStats& stats, const WireTask* first,
                        std::size_t count) {
  std::string out;
  Writer w(out);
  put_header(w, header);
  put_counters(w, stats, count);
  for (std::size_t i = 0; i < count; ++i) put(w, first[i]);
  return out;
}

std::size_t encoded_size(const WireTask& task) {
  std::string out;
  Writer w(out);
  put(w, task);
  return out.size();
}

Status merge_histogram(Histogram& into, const WireHistogram& w) {
  if (!into.add_sparse(w.buckets, w.min_us, w.max_us, w.sum_us, w.saturated)) {
    return make_error(ErrorCode::Invalid, "stats: a histogram bucket is out of range");
  }
  return Ok{};
}

}  // namespace

std::string_view to_string(AgentState state) noexcept {
  switch (state) {
    case AgentState::Idle: return "idle";
    case AgentState::Running: return "running";
    case AgentState::Paused: return "paused";
    case AgentState::kCount: break;
  }
  return "unknown";
}

WireStats to_wire(const RunStats& stats) {
  WireStats w;
  w.task_count = static_cast<std::uint32_t>(stats.tasks.size());
  w.tasks.reserve(stats.tasks.size());
  for (std::size_t i = 0; i < stats.tasks.size(); ++i) {
    const TaskStats& t = stats.tasks[i];
    WireTask& out = w.tasks.emplace_back();
    out.index = static_cast<std::uint32_t>(i);
    out.requests = t.requests;
    out.errors = t.errors;
    out.errors_without_request = t.errors_without_request;
    out.errors_by_kind = t.errors_by_kind;
    out.latency = wire_of(t.latency);
    out.service = wire_of(t.service);
    out.success = wire_of(t.success);
  }
  w.iterations = stats.iterations;
  w.late = stats.late;
  w.dropped = stats.dropped;
  w.retries = stats.retries;
  w.in_flight = stats.in_flight;
  w.connections = stats.connections;
  return w;
}

Status merge_wire(RunStats& into, const WireStats& wire) {
  if (into.tasks.size() < wire.task_count) into.tasks.resize(wire.task_count);
  for (const WireTask& t : wire.tasks) {
    if (t.index >= into.tasks.size()) {
      return make_error(ErrorCode::Invalid, "stats: task index " + std::to_string(t.index) + " but the run has " +
                                                std::to_string(into.tasks.size()) + " tasks");
    }
    TaskStats& ts = into.tasks[t.index];
    ts.requests += t.requests;
    ts.errors += t.errors;
    ts.errors_without_request += t.errors_without_request;
    for (std::size_t k = 0; k < kErrorKindCount; ++k) ts.errors_by_kind[k] += t.errors_by_kind[k];
    for (auto [h, w] : {std::pair{&ts.latency, &t.latency}, {&ts.service, &t.service}, {&ts.success, &t.success}}) {
      if (auto s = merge_histogram(*h, *w); !s) return s;
    }
  }
  into.iterations += wire.iterations;
  into.late += wire.late;
  into.dropped += wire.dropped;
  into.retries += wire.retries;
  into.in_flight += wire.in_flight;
  into.connections += wire.connections;
  return Ok{};
}

std::string encode_stats(const StatsMessage& m) {
  return encode_with(m.header, m.stats, m.stats.tasks.data(), m.stats.tasks.size());
}

Result<StatsMessage> decode_stats(std::string_view bytes) {
  Reader r(bytes);
  StatsMessage m;
  StatsHeader& h = m.header;
  const std::uint8_t version = r.u8();
  if (r.ok() && version != kStatsWireVersion) {
    return make_error(ErrorCode::Invalid,
                      "stats message version " + std::to_string(version) + " (this build reads " +
                          std::to_string(kStatsWireVersion) + ")",
                      "run the same LoadPilot version on the agents and the coordinator");
  }
  h.run_id = r.string();
  h.agent_id = r.string();
  h.instance = r.fixed64();
  h.seq = r.varint();
  h.part = r.varint32("part", UINT32_MAX);
  h.parts = r.varint32("parts", UINT32_MAX);
  const std::uint8_t flags = r.u8();
  h.final = (flags & kFlagFinal) != 0;
  const std::uint8_t state = r.u8();
  if (r.ok() && state >= static_cast<std::uint8_t>(AgentState::kCount)) {
    r.fail("stats message: unknown agent state " + std::to_string(state));
  }
  h.state = static_cast<AgentState>(state);
  h.elapsed_secs = r.f64();
  h.start_unix_ms = r.f64();
  h.active_workers = r.varint32("active_workers", UINT32_MAX);
  const std::uint32_t slots = r.varint32("slot count", kMaxSlots);
  if (r.can_hold(slots, 3)) {
    h.slots.reserve(slots);
    for (std::uint32_t i = 0; i < slots && r.ok(); ++i) {
      SlotProgress& s = h.slots.emplace_back();
      s.slot = r.varint32("slot", UINT32_MAX);
      s.next_index = r.varint();
      s.closed = (r.u8() & kSlotClosed) != 0;
    }
  }
  if (r.ok() && (h.parts == 0 || h.part >= h.parts)) {
    r.fail("stats message: part " + std::to_string(h.part) + " of " + std::to_string(h.parts));
  }

  WireStats& s = m.stats;
  s.iterations = r.varint();
  s.late = r.varint();
  s.dropped = r.varint();
  s.retries = r.varint();
  s.in_flight = r.varint();
  s.connections = r.varint();
  s.task_count = r.varint32("task count", kMaxTasks);
  const std::uint32_t entries = r.varint32("tasks in the message", kMaxTasks);
  if (r.ok() && entries > s.task_count) {
    r.fail("stats message: " + std::to_string(entries) + " tasks in a run of " + std::to_string(s.task_count));
  }
  if (r.can_hold(entries, 20)) {
    s.tasks.reserve(entries);
    for (std::uint32_t i = 0; i < entries && r.ok(); ++i) {
      WireTask& t = s.tasks.emplace_back();
      get(r, t);
      if (!r.ok()) break;
      if (t.index >= s.task_count || (i > 0 && t.index <= s.tasks[i - 1].index)) {
        r.fail("stats message: task index " + std::to_string(t.index) + " out of order or range");
      }
    }
  }
  if (r.ok() && r.remaining() != 0) {
    r.fail("stats message: " + std::to_string(r.remaining()) + " bytes left over after the last field");
  }
  if (!r.ok()) return make_error(ErrorCode::Invalid, r.error());
  return m;
}

Result<std::vector<std::string>> encode_stats_parts(const StatsMessage& m, std::size_t max_bytes) {
  std::vector<std::string> out;
  std::string whole = encode_stats(m);
  if (whole.size() <= max_bytes) {
    out.push_back(std::move(whole));
    return out;
  }
  // The part numbers and the task count are varints: size the fixed part with the
  // widest values they can take, so every part fits whatever its numbers come out as.
  StatsHeader widest = m.header;
  widest.part = widest.parts = UINT32_MAX;
  WireStats widest_counts;
  widest_counts.task_count = UINT32_MAX;
  const std::size_t base = encode_with(widest, widest_counts, nullptr, 0).size() + 4;

  std::vector<std::pair<std::size_t, std::size_t>> runs;  // [first, last) task positions
  std::size_t first = 0, size = base;
  const auto& tasks = m.stats.tasks;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    const std::size_t task = encoded_size(tasks[i]);
    if (base + task > max_bytes) {
      return make_error(ErrorCode::Invalid,
                        "the stats of task " + std::to_string(tasks[i].index) + " need " + std::to_string(base + task) +
                            " bytes in one message, above the NATS server's max_payload of " +
                            std::to_string(max_bytes) + " bytes",
                        "raise max_payload on the NATS server (nats-server: max_payload in its config)");
    }
    if (size + task > max_bytes) {
      runs.emplace_back(first, i);
      first = i;
      size = base;
    }
    size += task;
  }
  runs.emplace_back(first, tasks.size());

  StatsHeader header = m.header;
  header.parts = static_cast<std::uint32_t>(runs.size());
  for (std::size_t p = 0; p < runs.size(); ++p) {
    header.part = static_cast<std::uint32_t>(p);
    out.push_back(encode_with(header, m.stats, tasks.data() + runs[p].first, runs[p].second - runs[p].first));
  }
  return out;
}

Result<StatsMessage> join_stats_parts(std::vector<StatsMessage> parts) {
  if (parts.empty()) return make_error(ErrorCode::Invalid, "no stats parts to join");
  std::sort(parts.begin(), parts.end(), [](const auto& a, const auto& b) { return a.header.part < b.header.part; });
  const StatsHeader& first = parts.front().header;
  if (parts.size() != first.parts) {
    return make_error(ErrorCode::Invalid, "stats seq " + std::to_string(first.seq) + ": " +
                                              std::to_string(parts.size()) + " parts of " + std::to_string(first.parts));
  }
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const StatsHeader& h = parts[i].header;
    if (h.part != i || h.parts != first.parts || h.seq != first.seq || h.instance != first.instance ||
        h.run_id != first.run_id || h.agent_id != first.agent_id) {
      return make_error(ErrorCode::Invalid, "stats parts of seq " + std::to_string(first.seq) + " do not belong together");
    }
  }
  StatsMessage joined = std::move(parts.front());
  joined.header.part = 0;
  joined.header.parts = 1;
  for (std::size_t i = 1; i < parts.size(); ++i) {
    auto& tasks = parts[i].stats.tasks;
    joined.stats.tasks.insert(joined.stats.tasks.end(), std::make_move_iterator(tasks.begin()),
                              std::make_move_iterator(tasks.end()));
  }
  return joined;
}

}  // namespace lp::metrics
