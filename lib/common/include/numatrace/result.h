// Errors by layer: libraries return Result<T> and never print; the command
// prints once and maps Error::kind to its exit code.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace numatrace {

enum class ErrorKind {
  io,       // the input could not be read at all (open, stat, mmap): exit 2
  invalid,  // the input was read and is wrong: a finding, exit 1
};

struct Error {
  ErrorKind kind = ErrorKind::invalid;
  std::string code;     // stable code, documented in docs/ (e.g. "GG002")
  std::string where;    // the file the error is about
  std::string field;    // the field or item inside it, may be empty
  std::string message;  // what is wrong, with the values involved

  // "WHERE: CODE FIELD: MESSAGE", one line.
  std::string str() const {
    std::string s = where.empty() ? std::string() : where + ": ";
    s += code;
    if (!field.empty()) s += " " + field;
    s += ": " + message;
    return s;
  }
};

// What could not be read while the rest still was: said, and the work goes
// on. A code when the reason is a documented one (PM003 truncated core),
// else empty.
struct Warning {
  std::string code;
  std::string message;

  // "CODE MESSAGE", or the message alone.
  std::string str() const { return code.empty() ? message : code + " " + message; }
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

struct Unit {};
using Status = Result<Unit>;
inline Status ok_status() {
  return Unit{};
}

}  // namespace numatrace
