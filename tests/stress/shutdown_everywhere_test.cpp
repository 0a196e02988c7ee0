// Shutdown from everywhere (issue 6): from a done-callback, from inside a task, from another
// thread while map() is being consumed, and the destructor with pending work. Each runs
// against every executor of the conformance suite; none may deadlock (CTest's timeout turns
// a hang into a failure) and every future must end in a result, an exception or cancelled.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "executor_traits.hpp"
#include "stress_support.hpp"

using namespace std::chrono_literals;

namespace {

template <class Traits>
class ShutdownEverywhere : public stress::typed_suite<Traits> {
 protected:
  std::unique_ptr<typename Traits::executor_type> executor = Traits::make(2);
};
TYPED_TEST_SUITE(ShutdownEverywhere, conformance::executor_types, conformance::executor_names);

// Every future is done, and each is a value, a task exception or cancelled.
template <class T>
void expect_all_terminal(const std::vector<cfutures::future<T>>& fs) {
  for (const auto& f : fs) {
    ASSERT_TRUE(f.wait_for(30s)) << "a future never ended";
    if (f.cancelled()) continue;
    EXPECT_NO_THROW((void)f.exception());
  }
}

}  // namespace

TYPED_TEST(ShutdownEverywhere, FromADoneCallbackWithWait) {
  auto& ex = *this->executor;
  std::vector<cfutures::future<int>> fs;
  for (int i = 0; i < 20; ++i) fs.push_back(ex.submit(conformance::tasks::sleep_ms, 1));
  std::atomic<int> callbacks{0};
  fs[3].add_done_callback([&](const cfutures::future<int>&) {
    ex.shutdown({.wait = true});
    ++callbacks;
  });
  expect_all_terminal(fs);
  for (auto& f : fs) EXPECT_EQ(f.result(), 1);  // shutdown without cancel runs what is queued
  // The callback's shutdown may still be joining the other workers when the futures are done.
  conformance::eventually([&] { return callbacks.load() != 0; }, 30s);
  EXPECT_EQ(callbacks.load(), 1);
  EXPECT_THROW(ex.submit(conformance::tasks::nothing), cfutures::shutdown_error);
}

TYPED_TEST(ShutdownEverywhere, FromADoneCallbackCancellingTheRest) {
  auto& ex = *this->executor;
  std::vector<cfutures::future<int>> fs;
  for (int i = 0; i < 50; ++i) fs.push_back(ex.submit(conformance::tasks::sleep_ms, 2));
  fs[0].add_done_callback([&](const cfutures::future<int>&) {
    ex.shutdown({.wait = false, .cancel_futures = true});
  });
  expect_all_terminal(fs);
  EXPECT_EQ(fs[0].result(), 2);
  int cancelled = 0;
  for (auto& f : fs) cancelled += f.cancelled();
  EXPECT_GT(cancelled, 0) << "50 queued 2 ms calls on 2 workers: some were still queued";
}

TYPED_TEST(ShutdownEverywhere, FromAnotherThreadWhileMapIsConsumed) {
  for (const bool cancel : {false, true}) {
    auto ex = TypeParam::make(2);
    std::vector<int> input(400, 1);
    auto results = ex->map(conformance::tasks::sleep_ms, input);
    std::atomic<int> consumed{0};
    std::thread stopper([&] {
      while (consumed.load() < 10) std::this_thread::sleep_for(100us);
      ex->shutdown({.wait = true, .cancel_futures = cancel});
    });
    int values = 0;
    bool saw_cancelled = false;
    try {
      for (int v : results) {
        EXPECT_EQ(v, 1);
        ++values;
        ++consumed;
      }
    } catch (const cfutures::cancelled_error&) {
      saw_cancelled = true;
    }
    stopper.join();
    if (cancel) {
      EXPECT_TRUE(saw_cancelled) << "cancel_futures mid-map: the rest of the map was cancelled";
      EXPECT_GE(values, 10);
    } else {
      EXPECT_FALSE(saw_cancelled);
      EXPECT_EQ(values, 400) << "shutdown without cancel lets every queued call run";
    }
  }
}

TYPED_TEST(ShutdownEverywhere, DestructorWithPendingWorkRunsIt) {
  std::vector<cfutures::future<int>> fs;
  {
    auto ex = TypeParam::make(2);
    for (int i = 0; i < 100; ++i) fs.push_back(ex->submit(conformance::tasks::mul, i, 2));
  }
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(fs[i].done()) << "the destructor returned before call " << i << " ended";
    EXPECT_EQ(fs[i].result(), 2 * i);
  }
}

TYPED_TEST(ShutdownEverywhere, DestructorAfterCancellingShutdownWithoutWait) {
  std::vector<cfutures::future<int>> fs;
  {
    auto ex = TypeParam::make(2);
    for (int i = 0; i < 100; ++i) fs.push_back(ex->submit(conformance::tasks::sleep_ms, 1));
    ex->shutdown({.wait = false, .cancel_futures = true});
  }
  for (const auto& f : fs) ASSERT_TRUE(f.done());
  expect_all_terminal(fs);
}

TYPED_TEST(ShutdownEverywhere, ConcurrentShutdownsFromManyThreads) {
  auto& ex = *this->executor;
  std::vector<cfutures::future<int>> fs;
  for (int i = 0; i < 40; ++i) fs.push_back(ex.submit(conformance::tasks::sleep_ms, 1));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&ex, t] { ex.shutdown({.wait = t % 2 == 0, .cancel_futures = t == 3}); });
  }
  for (auto& t : threads) t.join();
  expect_all_terminal(fs);
}

// Only a thread-pool task can reach its own executor.
TEST(ShutdownEverywhereThreadPool, FromInsideATaskWithCancel) {
  auto ex = std::make_unique<cfutures::thread_pool_executor>(2);
  std::vector<cfutures::future<int>> fs;
  auto stopper = ex->submit([p = ex.get()] {
    std::this_thread::sleep_for(5ms);
    p->shutdown({.wait = true, .cancel_futures = true});
    return 0;
  });
  try {
    for (int i = 0; i < 100; ++i) fs.push_back(ex->submit(conformance::tasks::sleep_ms, 1));
  } catch (const cfutures::shutdown_error&) {
    // The task shut the pool down before every submit got in: the rest is refused, as it must.
  }
  EXPECT_EQ(stopper.result(10s), 0);
  expect_all_terminal(fs);
  ex.reset();
}

TEST(ShutdownEverywhereThreadPool, DestroyedFromInsideItsOwnTask) {
  auto owned = std::make_shared<std::unique_ptr<cfutures::thread_pool_executor>>(
      std::make_unique<cfutures::thread_pool_executor>(2));
  std::vector<cfutures::future<int>> fs;
  for (int i = 0; i < 20; ++i) fs.push_back((*owned)->submit(conformance::tasks::sleep_ms, 1));
  // The task waits until submit() has returned: destroying an object while another thread is
  // still inside one of its members is the caller's bug, whatever the object.
  auto submitted = std::make_shared<std::atomic<bool>>(false);
  auto last = (*owned)->submit([owned, submitted] {
    while (!submitted->load()) std::this_thread::sleep_for(100us);
    owned->reset();  // the executor dies on one of its own workers
    return 7;
  });
  submitted->store(true);
  EXPECT_EQ(last.result(10s), 7);
  expect_all_terminal(fs);
}
