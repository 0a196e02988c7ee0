// cfutures/future.hpp — future<T>, the result of an asynchronous call.
//
// What: Python's concurrent.futures.Future. A copyable handle to shared state (copies are
// cheap and all see the same state). T may be void, a value type, or move-only; not a
// reference. A default-constructed future has no state (valid() is false); calling anything
// but valid(), == and hash on it throws invalid_state_error. Futures are made by executors
// and by promise<T> (promise.hpp); == and std::hash are the identity of the shared state, so
// futures can be keys of an unordered_map (Python's future_to_url dict).
//
// States: PENDING → RUNNING → FINISHED (a value or an exception), or PENDING → CANCELLED.
// done() is true for FINISHED and CANCELLED.
//
// Thread safety: every member may be called from any thread, concurrently.
// Blocking: result(), exception() and wait() block until done (or the timeout elapses);
//   everything else returns at once. Done-callbacks run in the thread that finished or
//   cancelled the future, or at once in add_done_callback's thread if it is already done.
// Throws: result() rethrows the call's exception; cancelled_error if cancelled;
//   timeout_error when a timeout elapses first (wait_for returns false instead).
//   add_done_callback never propagates an exception from the callback: it goes to the
//   callback-error handler (callback_errors.hpp). invalid_state_error on a future without
//   state.
// Python counterpart: concurrent.futures.Future (result, exception, cancel, cancelled,
//   running, done, add_done_callback; wait/wait_for stand in for concurrent.futures.wait on
//   one future).
// Deviations (deliberate):
// - cancel() makes the future done for everyone at once: blocked result(), wait and
//   as_completed wake immediately.
// - A zero or negative timeout is a non-blocking poll.
// - result() && moves the value out of the shared state (like std::future::get); other
//   handles then see a moved-from value.
// - request_stop() asks a running task that takes a std::stop_token to stop (C++ only); on
//   a process-pool call a worker holds, it stops that worker and cancels the future
//   (pebble's cancel of a running task).
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include "cfutures/callback_errors.hpp"
#include "cfutures/detail/deadline.hpp"
#include "cfutures/detail/ref_ptr.hpp"
#include "cfutures/detail/shared_state.hpp"
#include "cfutures/errors.hpp"

namespace cfutures {

template <class T>
class future;
class any_future;

namespace detail {

template <class T>
class coroutine_promise;

// The library's own door to a handle's state; never used by user code.
struct future_access {
  template <class F>
  static auto* state(const F& f) noexcept {
    return f.state_.get();
  }
  template <class T>
  static future<T> make(ref_ptr<shared_state<T>> state) noexcept {
    return future<T>(std::move(state));
  }
};

template <class T>
struct result_cref {
  using type = const T&;
};
template <>
struct result_cref<void> {
  using type = void;
};

[[noreturn]] void throw_no_state();

template <class Handle, class State, class Fn>
class handle_callback final : public callback_node {
 public:
  explicit handle_callback(Fn fn) : fn_(std::move(fn)) {}
  void invoke(state_base& state) noexcept override {
    const std::unique_ptr<handle_callback> self(this);
    try {
      fn_(Handle(ref_ptr<State>::share(static_cast<State*>(&state))));
    } catch (...) {
      report_callback_error(std::current_exception());
    }
  }
  void discard() noexcept override { delete this; }

 private:
  Fn fn_;
};

// What future<T> and any_future share: every observer of the state but result().
// Handle is the derived handle type (callbacks receive it), State its state type.
template <class Handle, class State>
class handle_base {
 public:
  // True if this handle has shared state (false when default-constructed).
  bool valid() const noexcept { return static_cast<bool>(state_); }

  // Pending: becomes cancelled, returns true. Already cancelled: true. Running or done: false.
  bool cancel() const { return checked().cancel(); }
  // True if the future was cancelled.
  bool cancelled() const { return checked().get_status() == status::cancelled; }
  // True while the call runs (for a process pool: while a worker process has it).
  bool running() const { return checked().get_status() == status::running; }
  // True once finished or cancelled.
  bool done() const { return checked().done(); }

  // Blocks until done; the call's exception, or null if it returned a value.
  std::exception_ptr exception() const { return exception_until(deadline::never()); }
  // The same, or timeout_error once `timeout` elapses first.
  template <class Rep, class Period>
  std::exception_ptr exception(std::chrono::duration<Rep, Period> timeout) const {
    return exception_until(deadline::after(timeout));
  }

  // Blocks until done.
  void wait() const { checked().wait_until(deadline::never()); }
  // Blocks until done or `timeout` elapses; true if done.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
    return checked().wait_until(deadline::after(timeout));
  }

