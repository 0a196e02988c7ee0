// What only a process pool does, the basics: CPython's test_process_pool.py
// (ProcessPoolExecutorTest) — calls run in other processes, fork shares the parent's memory
// and spawn starts afresh, max_workers, workers start at the first submit and saturate,
// done-callbacks run in the manager thread, a queued call is never running and always
// cancellable, and no child process or descriptor outlives a pool.
// The rest of the process pool's parity tests, by CPython file:
//   process_pool_deadlock_test.cpp  test_deadlock.py: a worker dies, the pool breaks
//   process_pool_init_test.cpp      test_init.py: the initializer
//   process_pool_max_tasks_test.cpp max_tasks_per_child
//   process_pool_exception_test.cpp test_traceback: exceptions cross the process boundary
//   process_pool_big_data_test.cpp  big arguments and results (shared memory)
//   process_pool_chunks_test.cpp    map's chunksize, batches of calls
//   process_pool_shutdown_test.cpp  test_shutdown.py: terminate/kill_workers, shutdown, destruction
//   process_pool_forgot_serve_if_worker_test.cpp  a program that forgot serve_if_worker
#include <gtest/gtest.h>
#include <sched.h>

#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "process_pool_support.hpp"

namespace conformance {
namespace {

class ProcessPoolTest : public process_pool_test_base {};
CFUTURES_START_METHODS(ProcessPoolTest);

// The fork start method shares the parent's memory as it was at the fork; spawn starts the
// program afresh.
int parent_state = 0;
int read_parent_state() { return parent_state; }

// --- basics ------------------------------------------------------------------------------

TEST_P(ProcessPoolTest, CallsRunInOtherProcesses) {
  nothing_left_behind leaks;
  process_pool_executor pool(options(2));
  const int pid = pool.submit(get_pid).result(10s);
  EXPECT_NE(pid, static_cast<int>(::getpid()));
  EXPECT_GT(pid, 0);
  EXPECT_EQ(pool.submit(mul, 6, 7).result(10s), 42);
}

TEST_P(ProcessPoolTest, ForkSharesTheParentsMemorySpawnStartsAfresh) {
  parent_state = 7;
  {
    process_pool_executor pool(options(1));
    EXPECT_EQ(pool.submit(read_parent_state).result(10s), GetParam() == start_method::fork ? 7 : 0);
  }
  parent_state = 0;
}

TEST(ProcessPoolOptionsTest, MaxWorkers) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(::sched_getaffinity(0, sizeof set, &set), 0);
  EXPECT_EQ(process_pool_executor().max_workers(), static_cast<std::size_t>(CPU_COUNT(&set)));
  EXPECT_EQ(process_pool_executor(process_pool_options{}).max_workers(),
            static_cast<std::size_t>(CPU_COUNT(&set)));
  EXPECT_EQ(process_pool_executor(3).max_workers(), 3u);
  EXPECT_EQ(process_pool_executor({.max_workers = 5, .method = start_method::spawn}).max_workers(),
            5u);
  EXPECT_THROW(process_pool_executor(0), std::invalid_argument);
  EXPECT_THROW(process_pool_executor({.max_workers = 0}), std::invalid_argument);
  EXPECT_THROW(process_pool_executor({.max_workers = 1, .max_tasks_per_child = 0}),
               std::invalid_argument);
  EXPECT_TRUE(no_child_process()) << "a pool without submits started workers";
}

// Workers start at the first submit, and never more than max_workers of them (CPython's
// test_saturation).
TEST_P(ProcessPoolTest, WorkersStartAtTheFirstSubmitAndSaturate) {
  nothing_left_behind leaks;
  scratch_dir scratch;
  process_pool_executor pool(options(3));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(live_workers(GetParam()), 0u) << "workers started before the first submit";
  gate g(scratch, "gate");
  std::vector<future<int>> fs;
  for (int i = 0; i < 15 * 3; ++i) {
    fs.push_back(pool.submit(tasks::signal_and_wait, scratch.path("started_" + std::to_string(i)),
                             g.path()));
  }
  ASSERT_TRUE(scratch.wait_for_count("started_", 3));
  EXPECT_TRUE(eventually([&] { return live_workers(GetParam()) == 3; }, 5s));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(live_workers(GetParam()), 3u);
  EXPECT_EQ(scratch.count("started_"), 3u);
  g.open();
  for (auto& f : fs) EXPECT_EQ(f.result(10s), 0);
}

TEST_P(ProcessPoolTest, SubmitFromManyThreads) {
  process_pool_executor pool(options(3));
  std::vector<std::thread> threads;
  std::vector<std::vector<future<int>>> per_thread(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        per_thread[static_cast<std::size_t>(t)].push_back(pool.submit(mul, t, i));
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < 25; ++i) {
      EXPECT_EQ(per_thread[static_cast<std::size_t>(t)][static_cast<std::size_t>(i)].result(10s),
                t * i);
    }
  }
}

