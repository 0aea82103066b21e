#pragma once
// Plan validation, k6's Validate(): every problem at once, each a sentence a user can
// act on ("rps must be > 0, got 0"), before any traffic is sent.

#include <string>
#include <string_view>
#include <vector>

#include "core/plan.hpp"

namespace lp::core {

/// Every problem with `plan`, in field order; empty when it can run.
std::vector<std::string> validate(const Plan& plan);

/// True for the methods a task may use: GET POST PUT PATCH DELETE HEAD OPTIONS.
bool is_supported_method(std::string_view method);

/// Why a header cannot be sent as given; empty when it can. A name must be a token
/// (RFC 9110 §5.1: letters, digits and !#$%&'*+-.^_`|~), a value must not hold CR, LF
/// or NUL (§5.5): either would end the header line early, and what follows would be
/// read by the server as another header or another request. The text names the
/// header (control bytes in a name shown escaped, as \r, \n, \x01) but never quotes
/// the value, which is often a credential.
std::string header_problem(std::string_view name, std::string_view value);

}  // namespace lp::core
