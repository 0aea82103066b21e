#include "broker/handshake.hpp"

#include <nlohmann/json.hpp>

#include <type_traits>

namespace lp::broker {
namespace {

// The protocol level the broker speaks: the client protocol of nats-server 2.9 (headers,
// no responders). Clients read `version` to decide what a server supports; the broker's
// own identity is in `server_name` and `go`.
constexpr const char* kProtocolVersion = "2.9.0";

// Reads an optional field, checking its JSON type first (no exceptions on bad input).
template <typename T>
bool read_field(const nlohmann::json& doc, const char* key, T& out, std::string& problem) {
  auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) return true;
  bool right_type = false;
  if constexpr (std::is_same_v<T, bool>) {
    right_type = it->is_boolean();
  } else if constexpr (std::is_same_v<T, std::string>) {
    right_type = it->is_string();
  } else {
    right_type = it->is_number_integer();
  }
  if (!right_type) {
    problem = std::string("CONNECT field '") + key + "' has the wrong type";
    return false;
  }
  out = it->get<T>();
  return true;
}

}  // namespace

std::string render_info(const ServerInfo& info, std::uint64_t client_id, std::string_view client_ip) {
  nlohmann::ordered_json doc;
  doc["server_id"] = info.server_id;
  doc["server_name"] = info.server_name;
  doc["version"] = kProtocolVersion;
  doc["proto"] = 1;
  doc["go"] = std::string("loadpilot-broker/") + LOADPILOT_VERSION;
  doc["host"] = info.host;
  doc["port"] = info.port;
  doc["headers"] = true;
  doc["max_payload"] = info.max_payload;
  doc["client_id"] = client_id;
  doc["client_ip"] = std::string(client_ip);
  if (info.auth_required) doc["auth_required"] = true;
  return "INFO " + doc.dump() + "\r\n";
}

Result<ConnectOptions> parse_connect(std::string_view json) {
  nlohmann::json doc = nlohmann::json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return make_error(ErrorCode::Invalid, "CONNECT argument is not a JSON object");
  }
  ConnectOptions o;
  std::string problem;
  const bool ok = read_field(doc, "verbose", o.verbose, problem) && read_field(doc, "pedantic", o.pedantic, problem) &&
                  read_field(doc, "echo", o.echo, problem) && read_field(doc, "headers", o.headers, problem) &&
                  read_field(doc, "no_responders", o.no_responders, problem) &&
                  read_field(doc, "protocol", o.protocol, problem) &&
                  read_field(doc, "auth_token", o.auth_token, problem) && read_field(doc, "name", o.name, problem);
  if (!ok) return make_error(ErrorCode::Invalid, problem);
  return o;
}

bool token_matches(std::string_view given, std::string_view expected) noexcept {
  // Length is not secret (nats-server compares the same way); the bytes are.
  if (given.size() != expected.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < given.size(); ++i) {
    diff |= static_cast<unsigned char>(given[i] ^ expected[i]);
  }
  return diff == 0;
}

}  // namespace lp::broker
