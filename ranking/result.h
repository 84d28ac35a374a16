// The project's one error idiom: a value-or-error Result<T>, and Result<void> for "done, or why
// not". The decision core reports bad input as data, never by throwing, so callers (config loader,
// scenario parser, API adapter) can attach the file and field the value came from. A Result<void>
// is success when default-constructed (`return {};`).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace evictd {

struct Error {
  std::string message;
  // The configuration field the error is about, e.g. `evictionHard[memory.available]`; empty when
  // the caller already knows which field it passed in.
  std::string field;
  // The 1-based line of the input the error is about; 0 when not known.
  int line = 0;
  // A protocol status when the error came from a remote call (a gRPC status code); 0 otherwise.
  int code = 0;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  const T& value() const& { return std::get<T>(state_); }
  T& value() & { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  const T& operator*() const& { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  const Error& error() const { return std::get<Error>(state_); }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error)
      : error_(std::move(error)), failed_(true) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool failed_ = false;
};

inline Error make_error(std::string message, std::string field = {}) {
  return Error{std::move(message), std::move(field)};
}

}  // namespace evictd
