// cfutures/any_future.hpp — any_future, a type-erased future.
//
// What: a handle constructible from any future<T>, sharing its state, so that futures of
// different result types can be waited on together (wait({f1, f2}), as_completed).
// Every member of future<T> but result(): valid, cancel, cancelled, running, done,
// exception, wait, wait_for, add_done_callback (callbacks take const any_future&),
// request_stop, == and std::hash (equal to those of the future<T> it came from).
// Thread safety, blocking and exceptions: as future<T>.
// Python counterpart: any Future (Python's futures are untyped).
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <type_traits>

#include "cfutures/future.hpp"

namespace cfutures {

class any_future {
 public:
  any_future() noexcept = default;
  template <class T>
  any_future(const future<T>& f) noexcept  // NOLINT(google-explicit-constructor): like Python
      : state_(detail::ref_ptr<detail::state_base>::share(detail::future_access::state(f))) {}

  bool valid() const noexcept { return static_cast<bool>(state_); }
  bool cancel() const { return checked().cancel(); }
  bool cancelled() const { return checked().get_status() == detail::status::cancelled; }
  bool running() const { return checked().get_status() == detail::status::running; }
  bool done() const { return checked().done(); }

  std::exception_ptr exception() const { return exception_until(detail::deadline::never()); }
  template <class Rep, class Period>
  std::exception_ptr exception(std::chrono::duration<Rep, Period> timeout) const {
    return exception_until(detail::deadline::after(timeout));
  }

  void wait() const { checked().wait_until(detail::deadline::never()); }
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
    return checked().wait_until(detail::deadline::after(timeout));
  }

  template <class Fn>
  void add_done_callback(Fn fn) const {
    static_assert(std::is_invocable_v<Fn&, const any_future&>,
                  "add_done_callback: the callback must be callable as fn(const any_future&)");
    checked().add_callback(
        std::make_unique<detail::handle_callback<any_future, detail::state_base, Fn>>(
            std::move(fn)));
  }

  bool request_stop() const { return checked().request_stop(); }

  friend bool operator==(const any_future& a, const any_future& b) noexcept {
    return a.state_.get() == b.state_.get();
  }
  template <class T>
  friend bool operator==(const any_future& a, const future<T>& b) noexcept {
    return a.state_.get() == detail::future_access::state(b);
  }

 private:
  friend struct detail::future_access;
  template <class, class, class>
  friend class detail::handle_callback;

  explicit any_future(detail::ref_ptr<detail::state_base> state) noexcept
      : state_(std::move(state)) {}

  detail::state_base& checked() const {
    if (!state_) detail::throw_no_state();
    return *state_;
  }
  std::exception_ptr exception_until(const detail::deadline& until) const {
    detail::state_base& s = checked();
    if (!s.wait_until(until)) throw timeout_error();
    return s.exception_of_done();
  }

  detail::ref_ptr<detail::state_base> state_;
};

}  // namespace cfutures

template <>
struct std::hash<cfutures::any_future> {
  std::size_t operator()(const cfutures::any_future& f) const noexcept {
    return std::hash<const void*>{}(cfutures::detail::future_access::state(f));
  }
};
