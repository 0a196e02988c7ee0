// CPython's test_future.py (FutureTests): the states of a future, cancel, result and
// exception with timeouts, and the promise side (Python's "for use by Executor
// implementations and unit tests" methods). No executor is involved: futures are built with
// promise<T> (CPython's create_future). The done-callback tests are in
// future_callbacks_test.cpp. What a C++ future adds (handles, hashing, void and move-only
// results) is in tests/unit/future_test.cpp; any_future in tests/unit/any_future_test.cpp;
// the error classes in tests/unit/errors_test.cpp.
#include <gtest/gtest.h>

#include <atomic>
#include <cfutures/cfutures.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace conformance {
namespace {

using cfutures::future;
using cfutures::promise;

// --- states and cancel -----------------------------------------------------------------

TEST(FutureTest, Cancel) {
  auto f1 = make_future(state::pending);
  auto f2 = make_future(state::running);
  auto f3 = make_future(state::cancelled);
  auto f4 = make_future(state::cancelled_and_notified);
  auto f5 = make_future(state::raised);
  auto f6 = make_future(state::succeeded);

  EXPECT_TRUE(f1.future.cancel());
  EXPECT_TRUE(f1.future.cancelled());
  EXPECT_THROW((void)f1.future.result(), cfutures::cancelled_error);
  EXPECT_THROW((void)f1.future.exception(), cfutures::cancelled_error);

  EXPECT_FALSE(f2.future.cancel());
  EXPECT_TRUE(f2.future.running());
  EXPECT_FALSE(f2.future.cancelled());

  EXPECT_TRUE(f3.future.cancel());
  EXPECT_TRUE(f3.future.cancelled());

  EXPECT_TRUE(f4.future.cancel());
  EXPECT_TRUE(f4.future.cancelled());

  EXPECT_FALSE(f5.future.cancel());
  EXPECT_FALSE(f5.future.cancelled());
  EXPECT_TRUE(f5.future.done());

  EXPECT_FALSE(f6.future.cancel());
  EXPECT_FALSE(f6.future.cancelled());
  EXPECT_EQ(f6.future.result(), 42);
}

TEST(FutureTest, Cancelled) {
  EXPECT_FALSE(make_future(state::pending).future.cancelled());
  EXPECT_FALSE(make_future(state::running).future.cancelled());
  EXPECT_TRUE(make_future(state::cancelled).future.cancelled());
  EXPECT_TRUE(make_future(state::cancelled_and_notified).future.cancelled());
  EXPECT_FALSE(make_future(state::raised).future.cancelled());
  EXPECT_FALSE(make_future(state::succeeded).future.cancelled());
}

TEST(FutureTest, Done) {
  EXPECT_FALSE(make_future(state::pending).future.done());
  EXPECT_FALSE(make_future(state::running).future.done());
  EXPECT_TRUE(make_future(state::cancelled).future.done());
  EXPECT_TRUE(make_future(state::cancelled_and_notified).future.done());
  EXPECT_TRUE(make_future(state::raised).future.done());
  EXPECT_TRUE(make_future(state::succeeded).future.done());
}

TEST(FutureTest, Running) {
  EXPECT_FALSE(make_future(state::pending).future.running());
  EXPECT_TRUE(make_future(state::running).future.running());
  EXPECT_FALSE(make_future(state::cancelled).future.running());
  EXPECT_FALSE(make_future(state::cancelled_and_notified).future.running());
  EXPECT_FALSE(make_future(state::raised).future.running());
  EXPECT_FALSE(make_future(state::succeeded).future.running());
}

// --- result / exception with timeouts ----------------------------------------------------

TEST(FutureTest, ResultWithZeroTimeoutIsAPoll) {
  for (auto timeout : {std::chrono::milliseconds(0), std::chrono::milliseconds(-1000)}) {
    SCOPED_TRACE(timeout.count());
    const auto t0 = steady::now();
    EXPECT_THROW(make_future(state::pending).future.result(timeout), cfutures::timeout_error);
    EXPECT_THROW(make_future(state::running).future.result(timeout), cfutures::timeout_error);
    EXPECT_THROW(make_future(state::cancelled).future.result(timeout), cfutures::cancelled_error);
    EXPECT_THROW(make_future(state::cancelled_and_notified).future.result(timeout),
                 cfutures::cancelled_error);
    EXPECT_THROW(make_future(state::raised).future.result(timeout), os_error);
    EXPECT_EQ(make_future(state::succeeded).future.result(timeout), 42);
    EXPECT_LT(elapsed_since(t0), 2s) << "a zero or negative timeout must not block";
  }
}

TEST(FutureTest, ExceptionWithZeroTimeoutIsAPoll) {
  for (auto timeout : {std::chrono::milliseconds(0), std::chrono::milliseconds(-1000)}) {
    SCOPED_TRACE(timeout.count());
    const auto t0 = steady::now();
    EXPECT_THROW(make_future(state::pending).future.exception(timeout), cfutures::timeout_error);
    EXPECT_THROW(make_future(state::running).future.exception(timeout), cfutures::timeout_error);
    EXPECT_THROW(make_future(state::cancelled).future.exception(timeout),
                 cfutures::cancelled_error);
    EXPECT_THROW(make_future(state::cancelled_and_notified).future.exception(timeout),
                 cfutures::cancelled_error);
    auto e = make_future(state::raised).future.exception(timeout);
    ASSERT_TRUE(e);
    EXPECT_THROW(std::rethrow_exception(e), os_error);
    EXPECT_FALSE(make_future(state::succeeded).future.exception(timeout));
    EXPECT_LT(elapsed_since(t0), 2s) << "a zero or negative timeout must not block";
  }
}

TEST(FutureTest, WaitForWithZeroTimeoutIsAPoll) {
  const auto t0 = steady::now();
  EXPECT_FALSE(make_future(state::pending).future.wait_for(0s));
  EXPECT_FALSE(make_future(state::running).future.wait_for(-1s));
  EXPECT_TRUE(make_future(state::cancelled).future.wait_for(0s));
  EXPECT_TRUE(make_future(state::raised).future.wait_for(0s));
  EXPECT_TRUE(make_future(state::succeeded).future.wait_for(-1s));
  EXPECT_LT(elapsed_since(t0), 2s);
}

TEST(FutureTest, ResultTimesOutAfterTheTimeout) {
  auto m = make_future(state::pending);
  const auto t0 = steady::now();
  EXPECT_THROW(m.future.result(100ms), cfutures::timeout_error);
  EXPECT_GE(elapsed_since(t0), 90ms) << "gave up before the timeout";
  const auto t1 = steady::now();
  EXPECT_FALSE(m.future.wait_for(100ms));
  EXPECT_GE(elapsed_since(t1), 90ms) << "gave up before the timeout";
  const auto t2 = steady::now();
  EXPECT_THROW((void)m.future.exception(100ms), cfutures::timeout_error);
  EXPECT_GE(elapsed_since(t2), 90ms) << "gave up before the timeout";
}

TEST(FutureTest, ResultWithSuccess) {
  auto m = make_future(state::pending);
  std::thread t([&] {
    std::this_thread::sleep_for(100ms);  // let the main thread block first
    m.promise.set_result(42);
  });
  EXPECT_EQ(m.future.result(5s), 42);
  t.join();
}

TEST(FutureTest, ResultWithCancel) {
  auto m = make_future(state::pending);
  std::thread t([&] {
    std::this_thread::sleep_for(100ms);
    m.future.cancel();
  });
  const auto t0 = steady::now();
  EXPECT_THROW(m.future.result(30s), cfutures::cancelled_error);
  EXPECT_LT(elapsed_since(t0), 5s) << "cancel() must wake result() at once";
  t.join();
}

// Deviation from CPython (API.md): a cancelled future is done for everyone at once; no
// worker has to notice it first.
TEST(FutureTest, CancelWakesResultAndWaitWithoutTimeout) {
  auto m = make_future(state::pending);
  std::atomic<int> woken{0};
  std::thread by_result([&] {
    try {
      (void)m.future.result();
    } catch (const cfutures::cancelled_error&) {
      ++woken;
    }
  });
  std::thread by_wait([&] {
    m.future.wait();
    ++woken;
  });
  std::thread by_exception([&] {
    try {
      (void)m.future.exception();
    } catch (const cfutures::cancelled_error&) {
      ++woken;
    }
  });
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(woken.load(), 0);
  EXPECT_TRUE(m.future.cancel());
  by_result.join();
  by_wait.join();
  by_exception.join();
  EXPECT_EQ(woken.load(), 3);
  EXPECT_TRUE(m.future.done());
}

TEST(FutureTest, ExceptionWithSuccess) {
  auto m = make_future(state::pending);
  std::thread t([&] {
    std::this_thread::sleep_for(100ms);
    m.promise.set_exception(std::make_exception_ptr(os_error("late")));
  });
  auto e = m.future.exception(30s);
  ASSERT_TRUE(e);
  EXPECT_THROW(std::rethrow_exception(e), os_error);
  t.join();
}

TEST(FutureTest, SetResultWakesEveryWaiter) {
  auto m = make_future(state::pending);
  std::vector<std::thread> waiters;
  std::atomic<int> got{0};
  for (int i = 0; i < 4; ++i) {
    waiters.emplace_back([&] {
      if (m.future.result(30s) == 7) ++got;
    });
  }
  std::this_thread::sleep_for(50ms);
  m.promise.set_result(7);
  for (auto& t : waiters) t.join();
  EXPECT_EQ(got.load(), 4);
}

TEST(FutureTest, ResultRethrowsTheOriginalExceptionType) {
  struct my_error : std::logic_error {
    using std::logic_error::logic_error;
  };
  promise<int> p;
  p.set_exception(std::make_exception_ptr(my_error("mine")));
  auto f = p.get_future();
  for (int i = 0; i < 2; ++i) {  // every call rethrows
    try {
      (void)f.result();
      ADD_FAILURE() << "result() did not throw";
    } catch (const my_error& e) {
      EXPECT_STREQ(e.what(), "mine");
    }
  }
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.cancelled());
  EXPECT_TRUE(f.exception());
}

