// The thread pool's scheduler (src/thread): waiting inside the pool runs queued work instead
// of deadlocking, workers steal from each other, idle workers stop spinning, map() submits in
// batches, and nothing is lost when many threads submit at once.
#include <gtest/gtest.h>
#include <sched.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

#include "cfutures/thread_pool_executor.hpp"
#include "cfutures/wait.hpp"

using namespace std::chrono_literals;
using cfutures::thread_pool_executor;

namespace {

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// The tutorial's recursive pattern: each call submits its two halves to the same pool and
// waits for them.
long fib(thread_pool_executor& pool, int n) {
  if (n < 2) return n;
  auto a = pool.submit([&pool, n] { return fib(pool, n - 1); });
  auto b = pool.submit([&pool, n] { return fib(pool, n - 2); });
  return a.result() + b.result();
}

int allowed_cpus() {
  cpu_set_t set;
  return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : -1;
}

}  // namespace

// Workers sleep pinned to a home CPU and as SCHED_BATCH (src/thread/home_cpu.hpp) but must
// run tasks, and start threads, with the affinity and policy the pool was created with.
TEST(ThreadPoolScheduling, TasksRunWithTheCreatorsAffinityAndPolicyAfterWorkersSlept) {
  struct placement {
    int cpus;
    int policy;
    bool operator==(const placement&) const = default;
  };
  const auto here = [] { return placement{allowed_cpus(), sched_getscheduler(0)}; };
  const placement expected = here();
  ASSERT_EQ(expected.policy, SCHED_OTHER);
  thread_pool_executor pool(2);
  for (int round = 0; round < 3; ++round) {
    std::vector<cfutures::future<std::pair<placement, placement>>> fs;
    for (int i = 0; i < 2; ++i) {
      fs.push_back(pool.submit([&here] {
        placement from_child{};
        std::thread([&] { from_child = here(); }).join();
        return std::pair{here(), from_child};
      }));
    }
    for (auto& f : fs) {
      const auto [in_task, in_child] = f.result();
      EXPECT_EQ(in_task, expected) << "round " << round;
      EXPECT_EQ(in_child, expected) << "round " << round;
    }
    std::this_thread::sleep_for(20ms);  // far past the spin window: both workers park
  }
}

// A new worker's thread is pinned to its home CPU by the thread that starts it, and undoes
// that before anything else (start_placement in src/thread/home_cpu.hpp): the initializer,
// and threads it starts, see the affinity the pool was created with.
TEST(ThreadPoolScheduling, InitializerRunsWithTheCreatorsAffinity) {
  const int expected = allowed_cpus();
  std::mutex mutex;
  std::vector<int> seen, seen_by_child;
  const auto record_affinity = [&] {
    int from_child = 0;
    std::thread([&] { from_child = allowed_cpus(); }).join();
    std::lock_guard lock(mutex);
    seen.push_back(allowed_cpus());
    seen_by_child.push_back(from_child);
  };
  thread_pool_executor pool({.max_workers = 2, .initializer = record_affinity});
  std::vector<cfutures::future<int>> fs;
  for (int i = 0; i < 8; ++i) fs.push_back(pool.submit([i] { return i; }));
  for (auto& f : fs) f.result();
  pool.shutdown();
  ASSERT_FALSE(seen.empty());
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i], expected) << "initializer " << i;
    EXPECT_EQ(seen_by_child[i], expected) << "initializer " << i;
  }
}

// CPython's ThreadPoolExecutor(1) deadlocks here: the only worker waits for a task queued
// behind it. cfutures' worker runs the queued task while it waits.
TEST(ThreadPoolScheduling, TaskWaitingOnItsOwnPoolRunsQueuedWork) {
  thread_pool_executor pool(1);
  auto outer = pool.submit([&pool] {
    auto inner = pool.submit([] { return 41; });
    return inner.result() + 1;
  });
  ASSERT_TRUE(outer.wait_for(10s)) << "the worker deadlocked waiting on its own pool";
  EXPECT_EQ(outer.result(), 42);
}

TEST(ThreadPoolScheduling, FreeWaitInsideThePoolRunsQueuedWork) {
  thread_pool_executor pool(1);
  auto outer = pool.submit([&pool] {
    std::vector<cfutures::future<int>> kids;
    for (int i = 0; i < 5; ++i) kids.push_back(pool.submit([i] { return i; }));
    const auto [done, not_done] = cfutures::wait(kids);
    int sum = 0;
    for (auto& k : kids) sum += k.result();
    return static_cast<int>(done.size() + not_done.size()) * 100 + sum;
  });
  ASSERT_TRUE(outer.wait_for(10s)) << "wait() inside the only worker deadlocked";
  EXPECT_EQ(outer.result(), 510);
}

