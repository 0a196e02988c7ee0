// Internal: future<T> and C++20 coroutines.
//
// co_await f: future_awaiter registers itself (it lives in the coroutine frame) as a
// done-callback of f's state; whichever of await_suspend and the callback comes second
// resumes the coroutine, so a future finishing during await_suspend resumes it without
// recursion, in the awaiting thread. (A deferrable node: chains of coroutines awaiting each
// other do not nest one frame per coroutine either.)
//
// A coroutine returning future<T>: its promise owns a coroutine_state (RUNNING from the
// start: the coroutine runs at once, in the caller's thread). co_return constructs the value
// in that state, an escaping exception is stored there; at the final suspension point the
// frame is destroyed first (locals and parameters included), then the outcome is published.
//
// Cancelling a coroutine's future (Python's Task.cancel()): the state is RUNNING, and its
// cancel_running_locked accepts: the state becomes CANCELLED at once (done for everyone).
// The future the coroutine awaits is left alone (it may be shared, as then/when_all leave
// their inputs alone). Every co_await of a future in that coroutine from then on throws
// cancelled_error — the one it is suspended in, once it resumes, included: the promise's
// await_transform gives each future_awaiter the owner's state, whose status it reads. The
// outcome the coroutine reaches after that is dropped (a value stored then is destroyed
// with the state); its frame is destroyed when it ends, as always.
//
//   co_await f ─▶ await_ready: f done, or owner cancelled ─▶ await_resume
//                 else await_suspend: f's done-callback resumes the coroutine
//   await_resume ─▶ owner cancelled? throw cancelled_error : f's value / exception
// Included by future.hpp once future<T> is complete (never on its own: this header builds on
// future<T>, which includes it).
#pragma once

#include <atomic>
#include <coroutine>
#include <exception>
#include <type_traits>
#include <utility>

#include "cfutures/detail/composed_state.hpp"
#include "cfutures/detail/ref_ptr.hpp"
#include "cfutures/detail/shared_state.hpp"
#include "cfutures/errors.hpp"

namespace cfutures::detail {

template <class T, bool ByMove>
class future_awaiter final : public deferrable_node {
 public:
  // owner: the state of the cfutures coroutine that awaits (null for other coroutine types).
  explicit future_awaiter(future<T> f, const state_base* owner = nullptr) noexcept
      : future_(std::move(f)), owner_(owner) {}

  bool await_ready() const { return future_.done() || owner_cancelled(); }
  bool await_suspend(std::coroutine_handle<> h) noexcept {
    handle_ = h;
    future_access::state(future_)->add_callback(this);
    // acq_rel: pairs with invoke(); false (resume now) if the future finished meanwhile.
    return !second_.exchange(true, std::memory_order_acq_rel);
  }
  decltype(auto) await_resume() {
    if (owner_cancelled()) throw cancelled_error();
    if constexpr (ByMove) {
      return std::move(future_).result();
    } else {
      return future_.result();
    }
  }

  void discard() noexcept override {}  // never: the awaiter holds the state

 private:
  void run(state_base&) noexcept override {
    if (second_.exchange(true, std::memory_order_acq_rel)) handle_.resume();
  }

  bool owner_cancelled() const noexcept {
    return owner_ && owner_->get_status() == status::cancelled;
  }

  future<T> future_;
  const state_base* owner_;
  std::coroutine_handle<> handle_;
  std::atomic<bool> second_{false};
};

template <class T>
class coroutine_state final : public shared_state<T> {
 public:
  coroutine_state() noexcept : shared_state<T>(1) { this->try_start(); }
  ~coroutine_state() override {
    // A value stored after cancel() was never published: shared_state does not own it.
    if constexpr (!std::is_void_v<T>) {
      if (has_value_ && this->get_status() != status::finished) this->value().~T();
    }
  }

