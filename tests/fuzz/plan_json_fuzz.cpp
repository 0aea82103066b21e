// libFuzzer target: core::parse_plan_json on arbitrary text.
//
// Input: the plan text, verbatim (so a seed is a plan file).
// Properties: parsing never throws nor crashes, whatever the text; a failure always
// says what is wrong; a plan that parses can be scheduled (its load profile builds, and
// counts a finite number of iterations, at most 2^53); it round-trips: plan_to_json
// gives text that parses again, to a plan equal to the first in every field and that
// serialises to the same text.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

#include "core/plan_json.hpp"
#include "core/profile.hpp"
#include "fuzz/fuzz_check.hpp"

namespace {

// parse_plan_json returns every failure as a value: an exception escaping it would take
// down `loadpilot-coordinator` (and later POST /run) on one bad request.
lp::Result<lp::core::Plan> parse(std::string_view text, const char* which) {
  try {
    return lp::core::parse_plan_json(text);
  } catch (const std::exception& e) {
    LP_FUZZ_CHECK(false, "parse_plan_json threw on the %s text: %s", which, e.what());
  } catch (...) {
    LP_FUZZ_CHECK(false, "parse_plan_json threw a non-std exception on the %s text", which);
  }
  std::abort();
}

std::string to_json(const lp::core::Plan& plan, const char* which) {
  try {
    return lp::core::plan_to_json(plan);
  } catch (const std::exception& e) {
    LP_FUZZ_CHECK(false, "plan_to_json threw on the %s plan: %s", which, e.what());
  }
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const auto parsed = parse(text, "input");
  if (!parsed) {
    LP_FUZZ_CHECK(!parsed.error().message.empty(), "a rejected plan without a message");
    return 0;
  }

  // What engine::RateSchedule builds from every accepted plan.
  const lp::core::Profile profile(*parsed);
  LP_FUZZ_CHECK(profile.total_count() >= 0 && profile.total_count() <= 9007199254740992.0,
                "an accepted plan counts %g iterations", profile.total_count());

  const std::string first = to_json(*parsed, "parsed");
  const auto again = parse(first, "serialised");
  LP_FUZZ_CHECK(again.ok(), "plan_to_json gave a plan that does not parse: %s\nerror: %s", first.c_str(),
                again.error().message.c_str());
  // core::Plan's operator== covers every field: one that plan_to_json forgot reads back
  // as its default and fails here.
  LP_FUZZ_CHECK(*parsed == *again, "round trip changed the plan\nserialised: %s", first.c_str());
  const std::string second = to_json(*again, "reparsed");
  LP_FUZZ_CHECK(second == first, "round trip changed the plan\nfirst:  %s\nsecond: %s", first.c_str(),
                second.c_str());
  return 0;
}