TEST(ThreadPoolScheduling, AsCompletedInsideThePoolRunsQueuedWork) {
  thread_pool_executor pool(1);
  auto outer = pool.submit([&pool] {
    std::vector<cfutures::future<int>> kids;
    for (int i = 1; i <= 4; ++i) kids.push_back(pool.submit([i] { return i; }));
    int sum = 0;
    for (auto& k : cfutures::as_completed(kids)) sum += k.result();
    return sum;
  });
  ASSERT_TRUE(outer.wait_for(10s)) << "as_completed() inside the only worker deadlocked";
  EXPECT_EQ(outer.result(), 10);
}

TEST(ThreadPoolScheduling, RecursiveSubmitAndWaitCompletesOnTwoWorkers) {
  thread_pool_executor pool(2);
  auto f = pool.submit([&pool] { return fib(pool, 16); });
  ASSERT_TRUE(f.wait_for(30s)) << "recursive submit-and-wait deadlocked";
  EXPECT_EQ(f.result(), 987);
}

TEST(ThreadPoolScheduling, WaitingWorkerRunsWorkSubmittedAfterItStartedWaiting) {
  thread_pool_executor pool(1);
  std::promise<cfutures::future<int>> handoff;
  auto waiter = pool.submit([fut = handoff.get_future()]() mutable {
    cfutures::future<int> later = fut.get();  // submitted by the main thread below
    return later.result() * 2;
  });
  std::this_thread::sleep_for(50ms);  // let the only worker park in result()
  handoff.set_value(pool.submit([] { return 21; }));
  ASSERT_TRUE(waiter.wait_for(10s)) << "a parked waiting worker was not woken for new work";
  EXPECT_EQ(waiter.result(), 42);
}

TEST(ThreadPoolScheduling, WaitingWorkerWakesWhenAnotherWorkerFinishes) {
  thread_pool_executor pool(2);
  std::latch started(1);
  auto slow = pool.submit([&] {
    started.count_down();
    std::this_thread::sleep_for(100ms);
    return 7;
  });
  started.wait();  // `slow` runs on one worker; the waiter below parks on the other
  auto waiter = pool.submit([&slow] { return slow.result() + 1; });
  ASSERT_TRUE(waiter.wait_for(10s));
  EXPECT_EQ(waiter.result(), 8);
}

TEST(ThreadPoolScheduling, TimeoutInsideThePoolStillExpires) {
  thread_pool_executor pool(2);
  std::latch release(1);
  auto blocked = pool.submit([&] { release.wait(); });
  auto waiter = pool.submit([&blocked] {
    try {
      blocked.result(50ms);
      return false;
    } catch (const cfutures::timeout_error&) {
      return true;
    }
  });
  EXPECT_TRUE(waiter.result(10s));
  release.count_down();
  blocked.result(10s);
}

TEST(ThreadPoolScheduling, IdleWorkersStealFromABusyWorkersQueue) {
  thread_pool_executor pool(4);
  // Warm up all four workers so that stealing, not starting threads, is what is measured.
  std::latch warm(4);
  std::vector<cfutures::future<void>> warmup;
  for (int i = 0; i < 4; ++i) warmup.push_back(pool.submit([&] { warm.arrive_and_wait(); }));
  for (auto& f : warmup) f.result();
  // One task queues three children on its own worker's queue, then waits for them (and so
  // may run one of them itself, helping). Each child waits until at least two have started:
  // the first finishes only if another runs at the same time on another thread, so at least
  // one was stolen by an idle worker. (Proved without timing: a child gives up only after
  // 10 s, and then returns false.) All three at once is not asked for: under TSan on a loaded
  // machine, one full-suite run of 1 saw the third child wait in the queue for 10 s.
  std::mutex m;
  std::condition_variable cv;
  int arrived = 0;
  auto rendezvous = [&] {
    std::unique_lock lock(m);
    ++arrived;
    cv.notify_all();
    return cv.wait_for(lock, 10s, [&] { return arrived >= 2; });
  };
  auto parent = pool.submit([&pool, &rendezvous] {
    std::vector<cfutures::future<bool>> children;
    for (int i = 0; i < 3; ++i) children.push_back(pool.submit(rendezvous));
    bool all_met = true;
    for (auto& c : children) all_met = c.result() && all_met;
    return all_met;
  });
  EXPECT_TRUE(parent.result(30s)) << "the children did not run concurrently";
}

