// compose.hpp's P2300 / stdexec interop note, made checkable without stdexec (Debian 12 does
// not package it): stdexec's connect accepts any awaitable — a type whose operator co_await
// gives an awaiter with await_ready, await_suspend(std::coroutine_handle<Promise>) and
// await_resume, in a coroutine whose promise has no await_transform — and turns it into an
// operation state by running a coroutine that awaits it and hands the result to the
// receiver (stdexec's __connect_awaitable). Here: the same concept checks, and the same
// driving coroutine written out, over future<T> of a thread pool.
#include <gtest/gtest.h>

#include <concepts>
#include <coroutine>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "cfutures/compose.hpp"
#include "cfutures/promise.hpp"
#include "cfutures/thread_pool_executor.hpp"

namespace {

// A promise with no await_transform, as stdexec's connect uses.
struct plain_promise;
struct plain_coroutine {
  using promise_type = plain_promise;
};
struct plain_promise {
  plain_coroutine get_return_object() { return {}; }
  std::suspend_never initial_suspend() noexcept { return {}; }
  std::suspend_never final_suspend() noexcept { return {}; }
  void return_void() {}
  void unhandled_exception() { std::terminate(); }
};

// stdexec's __await_suspend_result and __awaiter<A, Promise>.
template <class R>
concept await_suspend_result = std::same_as<R, void> || std::same_as<R, bool> ||
    std::is_convertible_v<R, std::coroutine_handle<>>;
template <class A, class P>
concept awaiter_for = requires(A& a, std::coroutine_handle<P> h) {
  { a.await_ready() } -> std::convertible_to<bool>;
  { a.await_suspend(h) } -> await_suspend_result;
  a.await_resume();
};
// stdexec's __awaitable<T, Promise> through a member operator co_await.
template <class T, class P>
concept awaitable_for = requires(T&& t) {
  { std::forward<T>(t).operator co_await() } -> awaiter_for<P>;
};

static_assert(awaitable_for<cfutures::future<int>, plain_promise>);
static_assert(awaitable_for<cfutures::future<int>&, plain_promise>);
static_assert(awaitable_for<const cfutures::future<std::string>&, plain_promise>);
static_assert(awaitable_for<cfutures::future<void>, plain_promise>);

// A receiver: what connect's coroutine hands the outcome to.
template <class T>
struct receiver {
  std::optional<T> value;
  std::exception_ptr error;
  cfutures::promise<void> done;
  void set_value(T v) {
    value = std::move(v);
    done.set_result();
  }
  void set_error(std::exception_ptr e) {
    error = std::move(e);
    done.set_result();
  }
};

// What stdexec's connect(awaitable, receiver) runs once the operation is started.
template <class Awaitable, class T>
plain_coroutine connect_and_start(Awaitable a, receiver<T>& r) {
  std::exception_ptr error;
  try {
    r.set_value(co_await std::move(a));
    co_return;
  } catch (...) {
    error = std::current_exception();
  }
  r.set_error(error);
}

}  // namespace

TEST(ComposeInterop, FutureDrivesAReceiverAsAnAwaitableSenderWould) {
  cfutures::thread_pool_executor pool(2);
  receiver<int> r;
  connect_and_start(pool.submit([] { return 41; }).then([](int v) { return v + 1; }), r);
  r.done.get_future().wait();
  ASSERT_TRUE(r.value.has_value());
  EXPECT_EQ(*r.value, 42);

  receiver<int> failed;
  connect_and_start(pool.submit([]() -> int { throw std::out_of_range("x"); }), failed);
  failed.done.get_future().wait();
  EXPECT_FALSE(failed.value.has_value());
  EXPECT_THROW(std::rethrow_exception(failed.error), std::out_of_range);
}