  template <class U>
  void store_value(U&& value) {
    this->construct_value([&]() -> T { return std::forward<U>(value); });
    has_value_ = true;
  }
  void store_value() noexcept {}
  void store_error(std::exception_ptr error) noexcept {
    this->error_ = std::move(error);
    failed_ = true;
  }
  void publish() noexcept {
    this->lock();
    this->publish_locked(status::finished, failed_);
  }

 private:
  bool cancel_running_locked() noexcept override {
    return this->publish_locked(status::cancelled, false, true);  // releases LOCK
  }

  bool failed_ = false;
  bool has_value_ = false;
};

// What a cfutures coroutine awaits unchanged (anything but a future<T>).
template <class A>
concept not_a_future = !is_future_v<std::remove_cvref_t<A>>;

template <class T>
class coroutine_promise_base {
 public:
  coroutine_promise_base() : state_(ref_ptr<coroutine_state<T>>::adopt(new coroutine_state<T>())) {
    state_->origin = composed_origin(nullptr);
  }

  future<T> get_return_object() { return future_access::make<T>(ref_ptr<shared_state<T>>(state_)); }
  std::suspend_never initial_suspend() noexcept { return {}; }

  struct final_awaiter {
    bool await_ready() noexcept { return false; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) noexcept {
      ref_ptr<coroutine_state<T>> state = std::move(h.promise().state_);
      h.destroy();
      state->publish();
    }
    void await_resume() noexcept {}
  };
  final_awaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { state_->store_error(std::current_exception()); }

  // co_await of a future: an awaiter that knows this coroutine's cancellation.
  template <class U>
  future_awaiter<U, false> await_transform(const future<U>& f) noexcept {
    return future_awaiter<U, false>(f, state_.get());
  }
  template <class U>
  future_awaiter<U, true> await_transform(future<U>&& f) noexcept {
    return future_awaiter<U, true>(std::move(f), state_.get());
  }
  // Anything else is awaited as it is.
  template <not_a_future A>
  A&& await_transform(A&& a) noexcept {
    return std::forward<A>(a);
  }

 protected:
  ref_ptr<coroutine_state<T>> state_;
};

template <class T>
class coroutine_promise : public coroutine_promise_base<T> {
 public:
  template <class U = T>
  requires std::is_constructible_v<T, U&&>
  void return_value(U&& value) { this->state_->store_value(std::forward<U>(value)); }
};

template <>
class coroutine_promise<void> : public coroutine_promise_base<void> {
 public:
  void return_void() noexcept {}
};

// co_await resume_on(ex): the coroutine continues as a task submitted to ex. If ex drops
// that task (cancelled at shutdown, broken pool), the coroutine resumes in the thread that
// dropped it and co_await throws the reason (cancelled_error for a cancellation).
template <class E>
class resume_on_awaiter {
 public:
  explicit resume_on_awaiter(E& ex) noexcept : ex_(ex) {}

  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    auto task = ex_.submit([h] {
      try {
        h.resume();
      } catch (...) {  // a coroutine type whose unhandled_exception rethrows
        report_callback_error(std::current_exception());
      }
    });
    // The task never throws, so a failure or a cancellation means it never ran, and this
    // awaiter is still there. Otherwise it may be gone: the callback touches nothing then.
    task.add_done_callback([this, h](const auto& done) {
      if (done.cancelled()) {
        error_ = std::make_exception_ptr(cancelled_error());
      } else if (auto e = done.exception()) {
        error_ = std::move(e);
      } else {
        return;
      }
      h.resume();
    });
  }
  void await_resume() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  E& ex_;
  std::exception_ptr error_;
};

}  // namespace cfutures::detail

namespace cfutures {

template <class T>
auto future<T>::operator co_await() const& noexcept {
  return detail::future_awaiter<T, false>(*this);
}

template <class T>
auto future<T>::operator co_await() && noexcept {
  return detail::future_awaiter<T, true>(std::move(*this));
}

}  // namespace cfutures
