// CPython's test_shutdown.py (ExecutorShutdownTest), run against every executor: submit
// after shutdown, waiting and not waiting, cancel_futures, the destructor (Python's `with`),
// idempotence.
#include <gtest/gtest.h>

#include <cfutures/cfutures.hpp>
#include <string>
#include <thread>
#include <vector>

#include "executor_traits.hpp"
#include "tasks.hpp"
#include "test_support.hpp"

namespace conformance {
namespace {

using cfutures::future;
using cfutures::shutdown_options;

template <class Traits>
class ShutdownTest : public executor_test_base<Traits> {};
TYPED_TEST_SUITE(ShutdownTest, executor_types, executor_names);

TYPED_TEST(ShutdownTest, RunAfterShutdown) {
  this->executor->shutdown();
  try {
    (void)this->executor->submit(tasks::power, 2, 5);
    ADD_FAILURE() << "submit after shutdown did not throw";
  } catch (const cfutures::shutdown_error& e) {
    EXPECT_STREQ(e.what(), "cannot schedule new futures after shutdown");
  }
  const std::vector<int> xs{1, 2};
  EXPECT_THROW((void)this->executor->map(tasks::abs_int, xs), cfutures::shutdown_error);
  EXPECT_THROW((void)this->executor->submit(tasks::nothing), cfutures::error);
}

TYPED_TEST(ShutdownTest, ShutdownIsNoexceptAndIdempotent) {
  static_assert(noexcept(this->executor->shutdown()));
  static_assert(noexcept(this->executor->shutdown({.wait = false, .cancel_futures = true})));
  auto f = this->executor->submit(tasks::mul, 6, 7);
  this->executor->shutdown({.wait = false});
  this->executor->shutdown({.wait = false});
  this->executor->shutdown();
  EXPECT_TRUE(f.done());
  EXPECT_EQ(f.result(0s), 42);
  this->executor->shutdown({.wait = false, .cancel_futures = true});
  this->executor->shutdown();
  EXPECT_THROW((void)this->executor->submit(tasks::nothing), cfutures::shutdown_error);
  this->executor.reset();  // the destructor shuts down once more
}

// bpo-12364: shutdown() with many queued calls waits for all of them.
TYPED_TEST(ShutdownTest, HangIssue12364) {
  std::vector<future<int>> fs;
  for (int i = 0; i < 50; ++i) fs.push_back(this->executor->submit(tasks::sleep_ms, 10));
  this->executor->shutdown();
  for (auto& f : fs) {
    EXPECT_TRUE(f.done()) << "shutdown(wait) returned before a queued call ran";
    EXPECT_EQ(f.result(0s), 10);
  }
}

TYPED_TEST(ShutdownTest, ShutdownWaitWaitsForRunningCalls) {
  std::vector<future<int>> fs;
  for (int i = 0; i < static_cast<int>(this->worker_count); ++i) {
    fs.push_back(this->executor->submit(tasks::sleep_ms, 300));
  }
  this->executor->shutdown({.wait = true});
  for (auto& f : fs) {
    EXPECT_TRUE(f.done());
    EXPECT_EQ(f.result(0s), 300);
  }
}

TYPED_TEST(ShutdownTest, CancelFutures) {
  static_assert(executor_test_base<TypeParam>::worker_count <= 5, "the test needs few workers");
  std::vector<future<int>> fs;
  for (int i = 0; i < 50; ++i) {
    fs.push_back(this->executor->submit(tasks::record_and_sleep, this->scratch.dir(), i, 100));
  }
  ASSERT_TRUE(this->scratch.wait_for_count("ran_", 1)) << "no call started";
  this->executor->shutdown({.cancel_futures = true});
  std::size_t cancelled = 0, others = 0;
  for (auto& f : fs) {
    if (f.cancelled()) {
      ++cancelled;
    } else {
      ++others;
      EXPECT_TRUE(f.done()) << "shutdown(wait) returned before a running call finished";
      EXPECT_FALSE(f.exception(0s));
    }
  }
  // Some started before the shutdown; with 5 workers and 50 calls of 100 ms, most did not.
  EXPECT_GT(cancelled, 20u);
  EXPECT_GT(others, 0u);
  EXPECT_EQ(this->scratch.count("ran_"), others) << "a cancelled call ran";
}

// Every call still queued is cancelled, at once, even without waiting.
TYPED_TEST(ShutdownTest, CancelFuturesCancelsEveryQueuedCallAtOnce) {
  gate g(this->scratch, "gate");
  auto blockers = this->block_all_workers(g);
  std::vector<future<void>> queued;
  for (int i = 0; i < 10; ++i)
    queued.push_back(this->executor->submit(tasks::record, this->scratch.dir(), i));
  const auto t0 = steady::now();
  this->executor->shutdown({.wait = false, .cancel_futures = true});
  EXPECT_LT(elapsed_since(t0), 5s) << "shutdown(wait=false) waited";
  for (auto& f : queued) {
    EXPECT_TRUE(f.cancelled());
    EXPECT_TRUE(f.done());
  }
  for (auto& b : blockers) {
    EXPECT_FALSE(b.cancelled()) << "a running call was cancelled";
    EXPECT_FALSE(b.done());
  }
  g.open();
  for (auto& b : blockers) EXPECT_EQ(b.result(), 0);
  this->executor->shutdown();
  EXPECT_EQ(this->scratch.count("ran_"), 0u);
}

// Deviation from CPython (API.md): the futures shutdown(cancel_futures) drops are done for
// everyone at once; a thread blocked on one wakes (CPython never notifies those waiters).
TYPED_TEST(ShutdownTest, CancelFuturesWakesThreadsWaitingOnQueuedCalls) {
  gate g(this->scratch, "gate");
  auto blockers = this->block_all_workers(g);
  auto queued = this->executor->submit(tasks::mul, 2, 2);
  std::vector<future<int>> fs{queued};
  cfutures::wait_result<future<int>> by_wait;
  bool by_result_cancelled = false;
  std::thread waiter([&] { by_wait = cfutures::wait(fs, 20s); });
  std::thread resulter([&] {
    try {
      (void)queued.result(20s);
    } catch (const cfutures::cancelled_error&) {
      by_result_cancelled = true;
    } catch (...) {
    }
  });
  std::this_thread::sleep_for(100ms);  // let both block
  const auto t0 = steady::now();
  this->executor->shutdown({.wait = false, .cancel_futures = true});
  waiter.join();
  resulter.join();
  EXPECT_LT(elapsed_since(t0), 5s);
  EXPECT_EQ(by_wait.done, fs);
  EXPECT_TRUE(by_result_cancelled);
  g.open();
}

// shutdown(wait=false) returns while calls run; they still complete.
TYPED_TEST(ShutdownTest, ShutdownNoWait) {
  gate g(this->scratch, "gate");
  auto blockers = this->block_all_workers(g);
  const std::vector<int> xs{-5, -4, -3, -2, -1, 0, 1, 2, 3, 4};
  auto r = this->executor->map(tasks::abs_int, xs);
  const auto t0 = steady::now();
  this->executor->shutdown({.wait = false});
  EXPECT_LT(elapsed_since(t0), 5s) << "shutdown(wait=false) waited";
  EXPECT_THROW((void)this->executor->submit(tasks::nothing), cfutures::shutdown_error);
  g.open();
  EXPECT_EQ(std::move(r).to_vector(), (std::vector<int>{5, 4, 3, 2, 1, 0, 1, 2, 3, 4}));
  for (auto& b : blockers) EXPECT_EQ(b.result(), 0);
}

// Python's `with` block / test_del_shutdown: the destructor waits for every call.
TYPED_TEST(ShutdownTest, DestructorWaitsForAllCalls) {
  std::vector<future<int>> fs;
  for (int i = 0; i < 10; ++i) fs.push_back(this->executor->submit(tasks::sleep_ms, 50));
  this->executor.reset();
  for (auto& f : fs) {
    EXPECT_TRUE(f.done()) << "the destructor returned before a call ran";
    EXPECT_EQ(f.result(0s), 50);
  }
}

TYPED_TEST(ShutdownTest, ContextManagerShutdown) {
  std::vector<int> results;
  {
    auto e = TypeParam::make(5);
    const std::vector<int> xs{-5, -4, -3, -2, -1, 0, 1, 2, 3, 4};
    results = e->map(tasks::abs_int, xs).to_vector();
  }
  EXPECT_EQ(results, (std::vector<int>{5, 4, 3, 2, 1, 0, 1, 2, 3, 4}));
}

// gh-94440: shutdown(wait=true) right after cancelling a call must not hang.
TYPED_TEST(ShutdownTest, HangGh94440) {
  auto e = TypeParam::make(1);
  EXPECT_EQ(e->submit(tasks::abs_int, -1).result(), 1);
  (void)e->submit(tasks::abs_int, -2).cancel();
  const auto t0 = steady::now();
  e->shutdown({.wait = true});
  EXPECT_LT(elapsed_since(t0), 5s);
}

}  // namespace
}  // namespace conformance
