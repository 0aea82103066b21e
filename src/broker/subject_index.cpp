#include "broker/subject_index.hpp"

#include <algorithm>
#include <functional>
#include <unordered_map>

namespace lp::broker {
namespace {

// Lets the maps be searched with a string_view (no temporary std::string per publish).
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

// Splits the first token off `rest`: returns it and leaves the remainder in `rest`
// (empty with `more` false after the last token).
std::string_view next_token(std::string_view& rest, bool& more) noexcept {
  const std::size_t dot = rest.find('.');
  if (dot == std::string_view::npos) {
    const std::string_view token = rest;
    rest = {};
    more = false;
    return token;
  }
  const std::string_view token = rest.substr(0, dot);
  rest.remove_prefix(dot + 1);
  more = true;
  return token;
}

bool has_wildcard(std::string_view pattern) noexcept {
  std::string_view rest = pattern;
  bool more = true;
  while (more) {
    const std::string_view t = next_token(rest, more);
    if (t == "*" || t == ">") return true;
  }
  return false;
}

void erase_one(std::vector<Subscription*>& v, Subscription* sub) {
  auto it = std::find(v.begin(), v.end(), sub);
  if (it != v.end()) {
    *it = v.back();
    v.pop_back();
  }
}

}  // namespace

bool is_valid_subject(std::string_view s) noexcept {
  if (s.empty()) return false;
  std::string_view rest = s;
  bool more = true;
  bool after_full_wildcard = false;
  while (more) {
    const std::string_view t = next_token(rest, more);
    if (t.empty() || after_full_wildcard) return false;
    for (char c : t) {
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') return false;
    }
    if (t == ">") after_full_wildcard = true;
  }
  return true;
}

bool is_valid_publish_subject(std::string_view s) noexcept {
  return is_valid_subject(s) && !has_wildcard(s);
}

struct SubjectIndex::Literals {
  StringMap<std::vector<Subscription*>> by_subject;
};

struct SubjectIndex::Node {
  StringMap<std::unique_ptr<Node>> children;  // literal next tokens
  std::unique_ptr<Node> star;                 // `*` as the next token
  std::vector<Subscription*> here;            // patterns that end at this node
  std::vector<Subscription*> rest;            // patterns with `>` as the next (last) token

  bool unused() const noexcept { return children.empty() && !star && here.empty() && rest.empty(); }
};

SubjectIndex::SubjectIndex() : literals_(std::make_unique<Literals>()), root_(std::make_unique<Node>()) {}

SubjectIndex::~SubjectIndex() = default;

void SubjectIndex::insert(Subscription* sub) {
  ++size_;
  if (!has_wildcard(sub->subject)) {
    literals_->by_subject[sub->subject].push_back(sub);
    return;
  }
  ++wildcard_size_;
  Node* node = root_.get();
  std::string_view rest = sub->subject;
  bool more = true;
  while (more) {
    const std::string_view t = next_token(rest, more);
    if (t == ">") {
      node->rest.push_back(sub);
      return;
    }
    std::unique_ptr<Node>* next = nullptr;
    if (t == "*") {
      next = &node->star;
    } else {
      auto it = node->children.find(t);
      if (it == node->children.end()) it = node->children.emplace(std::string(t), nullptr).first;
      next = &it->second;
    }
    if (!*next) *next = std::make_unique<Node>();
    node = next->get();
  }
  node->here.push_back(sub);
}

bool SubjectIndex::remove_below(Node& node, std::string_view rest, bool more, Subscription* sub) {
  if (!more) {
    const std::size_t before = node.here.size();
    erase_one(node.here, sub);
    return node.here.size() != before;
  }
  const std::string_view t = next_token(rest, more);
  if (t == ">") {
    const std::size_t before = node.rest.size();
    erase_one(node.rest, sub);
    return node.rest.size() != before;
  }
  if (t == "*") {
    if (!node.star) return false;
    const bool found = remove_below(*node.star, rest, more, sub);
    if (node.star->unused()) node.star.reset();
    return found;
  }
  auto it = node.children.find(t);
  if (it == node.children.end()) return false;
  const bool found = remove_below(*it->second, rest, more, sub);
  if (it->second->unused()) node.children.erase(it);
  return found;
}

void SubjectIndex::match_node(const Node& node, std::string_view rest, bool more,
                              std::vector<Subscription*>& out) {
  if (!more) {
    out.insert(out.end(), node.here.begin(), node.here.end());
    return;
  }
  // `>` needs at least one token, and there is one left.
  out.insert(out.end(), node.rest.begin(), node.rest.end());
  const std::string_view t = next_token(rest, more);
  if (auto it = node.children.find(t); it != node.children.end()) match_node(*it->second, rest, more, out);
  if (node.star) match_node(*node.star, rest, more, out);
}

void SubjectIndex::remove(Subscription* sub) {
  if (!has_wildcard(sub->subject)) {
    auto it = literals_->by_subject.find(std::string_view(sub->subject));
    if (it == literals_->by_subject.end()) return;
    const std::size_t before = it->second.size();
    erase_one(it->second, sub);
    if (it->second.size() == before) return;
    if (it->second.empty()) literals_->by_subject.erase(it);
    --size_;
    return;
  }
  if (remove_below(*root_, sub->subject, true, sub)) {
    --size_;
    --wildcard_size_;
  }
}

void SubjectIndex::match(std::string_view subject, std::vector<Subscription*>& out) const {
  if (auto it = literals_->by_subject.find(subject); it != literals_->by_subject.end()) {
    out.insert(out.end(), it->second.begin(), it->second.end());
  }
  if (wildcard_size_ > 0) match_node(*root_, subject, true, out);
}

}  // namespace lp::broker
