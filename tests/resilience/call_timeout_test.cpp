// call_timeout, call_options::timeout and future::request_stop on a running process-pool
// call (process_pool_executor.hpp, "Resilience").
#include "resilience_support.hpp"

namespace resilience {
namespace {

class CallTimeout : public resilience_test {};

TEST_P(CallTimeout, AnOverrunningCallFailsAndThePoolGoesOn) {
  nothing_left_behind clean;
  process_pool_options o = options(2);
  o.call_timeout = 300ms;
  process_pool_executor pool(o);
  const auto start = std::chrono::steady_clock::now();
  auto hang = pool.submit(&sleep_for_ms, 60'000);
  auto quick = pool.submit(&sleep_for_ms, 1);
  const auto e = failure_of<cfutures::call_timeout_error>(hang);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
  EXPECT_EQ(e.limit(), 300ms);
  EXPECT_GT(e.pid(), 0);
  EXPECT_TRUE(contains(e.what(), "300 ms")) << e.what();
  EXPECT_TRUE(dynamic_cast<const cfutures::timeout_error*>(&e) != nullptr);
  EXPECT_EQ(quick.result(60s), 1);
  EXPECT_EQ(pool.submit(&sleep_for_ms, 2).result(60s), 2);
}

TEST_P(CallTimeout, TimeQueuedDoesNotCount) {
  nothing_left_behind clean;
  process_pool_executor pool(options(1));
  auto first = pool.submit(&sleep_for_ms, 900);
  // Waits ~900 ms behind `first`, then runs 50 ms: well inside 600 ms of its own.
  auto second = pool.submit(call_options{.timeout = 600ms}, &sleep_for_ms, 50);
  EXPECT_EQ(first.result(60s), 900);
  EXPECT_EQ(second.result(60s), 50) << outcome(second);
}

TEST_P(CallTimeout, CallOptionsOverrideThePoolsTimeout) {
  nothing_left_behind clean;
  process_pool_options o = options(1);
  o.call_timeout = 60s;
  process_pool_executor pool(o);
  auto f = pool.submit(call_options{.timeout = 200ms}, &sleep_for_ms, 60'000);
  EXPECT_EQ(failure_of<cfutures::call_timeout_error>(f).limit(), 200ms);
}

TEST_P(CallTimeout, ACallIgnoringSigtermIsKilled) {
  nothing_left_behind clean;
  process_pool_executor pool(options(1));
  auto f = pool.submit(call_options{.timeout = 200ms}, &ignore_term_and_sleep, 60'000);
  failure_of<cfutures::call_timeout_error>(f);
  EXPECT_EQ(pool.submit(&sleep_for_ms, 3).result(60s), 3);
}

TEST_P(CallTimeout, WorksUnderFailCallToo) {
  nothing_left_behind clean;
  process_pool_options o = fail_call(2, 3);
  o.call_timeout = 200ms;
  process_pool_executor pool(o);
  auto f = pool.submit(&sleep_for_ms, 60'000);
  // A timeout is not a death: it is not retried.
  failure_of<cfutures::call_timeout_error>(f);
  EXPECT_EQ(pool.submit(&sleep_for_ms, 4).result(60s), 4);
}

TEST_P(CallTimeout, ANonPositiveTimeoutIsRejected) {
  process_pool_options o = options(1);
  o.call_timeout = 0ms;
  EXPECT_THROW(process_pool_executor{o}, std::invalid_argument);
  process_pool_executor pool(options(1));
  EXPECT_THROW((void)pool.submit(call_options{.timeout = -1ms}, &sleep_for_ms, 1),
               std::invalid_argument);
}

TEST_P(CallTimeout, RequestStopCancelsARunningCall) {
  nothing_left_behind clean;
  conformance::scratch_dir dir;
  process_pool_executor pool(options(1));
  auto running = pool.submit(&conformance::tasks::signal_and_wait, dir.path("started"),
                             dir.path("never"));
  ASSERT_TRUE(conformance::eventually([&] { return conformance::file_exists(dir.path("started")); }, 30s));
  auto queued = pool.submit(&sleep_for_ms, 5);
  EXPECT_TRUE(running.request_stop());
  EXPECT_TRUE(running.cancelled());
  EXPECT_THROW((void)running.result(60s), cfutures::cancelled_error);
  // The call queued behind it runs on the replacement.
  EXPECT_EQ(queued.result(60s), 5);
  EXPECT_FALSE(queued.request_stop());  // finished
  EXPECT_EQ(pool.submit(&sleep_for_ms, 6).result(60s), 6);
}

TEST_P(CallTimeout, RequestStopOfAPendingCallChangesNothing) {
  nothing_left_behind clean;
  conformance::scratch_dir dir;
  conformance::gate go(dir, "go");
  process_pool_executor pool(options(1));
  auto blocker = pool.submit(&conformance::tasks::signal_and_wait, dir.path("started"),
                             go.path());
  ASSERT_TRUE(conformance::eventually([&] { return conformance::file_exists(dir.path("started")); }, 30s));
  std::vector<future<int>> pending;
  for (int i = 0; i < 3; ++i) pending.push_back(pool.submit(&sleep_for_ms, i));
  EXPECT_FALSE(pending[2].request_stop());
  EXPECT_FALSE(pending[2].cancelled());
  go.open();
  EXPECT_EQ(blocker.result(60s), 0);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(pending[i].result(60s), i);
}

CFUTURES_START_METHODS(CallTimeout);

}  // namespace
}  // namespace resilience
