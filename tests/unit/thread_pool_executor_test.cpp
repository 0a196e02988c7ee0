// <cfutures/thread_pool_executor.hpp>: what the C++ thread pool adds to Python's — any
// callable, arguments decay-copied at submit, move-only arguments and results, reference
// results copied, max_pending (a bounded queue that never blocks the pool's own workers), and
// stop tokens (request_stop, shutdown(cancel_futures) asking running tasks to stop).
// The thread pool's Python behaviour is tested in tests/conformance (the typed suite, and
// thread_pool_test.cpp for what only threads show: names, the initializer, worker threads).
#include "cfutures/thread_pool_executor.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <fstream>
#include <functional>
#include <latch>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "cfutures/any_future.hpp"
#include "test_support.hpp"

using namespace std::chrono_literals;
using cfutures::future;
using cfutures::thread_pool_executor;
using cfutures::thread_pool_options;

static_assert(cfutures::executor<thread_pool_executor>);

namespace concept_check {
// Not executors: a type without shutdown, and one whose shutdown may throw.
struct without_shutdown {
  cfutures::future<int> submit(int (*)());
  std::vector<int> map(int (*)(int), const std::vector<int>&);
  std::size_t max_workers() const noexcept;
};
struct throwing_shutdown : without_shutdown {
  void shutdown(cfutures::shutdown_options);
};
struct complete : without_shutdown {
  void shutdown(cfutures::shutdown_options) noexcept;
};
static_assert(!cfutures::executor<without_shutdown>);
static_assert(!cfutures::executor<throwing_shutdown>);
static_assert(cfutures::executor<complete>);
static_assert(!cfutures::executor<int>);
}  // namespace concept_check

namespace {

using steady = std::chrono::steady_clock;

int mul(int a, int b) { return a * b; }

// Polls `pred` every millisecond until it holds or `timeout` passes; returns its last value.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 10s) {
  const auto until = steady::now() + timeout;
  while (!pred()) {
    if (steady::now() >= until) return pred();
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// threading.Event, and its setter on scope exit: the conformance suite's.
using conformance::event;
using conformance::set_on_exit;

}  // namespace

// --- callables, arguments, results -------------------------------------------------------------

TEST(ThreadPool, AnyCallableIsAccepted) {
  thread_pool_executor ex(2);
  int base = 40;
  EXPECT_EQ(ex.submit([base](int x) { return base + x; }, 2).result(), 42);
  std::function<std::string(const std::string&)> fn = [](const std::string& s) { return s + s; };
  EXPECT_EQ(ex.submit(fn, "ab").result(), "abab");  // the char array decays, then converts
}

TEST(ThreadPool, ArgumentsAreDecayCopiedAtSubmit) {
  thread_pool_executor pool(1);
  std::string s = "before";
  auto f = pool.submit([](const std::string& v) { return v; }, s);
  s = "after";
  EXPECT_EQ(f.result(), "before");
  // Copied at submit, not when the call starts.
  event release;
  set_on_exit release_on_exit(release);
  std::vector<int> v{1, 2, 3};
  auto g = pool.submit(
      [&release](std::vector<int> copy) {
        release.wait_for(10s);
        return copy.size();
      },
      v);
  v.push_back(4);
  release.set();
  EXPECT_EQ(g.result(), 3u);
}

TEST(ThreadPool, MoveOnlyArgumentsAndResults) {
  thread_pool_executor ex(2);
  auto f = ex.submit([](std::unique_ptr<int> p) { return std::make_unique<int>(*p * 2); },
                     std::make_unique<int>(21));
  std::unique_ptr<int> r = std::move(f).result();
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 42);
}

TEST(ThreadPool, ReferenceResultIsCopied) {
  static const std::string kept = "kept";
  thread_pool_executor pool(1);
  auto f = pool.submit([]() -> const std::string& { return kept; });
  static_assert(std::is_same_v<decltype(f), cfutures::future<std::string>>);
  EXPECT_EQ(f.result(), "kept");
}

// --- max_pending -------------------------------------------------------------------------