// Done-callbacks of process-pool futures run in the pool's manager thread (the header's
// contract), or at once in the calling thread when the future is already done.
TEST_P(ProcessPoolTest, DoneCallbacksRunInTheManagerThread) {
  scratch_dir scratch;
  process_pool_executor pool(options(2));
  gate g(scratch, "gate");
  std::mutex m;
  std::vector<std::thread::id> ids;
  event both;
  std::vector<future<int>> fs{pool.submit(tasks::wait_for_file, g.path()),
                              pool.submit(tasks::wait_for_file, g.path())};
  for (auto& f : fs) {
    f.add_done_callback([&](const future<int>&) {
      std::lock_guard lock(m);
      ids.push_back(std::this_thread::get_id());
      if (ids.size() == 2) both.set();
    });
  }
  g.open();  // the calls finish only now, after the callbacks were added
  ASSERT_TRUE(both.wait_for(10s));
  {
    std::lock_guard lock(m);
    EXPECT_EQ(ids[0], ids[1]) << "callbacks of one pool ran in different threads";
    EXPECT_NE(ids[0], std::this_thread::get_id());
  }
  std::thread::id late;
  fs[0].add_done_callback([&](const future<int>&) { late = std::this_thread::get_id(); });
  EXPECT_EQ(late, std::this_thread::get_id());
}

// --- queued calls -------------------------------------------------------------------------

// API.md: a call is running() only while a worker process has it, so every queued call can
// be cancelled (CPython marks up to max_workers + 1 queued calls running).
TEST_P(ProcessPoolTest, QueuedCallsAreNeverRunningAndAlwaysCancellable) {
  scratch_dir scratch;
  process_pool_executor pool(options(2));
  gate g(scratch, "gate");
  std::vector<future<int>> blockers;
  for (int i = 0; i < 2; ++i) {
    blockers.push_back(pool.submit(tasks::signal_and_wait,
                                   scratch.path("blocker_" + std::to_string(i)), g.path()));
  }
  ASSERT_TRUE(scratch.wait_for_count("blocker_", 2));
  std::vector<future<void>> queued;
  for (int i = 0; i < 10; ++i) queued.push_back(pool.submit(tasks::record, scratch.dir(), i));
  std::this_thread::sleep_for(50ms);
  for (auto& f : queued) {
    EXPECT_FALSE(f.running());
    EXPECT_TRUE(f.cancel());
    EXPECT_TRUE(f.cancelled());
  }
  g.open();
  for (auto& b : blockers) EXPECT_EQ(b.result(10s), 0);
  pool.shutdown();
  EXPECT_EQ(scratch.count("ran_"), 0u);
}

// ...and it becomes running() once a worker has it, then cannot be cancelled.
TEST_P(ProcessPoolTest, QueuedCallBecomesRunningWhenAWorkerTakesIt) {
  scratch_dir scratch;
  process_pool_executor pool(options(1));
  gate g1(scratch, "gate1");
  gate g2(scratch, "gate2");
  auto first = pool.submit(tasks::signal_and_wait, scratch.path("first"), g1.path());
  ASSERT_TRUE(scratch.wait_for("first"));
  auto second = pool.submit(tasks::signal_and_wait, scratch.path("second"), g2.path());
  EXPECT_TRUE(first.running());
  EXPECT_FALSE(second.running());
  g1.open();
  ASSERT_TRUE(scratch.wait_for("second"));
  EXPECT_TRUE(second.running());
  EXPECT_FALSE(second.cancel());
  g2.open();
  EXPECT_EQ(second.result(10s), 0);
  EXPECT_FALSE(second.running());
}

// No child process and no descriptor outlives a pool, however it ended.
TEST_P(ProcessPoolTest, NothingLeftBehind) {
  nothing_left_behind leaks;
  {
    process_pool_executor pool(options(3));
    std::vector<future<int>> fs;
    for (int i = 0; i < 20; ++i) fs.push_back(pool.submit(mul, i, i));
    for (auto& f : fs) (void)f.result(10s);
  }
  leaks.check("after normal use");
  {
    process_pool_options o = options(2);
    o.max_tasks_per_child = 1;
    process_pool_executor pool(o);
    for (int i = 0; i < 6; ++i) (void)pool.submit(get_pid).result(10s);
  }
  leaks.check("after max_tasks_per_child replacements");
  {
    process_pool_executor pool(options(2));
    (void)pool.submit(mul, 1, 1).result(10s);
    EXPECT_THROW((void)pool.submit(exit_with, 9).result(10s), cfutures::broken_process_pool);
  }
  leaks.check("after a worker died");
  {
    process_pool_options o = options(2);
    o.initializer = &failing_init;
    process_pool_executor pool(o);
    EXPECT_THROW((void)pool.submit(mul, 1, 1).result(10s), cfutures::broken_process_pool);
  }
  leaks.check("after a failing initializer");
  {
    process_pool_executor pool(options(2));
    (void)pool.submit(tasks::sleep_ms, 2000);
    std::this_thread::sleep_for(100ms);
    pool.kill_workers();
  }
  leaks.check("after kill_workers()");
  {
    process_pool_executor pool(options(2));
    for (int i = 0; i < 4; ++i) (void)pool.submit(tasks::sleep_ms, 20);
    pool.shutdown({.wait = false, .cancel_futures = true});
  }
  leaks.check("after shutdown(wait = false, cancel_futures = true)");
  {
    process_pool_executor pool(options(2));  // never used
  }
  leaks.check("after a pool that never started a worker");
}

}  // namespace
}  // namespace conformance
