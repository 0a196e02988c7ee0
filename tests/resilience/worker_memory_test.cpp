// max_worker_memory (soft: a worker above it is replaced after its call), worker_memory_limit
// (hard: the call that passes it fails with std::bad_alloc) and idle_timeout
// (process_pool_executor.hpp, "Resilience").
#include "resilience_support.hpp"

namespace resilience {
namespace {

class WorkerMemory : public resilience_test {};

TEST_P(WorkerMemory, ALeakingWorkerIsReplacedAfterItsCall) {
  nothing_left_behind clean;
  process_pool_options o = options(1);
  // Above what a fresh worker of this build holds (a sanitizer's shadow included), below
  // that plus the leak.
  o.max_worker_memory = process_pool_executor(o).submit(&resident_bytes, 0).result(60s) +
                        (std::size_t{32} << 20);
  process_pool_executor pool(o);
  const int before = pool.submit(&pid_of, 0).result(60s);
  EXPECT_EQ(pool.submit(&pid_of, 0).result(60s), before);  // small: the same worker
  EXPECT_EQ(pool.submit(&allocate_mib, std::size_t{64}, true).result(60s), 64u);
  // No call failed; the next one runs in a fresh worker.
  EXPECT_NE(pool.submit(&pid_of, 0).result(60s), before);
}

TEST_P(WorkerMemory, ACallPastTheHardLimitGetsBadAlloc) {
  if (sanitized) GTEST_SKIP() << "an address-space limit cannot hold a sanitizer's reservations";
  nothing_left_behind clean;
  process_pool_options o = options(1);
  o.worker_memory_limit = std::size_t{256} << 20;
  process_pool_executor pool(o);
  const int pid = pool.submit(&pid_of, 0).result(60s);
  EXPECT_EQ(pool.submit(&allocate_mib, std::size_t{64}, false).result(60s), 64u);
  auto big = pool.submit(&allocate_mib, std::size_t{1024}, false);
  EXPECT_THROW((void)big.result(60s), std::bad_alloc) << outcome(big);
  // The worker, the pool and the next calls go on.
  EXPECT_EQ(pool.submit(&pid_of, 0).result(60s), pid);
  EXPECT_EQ(pool.submit(&allocate_mib, std::size_t{64}, false).result(60s), 64u);
}

TEST_P(WorkerMemory, IdleWorkersExitAndStartAgainOnDemand) {
  nothing_left_behind clean;
  process_pool_options o = options(2);
  o.idle_timeout = 200ms;
  process_pool_executor pool(o);
  const int pid = pool.submit(&pid_of, 0).result(60s);
  ASSERT_TRUE(conformance::eventually([&] { return ::kill(pid, 0) != 0; }, 30s))
      << "the idle worker did not exit";
  EXPECT_TRUE(
      conformance::eventually([&] { return conformance::live_workers(GetParam()) == 0; }, 30s));
  EXPECT_NE(pool.submit(&pid_of, 0).result(60s), pid);
}

TEST_P(WorkerMemory, ABusyWorkerIsNotIdle) {
  nothing_left_behind clean;
  process_pool_options o = options(1);
  o.idle_timeout = 100ms;
  process_pool_executor pool(o);
  EXPECT_EQ(pool.submit(&sleep_for_ms, 500).result(60s), 500);
}

CFUTURES_START_METHODS(WorkerMemory);

}  // namespace
}  // namespace resilience
