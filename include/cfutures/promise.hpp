// cfutures/promise.hpp — promise<T>, the producer side of a future.
//
// What: the methods Python reserves "for use by Executor implementations and unit tests"
// (set_running_or_notify_cancel, set_result, set_exception), on their own handle. Anyone
// can write an executor with promise<T> and get wait/as_completed/callbacks for free.
// Default-constructible (creates a fresh PENDING state) and copyable: copies share the
// state, like shared_ptr, so the members are const.
//
// Thread safety: every member may be called from any thread, concurrently.
// Blocking: never (done-callbacks run inside set_result/set_exception, in this thread).
// Throws: set_running_or_notify_cancel: invalid_state_error if the future is already
//   running or finished; set_result/set_exception: invalid_state_error if it is already done
//   or cancelled; set_exception(nullptr): std::invalid_argument.
// Python counterpart: Future.set_running_or_notify_cancel, set_result and set_exception.
// Deviations: the producer methods are on their own handle, not on the future; a promise
//   destroyed without completing leaves its future pending forever, as a Python Future
//   nobody completes does (no std::broken_promise).
#pragma once

#include <exception>
#include <type_traits>
#include <utility>

#include "cfutures/detail/ref_ptr.hpp"
#include "cfutures/detail/shared_state.hpp"
#include "cfutures/errors.hpp"
#include "cfutures/future.hpp"

namespace cfutures {

template <class T>
class promise {
  using state_type = detail::shared_state<T>;

 public:
  // A fresh PENDING state.
  promise() : state_(detail::ref_ptr<state_type>::adopt(new state_type())) {}

  // The future of this state (may be called repeatedly: the same state each time).
  future<T> get_future() const { return detail::future_access::make<T>(state_); }

  // False if the future was cancelled; true if it moved from pending to running.
  bool set_running_or_notify_cancel() const { return state_->set_running_or_notify_cancel(); }

  // Finishes the future with a copy of `value`.
  template <class U = T>
  requires(!std::is_void_v<U> && std::is_copy_constructible_v<U>) void set_result(
      const std::type_identity_t<U>& value) const {
    check(state_->try_set_result(value));
  }
  // Finishes the future with `value`, moved in.
  template <class U = T>
  requires(!std::is_void_v<U>) void set_result(std::type_identity_t<U>&& value) const {
    check(state_->try_set_result(std::move(value)));
  }
  // Finishes a future<void>.
  void set_result() const requires std::is_void_v<T> { check(state_->try_set_result()); }

  // Finishes the future with `error` (not null), which result() rethrows.
  void set_exception(std::exception_ptr error) const { state_->set_exception(std::move(error)); }

 private:
  static void check(bool completed) {
    if (!completed)
      throw invalid_state_error("set_result: the future is already done or cancelled");
  }

  detail::ref_ptr<state_type> state_;
};

}  // namespace cfutures