TEST(FutureTest, ExceptionIsNullAfterSuccess) {
  auto m = make_future(state::succeeded);
  EXPECT_FALSE(m.future.exception());
  EXPECT_FALSE(m.future.exception(1s));
}

// --- promise: completing twice, completing after cancel, set_running_or_notify_cancel ----

TEST(FutureTest, MultipleSetResult) {
  auto m = make_future(state::pending);
  m.promise.set_result(1);
  EXPECT_THROW(m.promise.set_result(2), cfutures::invalid_state_error);
  EXPECT_THROW(m.promise.set_exception(std::make_exception_ptr(std::runtime_error("x"))),
               cfutures::invalid_state_error);
  EXPECT_TRUE(m.future.done());
  EXPECT_EQ(m.future.result(), 1);
}

TEST(FutureTest, MultipleSetException) {
  auto m = make_future(state::pending);
  m.promise.set_exception(std::make_exception_ptr(std::invalid_argument("first")));
  EXPECT_THROW(m.promise.set_exception(std::make_exception_ptr(std::runtime_error("second"))),
               cfutures::invalid_state_error);
  EXPECT_THROW(m.promise.set_result(3), cfutures::invalid_state_error);
  auto e = m.future.exception();
  ASSERT_TRUE(e);
  try {
    std::rethrow_exception(e);
  } catch (const std::invalid_argument& x) {
    EXPECT_STREQ(x.what(), "first");
  } catch (...) {
    ADD_FAILURE() << "the second set_exception replaced the first";
  }
}

