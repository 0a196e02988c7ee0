// max_tasks_per_child: CPython's test_process_pool.py (test_max_tasks_per_child,
// test_max_tasks_early_shutdown, gh-115634), for both start methods. Workers are replaced by
// fresh processes after their quota, the pool keeps its size, a backlog still runs, early
// shutdown does not hang, and a chunk never makes a worker exceed its limit.
#include <gtest/gtest.h>

#include <map>
#include <ranges>
#include <set>
#include <tuple>
#include <vector>

#include "process_pool_support.hpp"

namespace conformance {
namespace {

class ProcessPoolMaxTasksTest : public process_pool_test_base {};
CFUTURES_START_METHODS(ProcessPoolMaxTasksTest);

TEST_P(ProcessPoolMaxTasksTest, MaxTasksPerChildOneRunsEveryCallInAFreshProcess) {
  nothing_left_behind leaks;
  process_pool_options o = options(2);
  o.max_tasks_per_child = 1;
  process_pool_executor pool(o);
  std::set<int> sequential;
  for (int i = 0; i < 6; ++i) sequential.insert(pool.submit(get_pid).result(10s));
  EXPECT_EQ(sequential.size(), 6u);
  std::vector<future<int>> fs;
  for (int i = 0; i < 8; ++i) fs.push_back(pool.submit(get_pid));
  std::set<int> concurrent;
  for (auto& f : fs) concurrent.insert(f.result(10s));
  EXPECT_EQ(concurrent.size(), 8u);
  for (int pid : concurrent) EXPECT_EQ(sequential.count(pid), 0u);
  EXPECT_EQ(concurrent.count(static_cast<int>(::getpid())), 0u);
}

// The pool keeps its size: after workers were replaced, max_workers calls still run at once.
TEST_P(ProcessPoolMaxTasksTest, MaxTasksPerChildKeepsThePoolSize) {
  nothing_left_behind leaks;
  scratch_dir scratch;
  process_pool_options o = options(3);
  o.max_tasks_per_child = 1;
  process_pool_executor pool(o);
  std::set<int> pids;
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round);
    const std::string tag = "r" + std::to_string(round) + "_";
    gate g(scratch, tag + "gate");
    std::vector<future<int>> fs;
    for (int i = 0; i < 3; ++i) {
      fs.push_back(
          pool.submit(tasks::signal_and_wait, scratch.path(tag + std::to_string(i)), g.path()));
      fs.push_back(pool.submit(get_pid));  // queued behind the blockers
    }
    ASSERT_TRUE(scratch.wait_for_count(tag, 3)) << "fewer than 3 workers run at once";
    EXPECT_TRUE(eventually([&] { return live_workers(GetParam()) == 3; }, 5s))
        << live_workers(GetParam()) << " live workers";
    g.open();
    for (std::size_t i = 0; i < fs.size(); ++i) {
      const int r = fs[i].result(10s);
      if (i % 2 == 1) {
        EXPECT_TRUE(pids.insert(r).second) << "a worker ran two calls";
      }
    }
  }
}

// CPython's test_max_tasks_per_child: the same process for 3 calls, then a new one.
TEST_P(ProcessPoolMaxTasksTest, MaxTasksPerChildThree) {
  process_pool_options o = options(1);
  o.max_tasks_per_child = 3;
  process_pool_executor pool(o);
  const int first = pool.submit(get_pid).result(10s);
  EXPECT_EQ(pool.submit(get_pid).result(10s), first);
  EXPECT_EQ(pool.submit(get_pid).result(10s), first);
  const int fourth = pool.submit(get_pid).result(10s);
  EXPECT_NE(fourth, first);
  EXPECT_EQ(pool.submit(get_pid).result(10s), fourth);
}

// CPython's test_max_tasks_per_child_pending_tasks_gh115634: a backlog while workers reach
// their limit still runs to the end.
TEST_P(ProcessPoolMaxTasksTest, MaxTasksPerChildWithABacklog) {
  for (auto [workers, tasks_per_child, n] : {std::tuple{1, 2, 6}, std::tuple{2, 2, 8}}) {
    SCOPED_TRACE(workers);
    process_pool_options o = options(static_cast<std::size_t>(workers));
    o.max_tasks_per_child = static_cast<std::size_t>(tasks_per_child);
    process_pool_executor pool(o);
    std::vector<future<int>> fs;
    for (int i = 0; i < n; ++i) fs.push_back(pool.submit(mul, i, 2));
    for (int i = 0; i < n; ++i) EXPECT_EQ(fs[static_cast<std::size_t>(i)].result(10s), i * 2);
    pool.shutdown({.wait = true, .cancel_futures = true});
  }
}

// CPython's test_max_tasks_early_shutdown: shutdown() with pending work does not hang, and
// every call still runs.
TEST_P(ProcessPoolMaxTasksTest, MaxTasksPerChildEarlyShutdown) {
  nothing_left_behind leaks;
  process_pool_options o = options(3);
  o.max_tasks_per_child = 1;
  process_pool_executor pool(o);
  std::vector<future<int>> fs;
  for (int i = 0; i < 6; ++i) fs.push_back(pool.submit(mul, i, i));
  const auto t0 = steady::now();
  pool.shutdown();
  EXPECT_LT(elapsed_since(t0), 5s);
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(fs[static_cast<std::size_t>(i)].done());
    EXPECT_EQ(fs[static_cast<std::size_t>(i)].result(0s), i * i);
  }
  EXPECT_TRUE(no_child_process()) << "shutdown(wait) left a worker";
}

// A chunk never makes a worker exceed its limit.
TEST_P(ProcessPoolMaxTasksTest, MaxTasksPerChildSplitsChunks) {
  process_pool_options o = options(2);
  o.max_tasks_per_child = 2;
  process_pool_executor pool(o);
  const auto pids =
      pool.map(pid_of_call, std::views::iota(0, 12), map_options{.chunksize = 5}).to_vector();
  ASSERT_EQ(pids.size(), 12u);
  std::map<int, int> calls_per_pid;
  for (int p : pids) ++calls_per_pid[p];
  for (auto [pid, n] : calls_per_pid) {
    EXPECT_LE(n, 2) << "worker " << pid << " ran " << n << " calls";
  }
  EXPECT_GE(calls_per_pid.size(), 6u);
}

}  // namespace
}  // namespace conformance
