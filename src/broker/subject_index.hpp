#pragma once
// Which subscriptions a published subject reaches. Literal patterns (the common case:
// `loadpilot.shard.agent-3`) are one hash lookup; patterns with `*` or `>` live in a
// token trie walked once per publish.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lp::broker {

struct Client;  // broker/client.hpp

/// One SUB of one client. Owned by its client; the index only points at it.
struct Subscription {
  Client* client = nullptr;     ///< the subscriber (null in the index's unit tests)
  std::string subject;          ///< the pattern, valid per is_valid_subject()
  std::string queue;            ///< queue group; empty for a plain subscription
  std::string sid;              ///< the client's id for it, echoed in MSG/HMSG
  std::uint64_t max_msgs = 0;   ///< UNSUB max: removed after this many deliveries; 0 = no limit
  std::uint64_t delivered = 0;  ///< messages delivered on it so far
};

/// Whether `s` is a valid subscription subject (nats-server's rules): non-empty tokens
/// separated by '.', no whitespace, `*` (exactly one token) and `>` (one or more
/// tokens, only as the last token) as whole tokens. `a.b*` is a literal token.
bool is_valid_subject(std::string_view s) noexcept;

/// Whether `s` is a valid subject to publish to: valid and without wildcard tokens.
bool is_valid_publish_subject(std::string_view s) noexcept;

/// Subscriptions by pattern. `a.>` matches `a.b` and `a.b.c`, never `a`; `a.*` matches
/// `a.b` only. Not thread-safe: the broker's loop thread owns it.
class SubjectIndex {
 public:
  SubjectIndex();
  ~SubjectIndex();
  SubjectIndex(const SubjectIndex&) = delete;
  SubjectIndex& operator=(const SubjectIndex&) = delete;

  /// Adds `sub`, whose subject must satisfy is_valid_subject() (checked by the caller,
  /// which owes the client an -ERR). `sub` must outlive its membership.
  void insert(Subscription* sub);

  /// Removes `sub` and frees trie nodes nothing uses any more; a no-op if absent.
  void remove(Subscription* sub);

  /// Appends every subscription whose pattern matches the literal `subject` to `out`,
  /// each exactly once, in no particular order. Allocates nothing beyond growing `out`.
  void match(std::string_view subject, std::vector<Subscription*>& out) const;

  /// Subscriptions in the index.
  std::size_t size() const noexcept { return size_; }

 private:
  struct Node;
  struct Literals;

  // Matches the tokens left in `rest` (none when !more) below `node`.
  static void match_node(const Node& node, std::string_view rest, bool more, std::vector<Subscription*>& out);
  // Removes `sub` from its pattern's path below `node`, pruning nodes left unused;
  // returns whether it was there.
  static bool remove_below(Node& node, std::string_view rest, bool more, Subscription* sub);

  std::unique_ptr<Literals> literals_;  // patterns without wildcards: subject → subs
  std::unique_ptr<Node> root_;          // patterns with at least one wildcard
  std::size_t size_ = 0;
  std::size_t wildcard_size_ = 0;
};

}  // namespace lp::broker
