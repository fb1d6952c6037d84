// SPDX-License-Identifier: Apache-2.0
// Result<T>: the one way userspace says that something can fail.
//
// A function that can fail returns Result<T> (or Status, which carries no
// value): either the value, or an Error whose message says what failed in
// words an operator can act on ("policy slot 3: map update: E2BIG"). Callers
// add context by wrapping the message, never by logging and returning a bare
// false. Exceptions are caught at the boundaries that meet foreign code
// (yaml-cpp, nlohmann::json, httplib) and turned into an Error there; see
// docs/development.md, "Errors".
//
// std::expected would do, but it needs C++23 and the fuzz build's clang 14
// does not compile libstdc++'s <expected>; this is the small subset we use.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace fnw {

struct Error {
    std::string message;
};

// Builds an Error; `return fail("...")` reads as what it does.
inline Error fail(std::string message) { return Error{std::move(message)}; }

// E is Error unless a caller must act on the kind of failure, not only
// report it: then E is a struct with a `message` and whatever the caller
// branches on (ControlConnectError: no daemon vs. refused). fail() builds
// an Error, so such a function builds its E itself.
template <class T, class E = Error>
class [[nodiscard]] Result {
public:
    Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
    Result(E error) : state_(std::in_place_index<1>, std::move(error)) {}

    bool ok() const { return state_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(state_); }
    const T& value() const& { return std::get<0>(state_); }
    T&& value() && { return std::get<0>(std::move(state_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    // Only meaningful when !ok().
    const std::string& error() const { return std::get<1>(state_).message; }
    // The whole failure, for an E that carries more than the message.
    const E& failure() const { return std::get<1>(state_); }
    // Passes the failure on, with context in front: `return r.wrap("slot 3")`.
    Error wrap(const std::string& context) const { return Error{context + ": " + error()}; }

private:
    std::variant<T, E> state_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error.message)), failed_(true) {}

    bool ok() const { return !failed_; }
    explicit operator bool() const { return ok(); }
    const std::string& error() const { return error_; }
    Error wrap(const std::string& context) const { return Error{context + ": " + error_}; }

private:
    std::string error_;
    bool failed_ = false;
};

using Status = Result<void>;

}  // namespace fnw
