// process_pool_executor::stats() (stats.hpp) against the futures' own final states: values,
// exceptions, cancellations, map chunks, worker deaths with and without retries, call
// timeouts and stop requests; for every start method.
#include <stdexcept>

#include "resilience_support.hpp"
#include "stats_support.hpp"

namespace observability {
namespace {

using namespace std::chrono_literals;
using cfutures::future;
using cfutures::process_pool_executor;
using cfutures::process_pool_options;
using resilience::sleep_for_ms;

int ok(int x) { return x; }
int boom(int) { throw std::runtime_error("boom"); }

class ProcessPoolStats : public resilience::resilience_test {};

TEST_P(ProcessPoolStats, CountsValuesExceptionsCancellationsAndWorkers) {
  conformance::nothing_left_behind clean;
  conformance::scratch_dir dir;
  conformance::gate go(dir, "go");
  process_pool_executor pool(options(1));
  std::vector<future<int>> fs;
  fs.push_back(pool.submit(&conformance::tasks::signal_and_wait, dir.path("started"), go.path()));
  ASSERT_TRUE(conformance::eventually(
      [&] { return conformance::file_exists(dir.path("started")); }, 30s));
  for (int i = 0; i < 20; ++i) fs.push_back(pool.submit(i % 4 == 0 ? &boom : &ok, i));
  {
    const auto s = pool.stats();
    EXPECT_EQ(s.submitted, 21u) << s;
    EXPECT_EQ(s.running, 1u) << s;
    EXPECT_EQ(s.queued, 20u) << s;
    EXPECT_EQ(s.workers, 1u) << s;
    EXPECT_EQ(s.workers_started, 1u) << s;
  }
  for (std::size_t i = 1; i < fs.size(); i += 5) EXPECT_TRUE(fs[i].cancel());
  EXPECT_EQ(pool.stats().cancelled, 4u);  // still queued, already counted
  go.open();
  outcomes o;
  for (auto& f : fs) {
    f.wait();
    o.add(f);
  }
  EXPECT_EQ(o.cancelled, 4u);
  expect_quiescent(pool.stats(), o);
  pool.shutdown({.wait = true});
  const auto s = pool.stats();
  EXPECT_EQ(s.workers, 0u) << s;
  EXPECT_EQ(s.workers_died + s.retried + s.timed_out, 0u) << s;
}

TEST_P(ProcessPoolStats, AMapChunkCountsOnce) {
  conformance::nothing_left_behind clean;
  process_pool_executor pool(options(2));
  std::vector<int> xs(100, 1);
  int sum = 0;
  for (int x : pool.map(&ok, xs, cfutures::map_options{.chunksize = 10})) sum += x;
  EXPECT_EQ(sum, 100);
  const auto s = pool.stats();
  EXPECT_EQ(s.submitted, 10u) << s;
  EXPECT_EQ(s.completed, 10u) << s;
}

TEST_P(ProcessPoolStats, DeathsRetriesAndTimeouts) {
  conformance::nothing_left_behind clean;
  conformance::scratch_dir dir;
  process_pool_options o = fail_call(2, 1);
  process_pool_executor pool(o);
  outcomes seen;
  // Dies once, then succeeds on its retry.
  auto retried = pool.submit(&resilience::die_once, dir.path("died"), 5);
  EXPECT_EQ(retried.result(60s), 5);
  seen.add(retried);
  // Dies on every run: fails after its one retry.
  auto dead = pool.submit(&resilience::twice_or_die, 1, resilience::sigkill);
  EXPECT_THROW((void)dead.result(60s), cfutures::worker_died_error);
  seen.add(dead);
  // Overruns its timeout.
  auto late = pool.submit(cfutures::call_options{.timeout = 200ms}, &sleep_for_ms, 60'000);
  EXPECT_THROW((void)late.result(60s), cfutures::call_timeout_error);
  seen.add(late);
  for (int i = 0; i < 5; ++i) {
    auto f = pool.submit(&ok, i);
    f.wait();
    seen.add(f);
  }
  const auto s = pool.stats();
  expect_quiescent(s, seen);
  EXPECT_EQ(s.completed, 6u) << s;
  EXPECT_EQ(s.failed, 2u) << s;
  EXPECT_EQ(s.workers_died, 3u) << s;  // die_once once, twice_or_die twice
  EXPECT_EQ(s.retried, 2u) << s;
  EXPECT_EQ(s.timed_out, 1u) << s;
  EXPECT_GE(s.workers_started, 5u) << s;  // two, then a replacement per ended worker
  pool.shutdown({.wait = true});
  EXPECT_EQ(pool.stats().workers, 0u) << pool.stats();
}

TEST_P(ProcessPoolStats, AStopRequestCountsACancellation) {
  conformance::nothing_left_behind clean;
  process_pool_executor pool(options(1));
  auto running = pool.submit(&sleep_for_ms, 60'000);
  ASSERT_TRUE(conformance::eventually([&] { return running.running(); }, 30s));
  ASSERT_TRUE(conformance::eventually([&] { return running.request_stop(); }, 30s));
  auto after = pool.submit(&ok, 3);
  EXPECT_EQ(after.result(60s), 3);
  outcomes o;
  o.add(running);
  o.add(after);
  EXPECT_EQ(o.cancelled, 1u);
  expect_quiescent(pool.stats(), o);
}

TEST_P(ProcessPoolStats, ABrokenPoolCountsItsFailures) {
  conformance::nothing_left_behind clean;
  process_pool_executor pool(options(1));  // break_pool: a death breaks the pool
  std::vector<future<int>> fs;
  fs.push_back(pool.submit(&resilience::twice_or_die, 1, resilience::sigkill));
  for (int i = 0; i < 5; ++i) fs.push_back(pool.submit(&ok, i));
  outcomes o;
  for (auto& f : fs) {
    f.wait();
    o.add(f);
  }
  const auto s = pool.stats();
  expect_quiescent(s, o);
  EXPECT_GE(s.failed, 1u) << s;
  EXPECT_EQ(s.workers_died, 1u) << s;
}

CFUTURES_START_METHODS(ProcessPoolStats);

}  // namespace
}  // namespace observability
