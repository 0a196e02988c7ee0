// Ending a process pool: CPython's test_shutdown.py (ProcessPoolShutdownTest) and Python
// 3.14's terminate_workers()/kill_workers(), for both start methods. Forced ends fail running
// calls and cancel queued ones; shutdown(cancel_futures) with and without waiting;
// shutdown(wait) ends when a waiting thread received the last reply; destruction with
// pending work runs it all.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <tuple>
#include <vector>

#include "process_pool_support.hpp"

namespace conformance {
namespace {

class ProcessPoolShutdownTest : public process_pool_test_base {};
CFUTURES_START_METHODS(ProcessPoolShutdownTest);

// --- terminate_workers / kill_workers ----------------------------------------------------

enum class force { terminate, kill };
void PrintTo(force f, std::ostream* os) {
  *os << (f == force::terminate ? "terminate_workers" : "kill_workers");
}

class ProcessPoolForceTest : public ::testing::TestWithParam<std::tuple<start_method, force>> {
 protected:
  void apply(process_pool_executor& pool) const {
    if (std::get<1>(GetParam()) == force::terminate) {
      pool.terminate_workers();
    } else {
      pool.kill_workers();
    }
  }
  const char* method_name() const {
    return std::get<1>(GetParam()) == force::terminate ? "terminate_workers" : "kill_workers";
  }
  const char* signal_name() const {
    return std::get<1>(GetParam()) == force::terminate ? "SIGTERM" : "SIGKILL";
  }
  process_pool_options options(std::size_t workers) const {
    return {.max_workers = workers, .method = std::get<0>(GetParam())};
  }
};

INSTANTIATE_TEST_SUITE_P(StartMethods, ProcessPoolForceTest,
                         ::testing::Combine(::testing::Values(CFUTURES_TESTED_START_METHODS),
                                            ::testing::Values(force::terminate, force::kill)),
                         [](const auto& info) {
                           return method_name(std::get<0>(info.param)) +
                                  (std::get<1>(info.param) == force::terminate
                                       ? "_terminate_workers"
                                       : "_kill_workers");
                         });

// Python 3.14's test_force_shutdown_workers: running calls fail with broken_process_pool,
// queued ones are cancelled, no call finishes, and the pool is broken.
TEST_P(ProcessPoolForceTest, RunningCallsFailQueuedAreCancelled) {
  nothing_left_behind leaks;
  scratch_dir scratch;
  {
    process_pool_executor pool(options(2));
    gate g(scratch, "gate");
    std::vector<future<int>> running;
    for (int i = 0; i < 2; ++i) {
      const std::string n = std::to_string(i);
      running.push_back(pool.submit(wait_then_finish, scratch.path("started_" + n), g.path(),
                                    scratch.path("finished_" + n)));
    }
    ASSERT_TRUE(scratch.wait_for_count("started_", 2));
    std::vector<future<void>> queued;
    for (int i = 0; i < 5; ++i) queued.push_back(pool.submit(tasks::record, scratch.dir(), i));
    const auto t0 = steady::now();
    apply(pool);
    for (auto& f : queued) {
      if (!f.cancelled()) {
        const bool was_done = f.done();
        f.wait_for(10s);
        ADD_FAILURE() << "a queued call was not cancelled by " << method_name() << "(): it was "
                      << (was_done ? "done" : "still pending")
                      << " when the call returned; it then " << outcome(f);
      }
    }
    for (auto& f : running) {
      const std::string what = broken_what(f);
      EXPECT_TRUE(contains(what, signal_name())) << what;
    }
    EXPECT_LT(elapsed_since(t0), 5s);
    // The pool is broken now (and shut down).
    EXPECT_THROW((void)pool.submit(mul, 1, 2), cfutures::broken_process_pool);
    g.open();
  }
  EXPECT_EQ(scratch.count("finished_"), 0u);
  EXPECT_EQ(scratch.count("ran_"), 0u);
}

// Idle workers: terminated as well; no hang; submit refused.
TEST_P(ProcessPoolForceTest, IdleWorkers) {
  nothing_left_behind leaks;
  const auto t0 = steady::now();
  {
    process_pool_executor pool(options(2));
    EXPECT_EQ(pool.submit(mul, 2, 3).result(10s), 6);
    apply(pool);
    EXPECT_THROW((void)pool.submit(mul, 1, 2), cfutures::error);
  }
  EXPECT_LT(elapsed_since(t0), 5s);
}

// test_force_shutdown_workers_not_started_yet: nothing to signal; a plain shutdown.
TEST_P(ProcessPoolForceTest, NoWorkerStartedYet) {
  nothing_left_behind leaks;
  process_pool_executor pool(options(2));
  apply(pool);
  apply(pool);
  EXPECT_THROW((void)pool.submit(mul, 1, 2), cfutures::shutdown_error);
}

// test_force_shutdown_workers_dead_workers: on a pool already broken it neither throws nor
// hangs.
TEST_P(ProcessPoolForceTest, PoolAlreadyBroken) {
  nothing_left_behind leaks;
  process_pool_executor pool(options(1));
  auto f = pool.submit(exit_with, 1);
  EXPECT_TRUE(contains(broken_what(f), "exited with code 1"));
  const auto t0 = steady::now();
  apply(pool);
  EXPECT_LT(elapsed_since(t0), 5s);
  EXPECT_THROW((void)pool.submit(mul, 1, 2), cfutures::broken_process_pool);
}

TEST_P(ProcessPoolShutdownTest, ShutdownCancelFuturesWithoutWaiting) {
  nothing_left_behind leaks;
  scratch_dir scratch;
  {
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
    const auto t0 = steady::now();
    pool.shutdown({.wait = false, .cancel_futures = true});
    // Waiting, it would wait for the blockers, which wait 30 s for their gate.
    EXPECT_LT(elapsed_since(t0), 10s) << "shutdown(wait = false) waited";
    for (auto& f : queued) EXPECT_TRUE(f.cancelled());
    for (auto& b : blockers) EXPECT_FALSE(b.done());
    EXPECT_THROW((void)pool.submit(mul, 1, 2), cfutures::shutdown_error);
    g.open();
    for (auto& b : blockers) EXPECT_EQ(b.result(10s), 0);
  }
  EXPECT_EQ(scratch.count("ran_"), 0u);
}

// shutdown(wait) returns once the running calls are done and every worker is reaped.
TEST_P(ProcessPoolShutdownTest, ShutdownCancelFuturesAndWait) {
  nothing_left_behind leaks;
  scratch_dir scratch;
  process_pool_executor pool(options(2));
  std::vector<future<int>> running;
  for (int i = 0; i < 2; ++i) {
    running.push_back(pool.submit(tasks::record_and_sleep, scratch.dir(), i, 300));
  }
  ASSERT_TRUE(scratch.wait_for_count("ran_", 2));
  std::vector<future<int>> queued;
  for (int i = 2; i < 12; ++i) {
    queued.push_back(pool.submit(tasks::record_and_sleep, scratch.dir(), i, 300));
  }
  pool.shutdown({.wait = true, .cancel_futures = true});
  for (auto& f : running) {
    ASSERT_TRUE(f.done());
    EXPECT_GE(f.result(0s), 0);
  }
  for (auto& f : queued) EXPECT_TRUE(f.cancelled());
  EXPECT_EQ(scratch.count("ran_"), 2u);
  EXPECT_TRUE(no_child_process()) << "right after shutdown(wait = true)";
}

// shutdown(wait) from one thread while another thread, waiting for the last call, reads its
// reply itself (the manager sleeps meanwhile): the manager must still learn that nothing is
// in flight any more, and exit. It slept on for ever before (found by the stress suite, and
// by the chaos test with the roles swapped: shutdown(wait) from the test's thread while
// another thread polls for the last call's result).
TEST_P(ProcessPoolShutdownTest, ShutdownWaitEndsWhenAWaiterReceivesTheLastReply) {
  nothing_left_behind leaks;
  for (int round = 0; round < 10; ++round) {
    scratch_dir scratch;
    gate g(scratch, "gate");
    process_pool_executor pool(options(1));
    auto call = pool.submit(tasks::signal_and_wait, scratch.path("started"), g.path());
    ASSERT_TRUE(scratch.wait_for_count("started", 1));
    std::atomic<bool> shut{false};
    std::thread closer([&] {
      pool.shutdown({.wait = true});
      shut = true;
    });
    std::this_thread::sleep_for(20ms);  // the manager has seen the shutdown and sleeps again
    g.open();
    // Short waits, back to back: this thread receives the reply itself, most of the time.
    while (!call.wait_for(50us)) continue;
    const auto t0 = steady::now();
    while (!shut && elapsed_since(t0) < 5s) std::this_thread::sleep_for(1ms);
    const bool ended = shut;
    if (!ended) pool.shutdown({.wait = false});  // a second wake-up frees the manager
    closer.join();
    ASSERT_TRUE(ended) << "round " << round << ": shutdown(wait) still waiting after 5 s";
    EXPECT_EQ(call.result(0s), 0);
  }
  // The roles swapped: this thread shuts down while another one polls for the last reply.
  for (int round = 0; round < 20; ++round) {
    process_pool_executor pool(options(1));
    auto f = pool.submit(tasks::sleep_ms, 5);
    std::thread poller([&] {
      while (!f.wait_for(0ms)) {
      }
    });
    pool.shutdown({.wait = true});
    poller.join();
    EXPECT_EQ(f.result(), 5) << "round " << round;
  }
}

// Destroying the pool with calls still queued runs them all first (the `with` block).
TEST_P(ProcessPoolShutdownTest, DestructionWithPendingWork) {
  nothing_left_behind leaks;
  std::vector<future<int>> fs;
  {
    process_pool_executor pool(options(2));
    for (int i = 0; i < 12; ++i) fs.push_back(pool.submit(tasks::sleep_ms, 20 + i));
  }
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(fs[static_cast<std::size_t>(i)].done());
    EXPECT_EQ(fs[static_cast<std::size_t>(i)].result(0s), 20 + i);
  }
}

TEST_P(ProcessPoolShutdownTest, DestructionAfterShutdownWithoutWaiting) {
  nothing_left_behind leaks;
  std::vector<future<int>> fs;
  {
    process_pool_executor pool(options(2));
    for (int i = 0; i < 8; ++i) fs.push_back(pool.submit(tasks::sleep_ms, 30));
    pool.shutdown({.wait = false});
  }
  for (auto& f : fs) EXPECT_EQ(f.result(0s), 30);
}

}  // namespace
}  // namespace conformance
