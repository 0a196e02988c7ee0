// cfutures/promise.hpp — promise<T>, the producer side of a future.
//
// What: the methods Python reserves "for use by Executor implementations and unit tests"
// (set_running_or_notify_cancel, set_result, set_exception), on their own handle. Anyone
// can write an executor with promise<T> and get wait/as_completed/callbacks for free.
// Default-constructible (creates a fresh PENDING state) and copyable: copies share the
// state, like shared_ptr, so the members are const.
// Thread safety: every member may be called from any thread, concurrently.
// Blocking: never (done-callbacks run inside set_result/set_exception, in this thread).
// Exceptions: set_running_or_notify_cancel: invalid_state_error if the future is already
// running or finished; set_result/set_exception: invalid_state_error if it is already done
// or cancelled; set_exception(nullptr): std::invalid_argument.
// Python deviation: a promise destroyed without completing leaves its future pending
// forever, as a Python Future nobody completes does (no std::broken_promise).
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
  promise() : state_(detail::ref_ptr<state_type>::adopt(new state_type())) {}

  future<T> get_future() const { return detail::future_access::make<T>(state_); }

  // False if the future was cancelled; true if it moved from pending to running.
  bool set_running_or_notify_cancel() const { return state_->set_running_or_notify_cancel(); }

  template <class U = T>
  requires(!std::is_void_v<U> && std::is_copy_constructible_v<U>) void set_result(
      const std::type_identity_t<U>& value) const {
    check(state_->try_set_result(value));
  }
  template <class U = T>
  requires(!std::is_void_v<U>) void set_result(std::type_identity_t<U>&& value) const {
    check(state_->try_set_result(std::move(value)));
  }
  void set_result() const requires std::is_void_v<T> { check(state_->try_set_result()); }

  void set_exception(std::exception_ptr error) const { state_->set_exception(std::move(error)); }

 private:
  static void check(bool completed) {
    if (!completed)
      throw invalid_state_error("set_result: the future is already done or cancelled");
  }

  detail::ref_ptr<state_type> state_;
};

}  // namespace cfutures