  // fn(const Handle&) runs once the future is done, in the thread that finished or
  // cancelled it, or at once in this thread if it is already done. In the order added.
  template <class Fn>
  void add_done_callback(Fn fn) const {
    static_assert(std::is_invocable_v<Fn&, const Handle&>,
                  "add_done_callback: the callback must be callable as fn(const future&)");
    checked().add_callback(new handle_callback<Handle, State, Fn>(std::move(fn)));
  }

  // Asks the running task to stop through its std::stop_token (false if it takes none); a
  // process-pool call a worker holds: stops that worker, cancels the future (true).
  bool request_stop() const { return checked().request_stop(); }

 protected:
  handle_base() noexcept = default;
  explicit handle_base(ref_ptr<State> state) noexcept : state_(std::move(state)) {}

  State& checked() const {
    if (!state_) throw_no_state();
    return *state_;
  }
  std::exception_ptr exception_until(const deadline& until) const {
    State& s = checked();
    if (!s.wait_until(until)) throw timeout_error();
    return s.exception_of_done();
  }

  ref_ptr<State> state_;
};

}  // namespace detail

template <class T>
class future : public detail::handle_base<future<T>, detail::shared_state<T>> {
  static_assert(!std::is_reference_v<T>, "cfutures::future<T>: T must not be a reference");
  static_assert(std::is_void_v<T> || (std::is_object_v<T> && std::is_destructible_v<T>),
                "cfutures::future<T>: T must be void or a destructible object type");

  using state_type = detail::shared_state<T>;

 public:
  // The result type.
  using value_type = T;

  // No state: valid() is false.
  future() noexcept = default;

  // Blocks until done; the value, the call's exception rethrown, or cancelled_error.
  typename detail::result_cref<T>::type result() const& {
    return result_until(detail::deadline::never());
  }
  // The same, moving the value out (on the last handle: pool.submit(f).result()).
  T result() && { return std::move(*this).result_until(detail::deadline::never()); }
  // result(), or timeout_error once `timeout` elapses first.
  template <class Rep, class Period>
  typename detail::result_cref<T>::type result(std::chrono::duration<Rep, Period> timeout) const& {
    return result_until(detail::deadline::after(timeout));
  }
  // result() &&, or timeout_error once `timeout` elapses first.
  template <class Rep, class Period>
  T result(std::chrono::duration<Rep, Period> timeout) && {
    return std::move(*this).result_until(detail::deadline::after(timeout));
  }

  // Composition (semantics in compose.hpp): fn(value), or fn(this future) if that is what fn
  // takes, once done, where a done-callback runs; its result as a future (unwrapped).
  template <class Fn>
  auto then(Fn&& fn) const&;
  template <class Fn>
  auto then(Fn&& fn) &&;  // the same, fn receives the value as T&& (moved out)
  // The same, fn submitted to executor ex, which must outlive this future's completion.
  template <class E, class Fn>
  auto then(E& ex, Fn&& fn) const&;
  template <class E, class Fn>
  auto then(E& ex, Fn&& fn) &&;  // the same, the value moved into the call
  // co_await f: suspends without blocking; the value (const T&), or the exception rethrown.
  auto operator co_await() const& noexcept;
  auto operator co_await() && noexcept;  // the same, the value moved out (T)
  // A coroutine may return future<T>: it starts at once; co_return / exceptions complete it.
  using promise_type = detail::coroutine_promise<T>;

  // Same shared state (identity, not value).
  friend bool operator==(const future& a, const future& b) noexcept {
    return detail::future_access::state(a) == detail::future_access::state(b);
  }

 private:
  friend struct detail::future_access;
  template <class, class, class>
  friend class detail::handle_callback;

  using base = detail::handle_base<future<T>, state_type>;
  using base::checked;

  explicit future(detail::ref_ptr<state_type> state) noexcept : base(std::move(state)) {}

  typename detail::result_cref<T>::type result_until(const detail::deadline& until) const& {
    state_type& s = checked();
    if (!s.wait_until(until)) throw timeout_error();
    s.throw_if_failed();
    if constexpr (!std::is_void_v<T>) return s.value();
  }
  T result_until(const detail::deadline& until) && {
    state_type& s = checked();
    if (!s.wait_until(until)) throw timeout_error();
    s.throw_if_failed();
    if constexpr (!std::is_void_v<T>) return std::move(s.value());
  }
};

}  // namespace cfutures

// Hashes the identity of the shared state, so futures can be unordered_map keys.
template <class T>
struct std::hash<cfutures::future<T>> {
  std::size_t operator()(const cfutures::future<T>& f) const noexcept {
    return std::hash<const void*>{}(cfutures::detail::future_access::state(f));
  }
};

// Composition (compose.hpp): built on the complete future<T>.
#include "cfutures/detail/combinators.hpp"
#include "cfutures/detail/composed_state.hpp"
#include "cfutures/detail/coroutine.hpp"
#include "cfutures/detail/then.hpp"