TEST(ThreadPool, MaxPendingMakesSubmitBlock) {
  event release;
  event started;
  thread_pool_executor ex({.max_workers = 1, .max_pending = 2});
  set_on_exit release_on_exit(release);
  auto running = ex.submit([&] {
    started.set();
    return release.wait_for(10s);
  });
  ASSERT_TRUE(started.wait_for(10s));

  std::atomic<int> submitted{0};
  std::vector<future<int>> queued;
  std::thread producer([&] {
    for (int i = 0; i < 3; ++i) {
      queued.push_back(ex.submit(mul, i, 10));
      ++submitted;
    }
  });
  // Two fit in the queue...
  EXPECT_TRUE(eventually([&] { return submitted.load() >= 2; }, 5s));
  // ...the third waits for room.
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(submitted.load(), 2) << "submit did not block with max_pending calls waiting";
  release.set();
  EXPECT_TRUE(eventually([&] { return submitted.load() == 3; }, 5s));
  producer.join();
  EXPECT_TRUE(running.result());
  ASSERT_EQ(queued.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(queued[static_cast<std::size_t>(i)].result(10s), i * 10);
}

TEST(ThreadPool, SubmitFromAWorkerNeverBlocksOnMaxPending) {
  thread_pool_executor ex({.max_workers = 1, .max_pending = 1});
  auto outer = ex.submit([&ex] {
    std::vector<future<int>> inner;
    for (int i = 0; i < 5; ++i) inner.push_back(ex.submit(mul, i, 3));
    return inner;
  });
  // If a worker's submit blocked, this worker would wait for itself forever.
  std::vector<future<int>> inner;
  ASSERT_NO_THROW(inner = outer.result(10s)) << "submit from a worker blocked";
  ASSERT_EQ(inner.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(inner[static_cast<std::size_t>(i)].result(10s), i * 3);
}

// --- stop tokens -------------------------------------------------------------------------

namespace {

// Loops until asked to stop; 1 if it was, 0 if it gave up after 5 s.
int loop_until_stopped(std::stop_token st, std::shared_ptr<event> started) {
  started->set();
  const auto until = steady::now() + 5s;
  while (!st.stop_requested()) {
    if (steady::now() >= until) return 0;
    std::this_thread::sleep_for(1ms);
  }
  return 1;
}

}  // namespace

TEST(ThreadPool, RequestStopReachesARunningTask) {
  thread_pool_executor ex(2);
  auto started = std::make_shared<event>();
  auto f = ex.submit(loop_until_stopped, started);
  ASSERT_TRUE(started->wait_for(10s));
  EXPECT_TRUE(f.request_stop());
  EXPECT_EQ(f.result(10s), 1);
}

TEST(ThreadPool, RequestStopThroughAnyFuture) {
  thread_pool_executor ex(2);
  auto started = std::make_shared<event>();
  cfutures::any_future a = ex.submit([](std::stop_token st, std::shared_ptr<event> s,
                                        int x) { return loop_until_stopped(st, std::move(s)) * x; },
                                     started, 7);
  ASSERT_TRUE(started->wait_for(10s));
  EXPECT_TRUE(a.request_stop());
  a.wait();
  EXPECT_FALSE(a.exception());
}

TEST(ThreadPool, StopTokenTaskReceivesItsArguments) {
  thread_pool_executor ex(1);
  auto f = ex.submit(
      [](std::stop_token st, int x, std::string s) {
        return std::to_string(x) + s + (st.stop_requested() ? "!" : "");
      },
      4, std::string("two"));
  EXPECT_EQ(f.result(10s), "4two");
}

// A task without a stop_token cannot be asked to stop: neither while it runs nor once done.
TEST(ThreadPool, RequestStopIsFalseForATaskWithoutToken) {
  event release;
  thread_pool_executor ex(1);
  set_on_exit release_on_exit(release);
  auto f = ex.submit([&] { return release.wait_for(10s); });
  EXPECT_FALSE(f.request_stop());
  release.set();
  EXPECT_TRUE(f.result());
  EXPECT_FALSE(f.request_stop());
}

// shutdown(cancel_futures) asks the running tasks to stop: the task, which gives up by itself
// only after 5 s, returns 1 (stopped); the bound only proves that it did not give up.
TEST(ThreadPool, ShutdownCancelFuturesRequestsStop) {
  thread_pool_executor ex(2);
  auto started = std::make_shared<event>();
  auto f = ex.submit(loop_until_stopped, started);
  ASSERT_TRUE(started->wait_for(10s));
  ex.shutdown({.wait = true, .cancel_futures = true});
  EXPECT_EQ(f.result(0s), 1) << "the running task was not asked to stop";
}
