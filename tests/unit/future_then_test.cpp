// future<T>::then, both forms (API.md, "Composition": then).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "cfutures/future.hpp"
#include "cfutures/process_pool_executor.hpp"
#include "cfutures/promise.hpp"
#include "cfutures/thread_pool_executor.hpp"

using namespace std::chrono_literals;
using cfutures::future;
using cfutures::promise;

namespace {

int add_one(int x) { return x + 1; }
int throw_on(int) { throw std::out_of_range("remote boom"); }

// A 1-worker pool kept busy until release() (so what it receives next waits in its queue).
struct blocked_pool {
  cfutures::thread_pool_executor pool{1};
  promise<void> gate;
  blocked_pool() {
    pool.submit([g = gate.get_future()] { g.wait(); });
  }
  void release() { gate.set_result(); }
};

}  // namespace

TEST(FutureThen, CalledWithTheValueInTheCompletingThread) {
  promise<int> p;
  std::thread::id ran_on;
  auto g = p.get_future().then([&](const int& v) {
    ran_on = std::this_thread::get_id();
    return std::to_string(v * 2);
  });
  EXPECT_FALSE(g.done());
  std::thread completer([&] { p.set_result(21); });
  const auto completer_id = completer.get_id();
  completer.join();
  EXPECT_EQ(g.result(), "42");
  EXPECT_EQ(ran_on, completer_id);
}

TEST(FutureThen, RunsAtOnceWhenAlreadyDone) {
  promise<int> p;
  p.set_result(1);
  bool ran = false;
  auto g = p.get_future().then([&](int v) {
    ran = true;
    return v + 1;
  });
  EXPECT_TRUE(ran);
  EXPECT_TRUE(g.done());
  EXPECT_EQ(g.result(), 2);
}

TEST(FutureThen, LvalueFutureGivesAConstReferenceToTheStoredValue) {
  promise<std::string> p;
  auto f = p.get_future();
  p.set_result("abc");
  const std::string* seen = nullptr;
  f.then([&](const std::string& s) { seen = &s; }).result();
  EXPECT_EQ(seen, &f.result());
  EXPECT_EQ(f.result(), "abc");  // not moved from
}

TEST(FutureThen, MoveOnlyValuesTravelAlongAnRvalueChain) {
  cfutures::thread_pool_executor pool(2);
  auto g = pool.submit([] { return std::make_unique<int>(5); })
               .then([](std::unique_ptr<int>&& p) {
                 ++*p;
                 return std::move(p);
               })
               .then([](std::unique_ptr<int> p) { return *p * 10; });
  EXPECT_EQ(g.result(), 60);
}

TEST(FutureThen, VoidSourceAndVoidContinuation) {
  promise<void> p;
  int calls = 0;
  auto g = p.get_future().then([&] { ++calls; });
  auto h = g.then([&] { return ++calls; });
  p.set_result();
  h.result();
  EXPECT_EQ(calls, 2);
  static_assert(std::is_same_v<decltype(g), future<void>>);
}

TEST(FutureThen, ExceptionPropagatesWithoutCallingFn) {
  promise<int> p;
  bool called = false;
  auto g = p.get_future().then([&](int) { return called = true; });
  p.set_exception(std::make_exception_ptr(std::logic_error("boom")));
  EXPECT_THROW(g.result(), std::logic_error);
  EXPECT_FALSE(called);
}

TEST(FutureThen, ExceptionFromFnFailsTheResult) {
  promise<int> p;
  auto g = p.get_future().then([](int) -> int { throw std::runtime_error("fn failed"); });
  p.set_result(1);
  EXPECT_THROW(g.result(), std::runtime_error);
  EXPECT_FALSE(g.cancelled());
}

TEST(FutureThen, CancelledSourceCancelsTheResult) {
  promise<int> p;
  bool called = false;
  auto f = p.get_future();
  auto g = f.then([&](int v) { return called = v; });
  EXPECT_TRUE(f.cancel());
  EXPECT_TRUE(g.cancelled());
  EXPECT_THROW(g.result(), cfutures::cancelled_error);
  EXPECT_FALSE(called);
}

TEST(FutureThen, CancellingTheResultBeforeFnStartsKeepsFnFromRunningButNotTheSource) {
  promise<int> p;
  bool called = false;
  auto f = p.get_future();
  auto g = f.then([&](int) { called = true; });
  EXPECT_TRUE(g.cancel());
  EXPECT_FALSE(f.cancelled());
  p.set_result(3);
  EXPECT_FALSE(called);
  EXPECT_TRUE(g.cancelled());
  EXPECT_EQ(f.result(), 3);
}

TEST(FutureThen, ResultIsRunningWhileFnRuns) {
  promise<int> p;
  promise<void> inside;
  promise<void> leave;
  auto g = p.get_future().then([&](int v) {
    inside.set_result();
    leave.get_future().wait();
    return v;
  });
  std::thread t([&] { p.set_result(7); });
  inside.get_future().wait();
  EXPECT_TRUE(g.running());
  EXPECT_FALSE(g.cancel());
  leave.set_result();
  t.join();
  EXPECT_EQ(g.result(), 7);
}

