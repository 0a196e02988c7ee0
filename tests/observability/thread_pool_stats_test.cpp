// thread_pool_executor::stats() (stats.hpp) against the futures' own final states.
#include <atomic>
#include <random>
#include <stdexcept>
#include <thread>

#include "stats_support.hpp"
#include "test_support.hpp"

namespace observability {
namespace {

using namespace std::chrono_literals;
using cfutures::future;
using cfutures::thread_pool_executor;

int ok(int x) { return x; }
int boom(int) { throw std::runtime_error("boom"); }

TEST(ThreadPoolStats, ANewPoolCountsNothing) {
  thread_pool_executor pool(2);
  const auto s = pool.stats();
  EXPECT_EQ(s.submitted + s.queued + s.running + s.completed + s.failed + s.cancelled, 0u);
  EXPECT_EQ(s.workers, 0u);  // workers start on demand
}

TEST(ThreadPoolStats, CountsValuesExceptionsAndCancellations) {
  thread_pool_executor pool(2);
  std::atomic<bool> release{false};
  std::vector<future<int>> fs;
  // Both workers held, so that what follows is queued and can be cancelled.
  for (int i = 0; i < 2; ++i) {
    fs.push_back(pool.submit([&release] {
      while (!release.load()) std::this_thread::sleep_for(1ms);
      return 0;
    }));
  }
  ASSERT_TRUE(conformance::eventually([&] { return pool.stats().running == 2; }));
  for (int i = 0; i < 30; ++i) fs.push_back(pool.submit(i % 3 == 0 ? &boom : &ok, i));
  {
    const auto s = pool.stats();
    EXPECT_EQ(s.submitted, 32u) << s;
    EXPECT_EQ(s.queued, 30u) << s;
    EXPECT_EQ(s.running, 2u) << s;
    EXPECT_EQ(s.workers, 2u) << s;
  }
  std::size_t cancelled = 0;
  for (std::size_t i = 2; i < fs.size(); i += 4) cancelled += fs[i].cancel() ? 1 : 0;
  EXPECT_EQ(cancelled, 8u);
  EXPECT_EQ(pool.stats().cancelled, 8u);  // counted as they are cancelled, still queued
  release = true;
  outcomes o;
  for (auto& f : fs) {
    f.wait();
    o.add(f);
  }
  expect_quiescent(pool.stats(), o);
  pool.shutdown({.wait = true});
  const auto s = pool.stats();
  EXPECT_EQ(s.workers, 0u) << s;
  EXPECT_EQ(s.workers_started + s.workers_died + s.retried + s.timed_out, 0u) << s;
}

TEST(ThreadPoolStats, ShutdownCancellingFuturesCountsThem) {
  thread_pool_executor pool(1);
  std::atomic<bool> release{false};
  auto blocker = pool.submit([&release] {
    while (!release.load()) std::this_thread::sleep_for(1ms);
    return 1;
  });
  std::vector<future<int>> fs;
  for (int i = 0; i < 10; ++i) fs.push_back(pool.submit(&ok, i));
  ASSERT_TRUE(conformance::eventually([&] { return pool.stats().running == 1; }));
  pool.shutdown({.wait = false, .cancel_futures = true});
  release = true;
  pool.shutdown({.wait = true});
  outcomes o;
  o.add(blocker);
  for (auto& f : fs) o.add(f);
  EXPECT_EQ(o.cancelled, 10u);
  expect_quiescent(pool.stats(), o);
  EXPECT_EQ(pool.stats().workers, 0u);
  // A submit after shutdown throws and is not counted.
  EXPECT_THROW(pool.submit(&ok, 1), cfutures::shutdown_error);
  EXPECT_EQ(pool.stats().submitted, 11u);
}

TEST(ThreadPoolStats, NestedSubmitsAndMapAreCounted) {
  thread_pool_executor pool(2);
  auto outer = pool.submit([&pool] {
    std::vector<future<int>> inner;
    for (int i = 0; i < 20; ++i) inner.push_back(pool.submit(&ok, i));
    int sum = 0;
    for (auto& f : inner) sum += f.result();
    return sum;
  });
  EXPECT_EQ(outer.result(), 190);
  int sum = 0;
  for (int x : pool.map(&ok, std::vector<int>(100, 1))) sum += x;
  EXPECT_EQ(sum, 100);
  const auto s = pool.stats();
  EXPECT_EQ(s.submitted, 121u) << s;
  EXPECT_EQ(s.completed, 121u) << s;
  EXPECT_EQ(s.queued + s.running, 0u) << s;
}

// Random submits, cancels and waits from several threads: the counts match the futures'.
TEST(ThreadPoolStats, RandomOperationsFromSeveralThreads) {
  thread_pool_executor pool(3);
  constexpr int threads = 4;
  std::vector<std::vector<future<int>>> made(threads);
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      std::mt19937 rng(1234 + t);
      for (int i = 0; i < 500; ++i) {
        const int op = static_cast<int>(rng() % 10);
        made[t].push_back(pool.submit(op == 0 ? &boom : &ok, i));
        if (op < 3 && !made[t].empty()) made[t][rng() % made[t].size()].cancel();
        if (op == 9) made[t].back().wait();
      }
    });
  }
  for (auto& t : ts) t.join();
  outcomes o;
  for (auto& v : made) {
    for (auto& f : v) {
      f.wait();
      o.add(f);
    }
  }
  expect_quiescent(pool.stats(), o);
}

}  // namespace
}  // namespace observability
