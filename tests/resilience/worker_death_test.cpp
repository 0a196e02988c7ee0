// worker_death::fail_call and max_retries: a worker's death costs the call it was running,
// never the pool (process_pool_executor.hpp, "Resilience").
#include "resilience_support.hpp"

namespace resilience {
namespace {

class WorkerDeath : public resilience_test {};

// A call that faults (a real SIGSEGV, through the worker's crash handler).
[[gnu::noinline]] int fault_in_decoder(int x) {
  conformance::no_core_dump();
  volatile int* volatile bad = nullptr;
  *bad = x;
  return x;
}

TEST_P(WorkerDeath, OnlyTheCrashingCallFailsAndThePoolGoesOn) {
  nothing_left_behind clean;
  process_pool_executor pool(fail_call(2));
  std::vector<future<int>> fs;
  for (int i = 0; i < 10; ++i) fs.push_back(pool.submit(&twice_or_die, i, i == 4 ? segv : none));
  for (int i = 0; i < 10; ++i) {
    if (i == 4) continue;
    EXPECT_EQ(fs[i].result(60s), 2 * i) << "call " << i << " " << outcome(fs[i]);
  }
  const auto e = failure_of<cfutures::worker_died_error>(fs[4]);
  EXPECT_EQ(e.term_signal(), SIGSEGV);
  EXPECT_EQ(e.exit_code(), -1);
  EXPECT_EQ(e.attempts(), 1u);
  EXPECT_GT(e.pid(), 0);
  EXPECT_TRUE(contains(e.what(), "SIGSEGV")) << e.what();
  EXPECT_TRUE(contains(e.what(), std::to_string(e.pid()))) << e.what();
  // The pool is still usable: a replacement worker takes new calls.
  EXPECT_EQ(pool.submit(&twice_or_die, 21, none).result(60s), 42);
}

TEST_P(WorkerDeath, TellsHowTheWorkerEnded) {
  nothing_left_behind clean;
  process_pool_executor pool(fail_call(1));
  auto aborted = pool.submit(&twice_or_die, 1, abrt);
  auto exited = pool.submit(&twice_or_die, 2, exit_7);
  auto killed = pool.submit(&twice_or_die, 3, sigkill);
  const auto a = failure_of<cfutures::worker_died_error>(aborted);
  EXPECT_EQ(a.term_signal(), SIGABRT);
  EXPECT_TRUE(contains(a.what(), "SIGABRT")) << a.what();
  const auto x = failure_of<cfutures::worker_died_error>(exited);
  EXPECT_EQ(x.term_signal(), 0);
  EXPECT_EQ(x.exit_code(), 7);
  EXPECT_TRUE(contains(x.what(), "exited with code 7")) << x.what();
  const auto k = failure_of<cfutures::worker_died_error>(killed);
  EXPECT_EQ(k.term_signal(), SIGKILL);
  EXPECT_NE(a.pid(), x.pid());
  EXPECT_EQ(pool.submit(&twice_or_die, 4, none).result(60s), 8);
}

TEST_P(WorkerDeath, CallsHeldBehindTheCrashRunElsewhere) {
  nothing_left_behind clean;
  process_pool_executor pool(fail_call(1));
  // One worker: the calls queued behind the crash are handed to it in batches; whatever it
  // held when it died goes back to the queue and runs on its replacement.
  std::vector<future<int>> fs;
  for (int i = 0; i < 40; ++i) fs.push_back(pool.submit(&twice_or_die, i, i == 10 ? segv : none));
  for (int i = 0; i < 40; ++i) {
    if (i == 10) {
      EXPECT_EQ(failure_of<cfutures::worker_died_error>(fs[i]).attempts(), 1u);
    } else {
      EXPECT_EQ(fs[i].result(60s), 2 * i) << "call " << i << " " << outcome(fs[i]);
    }
  }
}

TEST_P(WorkerDeath, RetriesRunTheCallAgain) {
  nothing_left_behind clean;
  conformance::scratch_dir dir;
  process_pool_executor pool(fail_call(2, 1));
  EXPECT_EQ(pool.submit(&die_once, dir.path("marker"), 5).result(60s), 5);
}

TEST_P(WorkerDeath, APoisonCallFailsAfterItsRetriesAndOnlyItIsBlamed) {
  nothing_left_behind clean;
  process_pool_executor pool(fail_call(2, 2));
  auto poison = pool.submit(&twice_or_die, 0, sigkill);
  std::vector<future<int>> good;
  for (int i = 1; i <= 20; ++i) good.push_back(pool.submit(&twice_or_die, i, none));
  const auto e = failure_of<cfutures::worker_died_error>(poison);
  EXPECT_EQ(e.attempts(), 3u);
  EXPECT_TRUE(contains(e.what(), "3 times")) << e.what();
  for (int i = 1; i <= 20; ++i) EXPECT_EQ(good[i - 1].result(60s), 2 * i);
}

TEST_P(WorkerDeath, CallOptionsOverrideThePoolsRetries) {
  nothing_left_behind clean;
  conformance::scratch_dir dir;
  process_pool_executor pool(fail_call(1, 0));
  auto once = pool.submit(call_options{.max_retries = 1}, &die_once, dir.path("m"), 9);
  EXPECT_EQ(once.result(60s), 9);
  auto never = pool.submit(call_options{.max_retries = 0}, &twice_or_die, 1, sigkill);
  EXPECT_EQ(failure_of<cfutures::worker_died_error>(never).attempts(), 1u);
}

TEST_P(WorkerDeath, RetriesNeedFailCall) {
  process_pool_options o = options(1);
  o.max_retries = 1;
  EXPECT_THROW(process_pool_executor{o}, std::invalid_argument);
  process_pool_executor pool(options(1));
  EXPECT_THROW((void)pool.submit(call_options{.max_retries = 1}, &twice_or_die, 1, none),
               std::invalid_argument);
  EXPECT_EQ(pool.submit(call_options{.max_retries = 0}, &twice_or_die, 1, none).result(60s), 2);
}

TEST_P(WorkerDeath, BreakPoolStaysTheDefault) {
  nothing_left_behind clean;
  process_pool_executor pool(options(2));
  auto crash = pool.submit(&twice_or_die, 1, segv);
  EXPECT_TRUE(contains(conformance::broken_what(crash), "SIGSEGV"));
  EXPECT_THROW((void)pool.submit(&twice_or_die, 1, none), cfutures::broken_process_pool);
}

TEST_P(WorkerDeath, ShutdownWaitsForCallsBackFromADeadWorker) {
  nothing_left_behind clean;
  conformance::scratch_dir dir;
  std::vector<future<int>> fs;
  {
    process_pool_executor pool(fail_call(1, 1));
    fs.push_back(pool.submit(&die_once, dir.path("m"), 1));
    for (int i = 2; i <= 5; ++i) fs.push_back(pool.submit(&twice_or_die, i, none));
    // Its first run has started (and is killing its worker): it is running, not pending.
    ASSERT_TRUE(conformance::eventually([&] { return conformance::file_exists(dir.path("m")); },
                                        30s));
    pool.shutdown({.wait = true, .cancel_futures = true});
  }
  // The call that was running when its worker died is retried, not cancelled.
  EXPECT_EQ(fs[0].result(0s), 1) << outcome(fs[0]);
  for (auto& f : fs) EXPECT_TRUE(f.done());
}

TEST_P(WorkerDeath, NamesTheFunctionAndTheStackAtTheFault) {
  nothing_left_behind clean;
  process_pool_executor pool(fail_call(1));
  // Kept alive here: the state (and its exception) is then released by this thread.
  const auto f = pool.submit(&fault_in_decoder, 3);
  const auto e = failure_of<cfutures::worker_died_error>(f);
  EXPECT_TRUE(contains(e.what(), "fault_in_decoder")) << e.what();
  if (asan_reports_faults) GTEST_SKIP() << "AddressSanitizer reports the fault itself";
  EXPECT_EQ(e.term_signal(), SIGSEGV) << e.what();
  EXPECT_TRUE(contains(e.backtrace(), "#0 resilience::(anonymous namespace)::fault_in_decoder"))
      << e.backtrace();
  EXPECT_TRUE(contains(e.what(), e.backtrace())) << e.what();
}

TEST_P(WorkerDeath, BrokenPoolMessagesNameTheFunctionToo) {
  nothing_left_behind clean;
  process_pool_executor pool(options(1));
  const auto f = pool.submit(&fault_in_decoder, 3);
  const std::string what = conformance::broken_what(f);
  EXPECT_TRUE(contains(what, "while running resilience::(anonymous namespace)::fault_in_decoder"))
      << what;
  if (asan_reports_faults) GTEST_SKIP() << "AddressSanitizer reports the fault itself";
  EXPECT_TRUE(contains(what, "#0 ")) << what;
}

CFUTURES_START_METHODS(WorkerDeath);

}  // namespace
}  // namespace resilience