TEST(FutureTest, CompletingACancelledFutureIsInvalidState) {
  for (state s : {state::cancelled, state::cancelled_and_notified}) {
    auto m = make_future(s);
    EXPECT_THROW(m.promise.set_result(1), cfutures::invalid_state_error);
    EXPECT_THROW(m.promise.set_exception(std::make_exception_ptr(std::runtime_error("x"))),
                 cfutures::invalid_state_error);
    EXPECT_TRUE(m.future.cancelled());
  }
}

TEST(FutureTest, InvalidStateErrorIsALibraryError) {
  auto m = make_future(state::succeeded);
  EXPECT_THROW(m.promise.set_result(1), cfutures::error);
}

TEST(FutureTest, SetRunningOrNotifyCancel) {
  // pending -> running
  auto a = make_future(state::pending);
  EXPECT_TRUE(a.promise.set_running_or_notify_cancel());
  EXPECT_TRUE(a.future.running());
  EXPECT_FALSE(a.future.done());
  // already running: invalid_state_error
  EXPECT_THROW(a.promise.set_running_or_notify_cancel(), cfutures::invalid_state_error);
  // running -> finished
  a.promise.set_result(9);
  EXPECT_FALSE(a.future.running());
  EXPECT_EQ(a.future.result(), 9);
  // finished: invalid_state_error
  EXPECT_THROW(a.promise.set_running_or_notify_cancel(), cfutures::invalid_state_error);
  auto b = make_future(state::raised);
  EXPECT_THROW(b.promise.set_running_or_notify_cancel(), cfutures::invalid_state_error);
  // cancelled: false, every time, and the future stays cancelled
  auto c = make_future(state::cancelled);
  EXPECT_FALSE(c.promise.set_running_or_notify_cancel());
  EXPECT_FALSE(c.promise.set_running_or_notify_cancel());
  EXPECT_TRUE(c.future.cancelled());
  EXPECT_FALSE(c.future.running());
}

TEST(FutureTest, RunningFutureCanFail) {
  auto m = make_future(state::running);
  m.promise.set_exception(std::make_exception_ptr(os_error("x")));
  EXPECT_TRUE(m.future.done());
  EXPECT_FALSE(m.future.running());
  EXPECT_THROW((void)m.future.result(), os_error);
}

}  // namespace
}  // namespace conformance
