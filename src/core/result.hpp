#pragma once
// Expected failures cross module boundaries as values (k6's errext idea): an error
// carries what went wrong and, where we know it, what the user can do about it.

#include <string>
#include <utility>
#include <variant>

namespace lp {

enum class ErrorCode {
  Invalid,      ///< bad user input (plan, flags, scenario): exit code 2
  Io,           ///< file or socket could not be used
  Unavailable,  ///< a peer (target, broker, coordinator) did not answer
  Internal,     ///< a bug: should never reach a user
};

struct Error {
  ErrorCode code = ErrorCode::Internal;
  std::string message;  ///< what went wrong, one line, no trailing period
  std::string hint;     ///< what to do about it; may be empty
};

/// A value or an Error (the shape of C++23 std::expected, which g++ 12 lacks).
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}        // NOLINT: implicit by design

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

/// Result of an operation that returns nothing but may fail.
struct Ok {};
using Status = Result<Ok>;

inline Error make_error(ErrorCode code, std::string message, std::string hint = {}) {
  return Error{code, std::move(message), std::move(hint)};
}

}  // namespace lp
