#include "http/url.hpp"

#include <charconv>

namespace lp::http {

std::string Url::authority() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if ((tls && port == 443) || (!tls && port == 80)) return h;
  return h + ":" + std::to_string(port);
}

std::string Url::origin() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return std::string(tls ? "https://" : "http://") + h + ":" + std::to_string(port);
}

std::optional<Url> parse_url(std::string_view text) {
  Url url;
  if (text.starts_with("http://")) {
    text.remove_prefix(7);
  } else if (text.starts_with("https://")) {
    url.tls = true;
    url.port = 443;
    text.remove_prefix(8);
  } else {
    return std::nullopt;
  }
  std::size_t end = text.find_first_of("/?#");
  std::string_view authority = text.substr(0, end);
  std::string_view rest = end == std::string_view::npos ? std::string_view{} : text.substr(end);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  if (authority.empty()) return std::nullopt;

  std::string_view port_text;
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port_text = after.substr(1);
    }
  } else {
    auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (url.host.empty()) return std::nullopt;
  if (!port_text.empty()) {
    unsigned port = 0;
    auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || p != port_text.data() + port_text.size() || port == 0 || port > 65535) {
      return std::nullopt;
    }
    url.port = static_cast<std::uint16_t>(port);
  }
  if (auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  url.target = rest.empty() ? "/" : std::string(rest);
  if (url.target.front() == '?') url.target.insert(0, "/");
  return url;
}

std::optional<Url> resolve_url(const Url& base, std::string_view path_or_url) {
  if (path_or_url.starts_with("http://") || path_or_url.starts_with("https://")) {
    return parse_url(path_or_url);
  }
  Url url = base;
  std::string prefix = base.target;
  if (auto q = prefix.find('?'); q != std::string::npos) prefix.resize(q);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (path_or_url.empty()) path_or_url = "/";
  url.target = prefix + (path_or_url.front() == '/' ? "" : "/") + std::string(path_or_url);
  return url;
}

}  // namespace lp::http
