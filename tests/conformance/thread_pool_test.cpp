// CPython's test_thread_pool.py, test_init.py and the ThreadPoolShutdownTest parts of
// test_shutdown.py, plus what only a thread pool can show: the tasks here share memory with
// the test (captures, events, thread ids), so they are not part of the typed suite. What the
// C++ thread pool adds (any callable, move-only values, max_pending, stop tokens) is in
// tests/unit/thread_pool_executor_test.cpp.
#include <gtest/gtest.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cfutures/cfutures.hpp>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tasks.hpp"
#include "test_support.hpp"

namespace conformance {
namespace {

using cfutures::future;
using cfutures::thread_pool_executor;
using cfutures::thread_pool_options;

std::string this_thread_name() {
  char buf[64] = {};
  pthread_getname_np(pthread_self(), buf, sizeof buf);
  return buf;
}

// Waits until the threads of this process are back to `n` (a joined thread may linger in
// /proc for a moment).
::testing::AssertionResult threads_back_to(std::size_t n) {
  if (eventually([&] { return count_threads() == n; }, 3s)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << count_threads() << " threads, expected " << n;
}

// --- max_workers -------------------------------------------------------------------------

TEST(ThreadPoolTest, DefaultMaxWorkers) {
  const std::size_t expected =
      std::min<std::size_t>(32, std::size_t{std::thread::hardware_concurrency()} + 4);
  thread_pool_executor a;
  EXPECT_EQ(a.max_workers(), expected);
  thread_pool_executor b(thread_pool_options{});
  EXPECT_EQ(b.max_workers(), expected);
}

TEST(ThreadPoolTest, ExplicitMaxWorkers) {
  thread_pool_executor a(7);
  EXPECT_EQ(a.max_workers(), 7u);
  thread_pool_executor b({.max_workers = 3});
  EXPECT_EQ(b.max_workers(), 3u);
}

TEST(ThreadPoolTest, MaxWorkersZeroThrowsInvalidArgument) {
  EXPECT_THROW(thread_pool_executor(0), std::invalid_argument);
  EXPECT_THROW(thread_pool_executor({.max_workers = 0}), std::invalid_argument);
}

// --- thread names ------------------------------------------------------------------------

// Occupies `n` workers of `ex` at once and returns their thread names as the tasks see them.
std::vector<std::string> names_of_busy_workers(thread_pool_executor& ex, int n,
                                               std::vector<std::string>* proc_names) {
  std::mutex m;
  std::vector<std::string> seen;
  std::atomic<int> started{0};
  event release;
  std::vector<future<void>> fs;
  for (int i = 0; i < n; ++i) {
    fs.push_back(ex.submit([&] {
      {
        std::lock_guard lock(m);
        seen.push_back(this_thread_name());
      }
      ++started;
      release.wait_for(10s);
    }));
  }
  const bool all_started = eventually([&] { return started.load() == n; }, 10s);
  if (proc_names) *proc_names = thread_names();
  release.set();
  for (auto& f : fs) f.wait();
  EXPECT_TRUE(all_started);
  return seen;
}

TEST(ThreadPoolTest, ThreadNamesUseThePrefix) {
  thread_pool_executor ex({.max_workers = 5, .thread_name_prefix = "SpecialPool"});
  std::vector<std::string> from_proc;
  auto seen = names_of_busy_workers(ex, 5, &from_proc);
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"SpecialPool_0", "SpecialPool_1", "SpecialPool_2",
                                            "SpecialPool_3", "SpecialPool_4"}));
  const std::regex pattern("^SpecialPool_[0-4]$");
  std::set<std::string> in_proc;
  for (const auto& name : from_proc) {
    if (std::regex_match(name, pattern)) in_proc.insert(name);
  }
  EXPECT_EQ(in_proc.size(), 5u) << "/proc/self/task/*/comm does not show the 5 names";
}

TEST(ThreadPoolTest, DefaultThreadNamePrefix) {
  thread_pool_executor ex(3);
  auto seen = names_of_busy_workers(ex, 3, nullptr);
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"cfutures_0", "cfutures_1", "cfutures_2"}));
}

// --- initializer ---------------------------------------------------------------------------

