// cfutures/any_future.hpp — any_future, a type-erased future.
//
// What: a handle constructible from any future<T>, sharing its state, so that futures of
// different result types can be waited on together (wait({f1, f2}), as_completed).
// Every member of future<T> but result(): valid, cancel, cancelled, running, done,
// exception, wait, wait_for, add_done_callback (callbacks take const any_future&),
// request_stop, == and std::hash (equal to those of the future<T> it came from).
//
// Thread safety: as future<T>: every member may be called from any thread, concurrently.
// Blocking: as future<T>: exception() and wait() block until done; the rest returns at once.
// Throws: as future<T>; constructing one from a future<T> never throws.
// Python counterpart: any Future (Python's futures are untyped).
// Deviations: none beyond future<T>'s; there is no result() (use the typed future for it).
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <type_traits>

#include "cfutures/future.hpp"

namespace cfutures {

class any_future : public detail::handle_base<any_future, detail::state_base> {
 public:
  // No state: valid() is false.
  any_future() noexcept = default;
  // Shares f's state (implicit, so {f1, f2} makes a list of any_future).
  template <class T>
  any_future(const future<T>& f) noexcept  // NOLINT(google-explicit-constructor): like Python
      : base(detail::ref_ptr<detail::state_base>::share(detail::future_access::state(f))) {}

  // Same shared state (identity, not value).
  friend bool operator==(const any_future& a, const any_future& b) noexcept {
    return detail::future_access::state(a) == detail::future_access::state(b);
  }
  // Same shared state as the typed future b.
  template <class T>
  friend bool operator==(const any_future& a, const future<T>& b) noexcept {
    return detail::future_access::state(a) == detail::future_access::state(b);
  }

 private:
  friend struct detail::future_access;
  template <class, class, class>
  friend class detail::handle_callback;
  using base = detail::handle_base<any_future, detail::state_base>;

  explicit any_future(detail::ref_ptr<detail::state_base> state) noexcept
      : base(std::move(state)) {}
};

}  // namespace cfutures

// Hashes the identity of the shared state: equal to the hash of the future<T> it came from.
template <>
struct std::hash<cfutures::any_future> {
  std::size_t operator()(const cfutures::any_future& f) const noexcept {
    return std::hash<const void*>{}(cfutures::detail::future_access::state(f));
  }
};