TEST(ThreadPoolScheduling, SingleWorkerRunsTasksInSubmissionOrder) {
  thread_pool_executor pool(1);
  std::mutex m;
  std::vector<int> order;
  std::vector<cfutures::future<void>> fs;
  for (int i = 0; i < 1000; ++i) {
    fs.push_back(pool.submit([&, i] {
      std::lock_guard lock(m);
      order.push_back(i);
    }));
  }
  for (auto& f : fs) f.result();
  ASSERT_EQ(order.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(order[i], i);
}

TEST(ThreadPoolScheduling, IdlePoolStopsUsingCpu) {
  thread_pool_executor pool(4);
  std::vector<cfutures::future<int>> fs;
  for (int i = 0; i < 1000; ++i) fs.push_back(pool.submit([i] { return i; }));
  for (auto& f : fs) f.result();
  std::this_thread::sleep_for(50ms);  // past every spin window
  const double cpu_before = process_cpu_seconds();
  std::this_thread::sleep_for(300ms);
  const double used = process_cpu_seconds() - cpu_before;
  // Four spinning workers would use ~1.2 s of CPU here; parked ones use ~0.
  EXPECT_LT(used, 0.1) << "idle workers kept spinning";
}

TEST(ThreadPoolScheduling, ManyThreadsSubmittingLoseNothing) {
  thread_pool_executor pool(3);
  constexpr int threads = 4;
  constexpr int per_thread = 20000;
  std::atomic<long> ran{0};
  std::vector<std::thread> submitters;
  std::vector<std::vector<cfutures::future<int>>> futures(threads);
  for (int t = 0; t < threads; ++t) {
    submitters.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        futures[t].push_back(pool.submit([&ran, i] {
          ran.fetch_add(1, std::memory_order_relaxed);
          return i;
        }));
      }
    });
  }
  for (auto& s : submitters) s.join();
  for (auto& fs : futures) {
    for (int i = 0; i < per_thread; ++i) ASSERT_EQ(fs[i].result(10s), i);
  }
  EXPECT_EQ(ran.load(), long{threads} * per_thread);
}

TEST(ThreadPoolScheduling, NestedSubmitsFromWorkersAllComplete) {
  thread_pool_executor pool(2);
  std::atomic<int> leaves{0};
  std::vector<cfutures::future<void>> parents;
  for (int p = 0; p < 50; ++p) {
    parents.push_back(pool.submit([&] {
      std::vector<cfutures::future<void>> kids;
      for (int k = 0; k < 300; ++k) {  // more than a worker's ring holds
        kids.push_back(pool.submit([&] { leaves.fetch_add(1); }));
      }
      for (auto& k : kids) k.result();
    }));
  }
  for (auto& p : parents) ASSERT_TRUE(p.wait_for(30s));
  EXPECT_EQ(leaves.load(), 50 * 300);
}

TEST(ThreadPoolScheduling, MapSubmitsInBatchesAndKeepsOrder) {
  thread_pool_executor pool(2);
  std::vector<int> in(10000);
  for (int i = 0; i < 10000; ++i) in[i] = i;
  const auto out = pool.map([](int x) { return 3 * x; }, in).to_vector();
  ASSERT_EQ(out.size(), in.size());
  for (int i = 0; i < 10000; ++i) EXPECT_EQ(out[i], 3 * i);
}

TEST(ThreadPoolScheduling, MapAfterShutdownThrowsAndLeavesNothingPending) {
  thread_pool_executor pool(2);
  pool.shutdown();
  std::vector<int> in(1000, 1);
  EXPECT_THROW(pool.map([](int x) { return x; }, in), cfutures::shutdown_error);
}

TEST(ThreadPoolScheduling, MapWhoseInputThrowsStillRunsWhatWasSubmitted) {
  thread_pool_executor pool(1);
  struct throwing_range {
    struct iterator {
      using value_type = int;
      using difference_type = std::ptrdiff_t;
      int i = 0;
      int operator*() const {
        if (i == 100) throw std::runtime_error("input failed");
        return i;
      }
      iterator& operator++() {
        ++i;
        return *this;
      }
      void operator++(int) { ++i; }
      bool operator==(const iterator& o) const { return i == o.i; }
    };
    iterator begin() const { return {0}; }
    iterator end() const { return {1000}; }
  };
  std::atomic<int> ran{0};
  EXPECT_THROW(pool.map([&](int) { ran.fetch_add(1); }, throwing_range{}), std::runtime_error);
  pool.shutdown();
  EXPECT_EQ(ran.load(), 100) << "as in Python, the calls submitted before the input threw run";
}

TEST(ThreadPoolScheduling, MapFromInsideThePoolCompletes) {
  thread_pool_executor pool(1);
  auto f = pool.submit([&pool] {
    std::vector<int> in(500, 2);
    long sum = 0;
    for (int v : pool.map([](int x) { return x * x; }, in)) sum += v;
    return sum;
  });
  ASSERT_TRUE(f.wait_for(10s));
  EXPECT_EQ(f.result(), 500 * 4);
}