TEST(FutureThen, ReturnedFutureIsUnwrapped) {
  cfutures::thread_pool_executor pool(2);
  auto g =
      pool.submit([] { return 4; }).then([&](int v) { return pool.submit([v] { return v * 2; }); });
  static_assert(std::is_same_v<decltype(g), future<int>>);
  EXPECT_EQ(g.result(), 8);
}

TEST(FutureThen, UnwrappingTakesTheInnerExceptionAndCancellation) {
  promise<int> src;
  promise<int> inner_fail;
  promise<int> inner_cancel;
  auto f = src.get_future();
  auto failing = f.then([&](int) { return inner_fail.get_future(); });
  auto cancelled = f.then([&](int) { return inner_cancel.get_future(); });
  src.set_result(1);
  EXPECT_TRUE(failing.running());
  EXPECT_FALSE(failing.done());
  inner_fail.set_exception(std::make_exception_ptr(std::domain_error("inner")));
  EXPECT_THROW(failing.result(), std::domain_error);
  inner_cancel.get_future().cancel();
  EXPECT_TRUE(cancelled.cancelled());
  EXPECT_THROW(cancelled.result(), cfutures::cancelled_error);
}

TEST(FutureThen, ReturningAFutureWithoutStateFails) {
  promise<int> p;
  auto g = p.get_future().then([](int) { return future<int>(); });
  p.set_result(1);
  EXPECT_THROW(g.result(), cfutures::invalid_state_error);
}

TEST(FutureThen, FnTakingTheFutureSeesEveryOutcome) {
  promise<int> p;
  auto g = p.get_future().then([](future<int> f) {
    try {
      return f.result();
    } catch (const std::exception&) {
      return -1;
    }
  });
  p.set_exception(std::make_exception_ptr(std::runtime_error("x")));
  EXPECT_EQ(g.result(), -1);
}

TEST(FutureThen, OnAnExecutorRunsOnAWorker) {
  cfutures::thread_pool_executor pool(1);
  const auto worker = pool.submit([] { return std::this_thread::get_id(); }).result();
  promise<int> p;
  auto g = p.get_future().then(pool, [](int v) {
    return std::pair{v + 1, std::this_thread::get_id()};
  });
  p.set_result(1);
  const auto [value, ran_on] = g.result();
  EXPECT_EQ(value, 2);
  EXPECT_EQ(ran_on, worker);
}

TEST(FutureThen, OnAnExecutorUnwrapsAndPropagates) {
  cfutures::thread_pool_executor pool(2);
  auto g = pool.submit([] { return 3; }).then(pool, [&pool](int v) {
    return pool.submit([v] { return v * 3; });
  });
  static_assert(std::is_same_v<decltype(g), future<int>>);
  EXPECT_EQ(g.result(), 9);
  auto h = pool.submit([]() -> int { throw std::invalid_argument("first"); }).then(pool, add_one);
  EXPECT_THROW(h.result(), std::invalid_argument);
}

TEST(FutureThen, OnAnExecutorCancellingTheResultCancelsTheQueuedCall) {
  blocked_pool busy;
  promise<int> p;
  std::atomic<bool> called{false};
  auto g = p.get_future().then(busy.pool, [&](int) { called = true; });
  p.set_result(1);  // fn is now queued behind the blocking task
  EXPECT_FALSE(g.done());
  EXPECT_TRUE(g.cancel());
  busy.release();
  busy.pool.shutdown();
  EXPECT_FALSE(called);
  EXPECT_TRUE(g.cancelled());
}

TEST(FutureThen, OnAnExecutorThatIsShutDownFailsWithShutdownError) {
  cfutures::thread_pool_executor pool(1);
  pool.shutdown();
  promise<int> p;
  auto g = p.get_future().then(pool, add_one);
  p.set_result(1);
  EXPECT_THROW(g.result(), cfutures::shutdown_error);
}

TEST(FutureThen, OnTheProcessPoolWithAPlainFunction) {
  cfutures::process_pool_executor pool({.max_workers = 1, .method = cfutures::start_method::fork});
  auto g = pool.submit(add_one, 1).then(pool, add_one).then(pool, add_one);
  EXPECT_EQ(g.result(), 4);
  auto h = pool.submit(add_one, 1).then(pool, throw_on);
  EXPECT_THROW(h.result(), std::out_of_range);
  // Inline continuations of process-pool futures run in the thread that receives the reply.
  auto i = pool.submit(add_one, 10).then([](int v) { return v * 2; });
  EXPECT_EQ(i.result(), 22);
}

TEST(FutureThen, LongChainCompletes) {
  promise<int> p;
  future<int> f = p.get_future();
  for (int i = 0; i < 10000; ++i) f = std::move(f).then([](int v) { return v + 1; });
  p.set_result(0);
  EXPECT_EQ(f.result(), 10000);
}
