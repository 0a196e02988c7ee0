// A worker that dies breaks the pool: CPython's test_deadlock.py (ExecutorDeadlockTest) and
// test_process_pool.py's test_killed_child / test_broken_process_pool_traceback, for both
// start methods. A worker that dies (SIGKILL from itself or from outside, SIGSEGV, abort(),
// _exit) fails the running and the pending futures with broken_process_pool naming the
// process and how it ended, and later submits throw it; no deadlock with big data in flight,
// after shutdown, or while a shared payload is held; errors of (de)serialization fail the
// call, not the pool.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <tuple>
#include <vector>

#include "process_pool_support.hpp"

namespace conformance {
namespace {

class ProcessPoolDeadlockTest : public process_pool_test_base {};
CFUTURES_START_METHODS(ProcessPoolDeadlockTest);

// CPython's _crash_with_data: dies with a big argument in flight.
int crash_with_data(std::string data) {
  if (!data.empty()) ::kill(::getpid(), SIGKILL);
  return 0;
}

// A value whose serialization can fail on either side (CPython's ErrorAtPickle and
// ErrorAtUnpickle): saving a negative value throws (in the sending process); loading a
// value of 1000 or more throws (in the receiving process).
struct fragile {
  int value = 0;
  template <class Archive>
  void save(Archive& ar) const {
    if (value < 0) throw std::runtime_error("cannot save a negative fragile");
    ar(value);
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(value);
    if (value >= 1000) throw std::range_error("cannot load a big fragile");
  }
};
int read_fragile(fragile f) { return f.value; }
fragile make_fragile(int v) { return fragile{v}; }

struct dies_while_saving {
  std::string bytes;
  template <class Archive>
  void save(Archive& ar) const {
    ar(bytes);
    ::kill(::getpid(), SIGKILL);
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(bytes);
  }
};
dies_while_saving die_with_big_result(std::size_t n) { return {std::string(n, 'd')}; }

struct death_case {
  const char* name;
  death how;
  const char* expect;  // in the message, after "worker process <pid> "
};

const death_case death_cases[] = {
    {"SigkillFromTheTask", death::sigkill_self, "SIGKILL"},
    {"SigsegvFromTheTask", death::sigsegv_self, "SIGSEGV"},
    {"Abort", death::abort, "SIGABRT"},
    {"Exit3", death::exit_3, "exited with code 3"},
    {"SigkillFromOutside", death::killed_from_outside, "SIGKILL"},
    {"SigtermFromOutside", death::terminated_from_outside, "SIGTERM"},
};

void PrintTo(const death_case& c, std::ostream* os) { *os << c.name; }

class ProcessPoolWorkerDiesTest
    : public ::testing::TestWithParam<std::tuple<start_method, death_case>> {};

INSTANTIATE_TEST_SUITE_P(StartMethods, ProcessPoolWorkerDiesTest,
                         ::testing::Combine(::testing::Values(CFUTURES_TESTED_START_METHODS),
                                            ::testing::ValuesIn(death_cases)),
                         [](const auto& info) {
                           return method_name(std::get<0>(info.param)) + "_" +
                                  std::get<1>(info.param).name;
                         });

// CPython's test_killed_child, test_broken_process_pool_traceback,
// test_traceback_when_child_process_terminates_abruptly and test_deadlock's
// test_crash_during_func_exec_on_worker / test_exit_during_func_exec_on_worker (a C++
// _exit() is abrupt, unlike Python's sys.exit).
TEST_P(ProcessPoolWorkerDiesTest, BreaksThePoolForRunningAndPendingCalls) {
  const auto [method, c] = GetParam();
  nothing_left_behind leaks;
  scratch_dir scratch;
  process_pool_executor pool({.max_workers = 2, .method = method});
  gate release(scratch, "release");
  gate go(scratch, "go");

  auto blocker = pool.submit(wait_then_finish, scratch.path("blocker"), release.path(),
                             scratch.path("blocker_finished"));
  ASSERT_TRUE(scratch.wait_for("blocker"));
  auto victim = pool.submit(die_when, scratch.path("pid"), go.path(), static_cast<int>(c.how));
  ASSERT_TRUE(scratch.wait_for("pid"));
  const int pid = read_int_file(scratch.path("pid"));
  ASSERT_GT(pid, 0);
  std::vector<future<int>> pending;
  for (int i = 0; i < 4; ++i) pending.push_back(pool.submit(mul, i, i));
  EXPECT_TRUE(blocker.running());
  EXPECT_TRUE(victim.running());
  for (auto& f : pending) EXPECT_FALSE(f.running()) << "no worker is free to run it";

  const auto t0 = steady::now();
  if (c.how == death::killed_from_outside) {
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
  } else if (c.how == death::terminated_from_outside) {
    ASSERT_EQ(::kill(pid, SIGTERM), 0);
  } else {
    go.open();
  }

  const std::string who = "worker process " + std::to_string(pid) + " ";
  std::vector<future<int>> all{blocker, victim};
  all.insert(all.end(), pending.begin(), pending.end());
  for (auto& f : all) {
    const std::string what = broken_what(f);
    EXPECT_TRUE(contains(what, who)) << what;
    EXPECT_TRUE(contains(what, c.expect)) << what;
  }
  EXPECT_LT(elapsed_since(t0), 5s);

  // Later submits (and maps) throw broken_process_pool, saying why.
  const std::string later = submit_broken_what([&] { (void)pool.submit(mul, 1, 2); });
  EXPECT_TRUE(contains(later, c.expect)) << later;
  const std::vector<int> xs{1, 2, 3};
  EXPECT_THROW((void)pool.map(tasks::abs_int, xs), cfutures::broken_process_pool);
  EXPECT_THROW((void)pool.submit(mul, 1, 2), cfutures::broken_executor);
  // The other worker was terminated: the blocker never gets past its gate.
  release.open();
  pool.shutdown({.wait = true});
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(scratch.exists("blocker_finished"));
}

// Python's test_crash_big_data (gh-94777): a worker dies while big arguments are in flight;
// no deadlock, broken_process_pool from the map.
TEST_P(ProcessPoolDeadlockTest, CrashWithBigDataInFlight) {
  nothing_left_behind leaks;
  const std::string data(1 << 20, 'a');
  const std::vector<std::string> args(10, data);
  const auto t0 = steady::now();
  {
    process_pool_executor pool(options(2));
    EXPECT_THROW((void)pool.map(crash_with_data, args).to_vector(), cfutures::broken_process_pool);
  }
  EXPECT_LT(elapsed_since(t0), 8s);
}

// Python's test_shutdown_deadlock: a worker crashes after shutdown() was called.
TEST_P(ProcessPoolDeadlockTest, CrashAfterShutdownDoesNotDeadlock) {
  nothing_left_behind leaks;
  scratch_dir scratch;
  gate go(scratch, "go");
  process_pool_executor pool(options(2));
  auto f =
      pool.submit(die_when, scratch.path("pid"), go.path(), static_cast<int>(death::sigkill_self));
  ASSERT_TRUE(scratch.wait_for("pid"));
  std::thread opener([&] {
    std::this_thread::sleep_for(100ms);
    go.open();
  });
  const auto t0 = steady::now();
  pool.shutdown({.wait = true});
  opener.join();
  EXPECT_LT(elapsed_since(t0), 5s);
  EXPECT_TRUE(contains(broken_what(f), "SIGKILL"));
}

// test_deadlock's pickling errors: an argument that cannot be saved fails in the submitting
// process; one that cannot be loaded fails the call in the worker; a result that cannot be
// loaded fails the future here. None of them breaks the pool.
TEST_P(ProcessPoolDeadlockTest, SerializationErrorsFailTheCallNotThePool) {
  process_pool_executor pool(options(2));
  // Saving throws: in submit, or as the future's exception.
  try {
    auto f = pool.submit(read_fragile, fragile{-1});
    EXPECT_THROW((void)f.result(10s), std::runtime_error);
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(contains(e.what(), "cannot save")) << e.what();
  }
  // Loading the argument in the worker throws: the call fails with that exception.
  {
    auto f = pool.submit(read_fragile, fragile{1000});
    try {
      (void)f.result(10s);
      ADD_FAILURE() << "did not throw";
    } catch (const cfutures::broken_process_pool& e) {
      ADD_FAILURE() << "the pool broke: " << e.what();
    } catch (const std::exception& e) {
      EXPECT_TRUE(contains(e.what(), "cannot load a big fragile")) << e.what();
    }
  }
  // Loading the result here throws.
  {
    auto f = pool.submit(make_fragile, 2000);
    try {
      (void)f.result(10s);
      ADD_FAILURE() << "did not throw";
    } catch (const cfutures::broken_process_pool& e) {
      ADD_FAILURE() << "the pool broke: " << e.what();
    } catch (const std::exception& e) {
      EXPECT_TRUE(contains(e.what(), "cannot load a big fragile")) << e.what();
    }
  }
  EXPECT_EQ(pool.submit(read_fragile, fragile{5}).result(10s), 5);
  EXPECT_EQ(pool.submit(make_fragile, 6).result(10s).value, 6);
}

// A worker killed while its big result is in shared memory breaks the pool like any death,
// and leaves no descriptor or mapping behind.
TEST_P(ProcessPoolDeadlockTest, WorkerKilledHoldingASharedPayloadBreaksThePoolCleanly) {
  nothing_left_behind leaks;
  process_pool_executor pool(options(2));
  auto f = pool.submit(die_with_big_result, std::size_t{8} << 20);
  try {
    (void)f.result(30s);
    ADD_FAILURE() << "expected broken_process_pool";
  } catch (const cfutures::broken_process_pool& e) {
    EXPECT_NE(std::string(e.what()).find("was killed by signal 9 (SIGKILL)"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW((void)pool.submit(echo, std::string(1 << 20, 'x')), cfutures::broken_process_pool);
}

}  // namespace
}  // namespace conformance