TEST(ThreadPoolTest, InitializerRunsFirstInEveryWorker) {
  std::mutex m;
  std::set<std::thread::id> initialized;
  thread_local bool this_thread_initialized = false;
  event release;
  thread_pool_executor ex({.max_workers = 3, .initializer = [&] {
                             std::lock_guard lock(m);
                             initialized.insert(std::this_thread::get_id());
                             this_thread_initialized = true;
                           }});
  set_on_exit release_on_exit(release);
  std::atomic<int> started{0};
  std::vector<future<std::thread::id>> fs;
  for (int i = 0; i < 3; ++i) {
    fs.push_back(ex.submit([&] {
      EXPECT_TRUE(this_thread_initialized) << "a task ran before its worker's initializer";
      ++started;
      release.wait_for(10s);
      return std::this_thread::get_id();
    }));
  }
  ASSERT_TRUE(eventually([&] { return started.load() == 3; }));
  release.set();
  std::set<std::thread::id> workers;
  for (auto& f : fs) workers.insert(f.result());
  std::lock_guard lock(m);
  EXPECT_EQ(workers.size(), 3u);
  EXPECT_EQ(initialized, workers);
}

TEST(ThreadPoolTest, FailingInitializerBreaksThePool) {
  thread_pool_executor ex(
      {.max_workers = 2, .initializer = [] { throw std::runtime_error("no database"); }});
  // The first submit starts the first worker, so it cannot be refused; the later ones may
  // find the pool already broken, which is what the test checks at the end anyway.
  std::vector<future<int>> fs;
  for (int i = 0; i < 5; ++i) {
    try {
      fs.push_back(ex.submit(tasks::mul, i, 2));
    } catch (const cfutures::broken_thread_pool&) {
      EXPECT_GT(i, 0) << "the very first submit was refused";
    }
  }
  ASSERT_FALSE(fs.empty());
  for (auto& f : fs) {
    EXPECT_THROW((void)f.result(10s), cfutures::broken_thread_pool);
  }
  EXPECT_TRUE(fs.front().exception() != nullptr);
  // The error says that the initializer failed, and why.
  try {
    (void)fs.front().result();
  } catch (const cfutures::broken_thread_pool& e) {
    EXPECT_NE(std::string(e.what()).find("initializer failed"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no database"), std::string::npos) << e.what();
  }
  // Later submits fail too.
  EXPECT_THROW((void)ex.submit(tasks::mul, 1, 2), cfutures::broken_thread_pool);
  EXPECT_THROW((void)ex.submit(tasks::mul, 1, 2), cfutures::broken_executor);
}

// --- worker management -------------------------------------------------------------------

TEST(ThreadPoolTest, IdleWorkersAreReused) {
  const std::size_t before = baseline_threads();
  thread_pool_executor ex({.max_workers = 8, .thread_name_prefix = "reuse"});
  std::set<std::thread::id> ids;
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(ex.submit(tasks::mul, i, 2).result(), 2 * i);
    ids.insert(ex.submit([] { return std::this_thread::get_id(); }).result());
  }
  EXPECT_EQ(ids.size(), 1u) << "sequential calls ran on " << ids.size() << " threads";
  EXPECT_EQ(count_threads(), before + 1);
  // Counted by name as well (a sanitizer may start threads of its own).
  const auto names = thread_names();
  EXPECT_EQ(std::count_if(names.begin(), names.end(),
                          [](const std::string& n) { return n.starts_with("reuse_"); }),
            1);
}

TEST(ThreadPoolTest, NeverMoreThreadsThanMaxWorkers) {
  const std::size_t before = baseline_threads();
  event release;
  thread_pool_executor ex(4);
  set_on_exit release_on_exit(release);
  std::vector<future<bool>> fs;
  for (int i = 0; i < 15 * 4; ++i) fs.push_back(ex.submit([&] { return release.wait_for(10s); }));
  EXPECT_TRUE(eventually([&] { return count_threads() == before + 4; }, 5s));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(count_threads(), before + 4);
  release.set();
  for (auto& f : fs) EXPECT_TRUE(f.result());
}

TEST(ThreadPoolTest, NoWorkerThreadOutlivesItsExecutor) {
  const std::size_t before = baseline_threads();
  {
    event release;
    thread_pool_executor ex(4);
    set_on_exit release_on_exit(release);
    std::atomic<int> started{0};
    std::vector<future<void>> fs;
    for (int i = 0; i < 20; ++i) {
      fs.push_back(ex.submit([&] {
        ++started;
        release.wait_for(10s);
      }));
    }
    EXPECT_TRUE(eventually([&] { return started.load() >= 4; }));
    EXPECT_EQ(count_threads(), before + 4);
  }
  EXPECT_TRUE(threads_back_to(before)) << "after the destructor";

  {
    thread_pool_executor ex(3);
    for (int i = 0; i < 10; ++i) (void)ex.submit(tasks::sleep_ms, 20);
    ex.shutdown({.wait = true});
    EXPECT_TRUE(threads_back_to(before)) << "after shutdown(wait=true)";
  }

  {
    thread_pool_executor ex(3);
    for (int i = 0; i < 10; ++i) (void)ex.submit(tasks::sleep_ms, 20);
    ex.shutdown({.wait = false});
  }
  EXPECT_TRUE(threads_back_to(before)) << "after shutdown(wait=false) and the destructor";

  {
    thread_pool_executor ex(3);
    for (int i = 0; i < 10; ++i) (void)ex.submit(tasks::sleep_ms, 20);
    ex.shutdown({.wait = false, .cancel_futures = true});
  }
  EXPECT_TRUE(threads_back_to(before)) << "after shutdown(cancel_futures) and the destructor";
}

TEST(ThreadPoolTest, ShutdownFromAWorkerDoesNotWaitForItself) {
  const std::size_t before = baseline_threads();
  {
    thread_pool_executor ex(2);
    auto f = ex.submit([&ex] {
      ex.shutdown({.wait = true});  // must not wait for this very worker
      return 1;
    });
    EXPECT_EQ(f.result(10s), 1);
    EXPECT_THROW((void)ex.submit(tasks::nothing), cfutures::shutdown_error);
  }
  // ...and the worker still does not outlive the executor.
  EXPECT_TRUE(threads_back_to(before));
}

// Regression (found by the chaos test): a shutdown(wait) from outside held the pool's join
// lock while it joined the workers, and a task's own shutdown(wait) waited for that lock,
// so each waited for the other. A hang here is a failure by CTest's timeout.
TEST(ThreadPoolTest, ShutdownWithWaitFromATaskWhileAnotherThreadJoinsDoesNotDeadlock) {
  const std::size_t before = baseline_threads();
  {
    thread_pool_executor ex(2);
    event outside_shutdown_started;
    auto f = ex.submit([&] {
      outside_shutdown_started.wait_for(10s);
      std::this_thread::sleep_for(20ms);  // by now the other thread is joining this worker
      ex.shutdown({.wait = true});
      return 1;
    });
    std::thread outside([&] {
      outside_shutdown_started.set();
      ex.shutdown({.wait = true});
    });
    outside.join();
    EXPECT_TRUE(f.done()) << "the outside shutdown(wait) returned before the task ended";
    EXPECT_EQ(f.result(), 1);
  }
  EXPECT_TRUE(threads_back_to(before));
}

TEST(ThreadPoolTest, ShutdownWithWaitFromTwoTasksAtOnceDoesNotDeadlock) {
  const std::size_t before = baseline_threads();
  {
    thread_pool_executor ex(2);
    std::atomic<int> running{0};
    auto both_shut_down = [&] {
      ++running;
      eventually([&] { return running.load() == 2; });  // each waits for the other worker
      ex.shutdown({.wait = true});
      return 1;
    };
    auto a = ex.submit(both_shut_down);
    auto b = ex.submit(both_shut_down);
    EXPECT_EQ(a.result(10s), 1);
    EXPECT_EQ(b.result(10s), 1);
  }
  EXPECT_TRUE(threads_back_to(before));
}

// --- callbacks ------------------------------------------------------------------------------

TEST(ThreadPoolTest, DoneCallbackRunsInTheWorkerThatFinished) {
  event release;
  event called;
  std::thread::id callback_thread;
  thread_pool_executor ex(1);
  set_on_exit release_on_exit(release);
  auto f = ex.submit([&] {
    release.wait_for(10s);
    return std::this_thread::get_id();
  });
  f.add_done_callback([&](const future<std::thread::id>&) {
    callback_thread = std::this_thread::get_id();
    called.set();
  });
  release.set();
  const auto worker = f.result();
  ASSERT_TRUE(called.wait_for(10s));
  EXPECT_EQ(callback_thread, worker);
  EXPECT_NE(callback_thread, std::this_thread::get_id());
}

// CPython's test_saturation and test_hang_global_shutdown_lock have no C++ counterpart
// beyond the tests above; test_executor_map_current_future_cancel is in the typed suite.

}  // namespace
}  // namespace conformance
