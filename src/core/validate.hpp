#pragma once
// Plan validation, k6's Validate(): every problem at once, each a sentence a user can
// act on ("rps must be > 0, got 0"), before any traffic is sent.

#include <string>
#include <vector>

#include "core/plan.hpp"

namespace lp::core {

/// Every problem with `plan`, in field order; empty when it can run.
std::vector<std::string> validate(const Plan& plan);

/// True for the methods the engine sends: GET POST PUT PATCH DELETE.
bool is_supported_method(std::string_view method);

}  // namespace lp::core
