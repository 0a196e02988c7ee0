// map's chunksize and batches of calls: CPython's test_process_pool.py test_map_chunksize
// and Python's _process_chunk semantics, for both start methods. A chunk runs in one worker
// and stops at its first exception; buffersize bounds the calls ahead with chunks; cancelled
// calls of a queued chunk never run; results are not held behind a slow call of their batch.
#include <gtest/gtest.h>

#include <ranges>
#include <tuple>
#include <vector>

#include "process_pool_support.hpp"

namespace conformance {
namespace {

class ProcessPoolChunksTest : public process_pool_test_base {};
CFUTURES_START_METHODS(ProcessPoolChunksTest);

int fail_at(int x, int bad) {
  if (x == bad) throw std::out_of_range("bad " + std::to_string(x));
  return x * 2;
}

// Replies of a batch leave together only behind calls known to be quick: a finished call's
// result is sent before a slow call of the same batch runs. (The worker is kept busy until
// every call is queued, so that they go to it as one batch; the slow call waits for a gate
// that opens only once the quick results are in.)
TEST_P(ProcessPoolChunksTest, ResultsAreNotHeldBehindASlowCallOfTheirBatch) {
  scratch_dir scratch;
  process_pool_executor pool(options(1));
  EXPECT_EQ(pool.submit(tasks::add, 1, 2).result(10s), 3);
  gate busy(scratch, "busy");
  gate slow_gate(scratch, "slow");
  auto blocker = pool.submit(tasks::signal_and_wait, scratch.path("blocker"), busy.path());
  ASSERT_TRUE(scratch.wait_for("blocker"));
  std::vector<cfutures::future<int>> quick;
  for (int i = 0; i < 8; ++i) quick.push_back(pool.submit(tasks::add, i, i));
  auto slow = pool.submit(tasks::wait_for_file, slow_gate.path());
  std::vector<cfutures::future<int>> after;
  for (int i = 0; i < 100; ++i) after.push_back(pool.submit(tasks::add, i, i));
  busy.open();
  for (auto& f : quick) EXPECT_TRUE(f.wait_for(20s)) << "a result waited for the slow call";
  EXPECT_FALSE(slow.done());
  slow_gate.open();
  EXPECT_EQ(slow.result(30s), 0);
  for (std::size_t i = 0; i < after.size(); ++i)
    EXPECT_EQ(after[i].result(30s), 2 * static_cast<int>(i));
}

// --- map's chunksize ---------------------------------------------------------------------

// CPython's test_map_chunksize.
TEST_P(ProcessPoolChunksTest, MapChunksize) {
  process_pool_executor pool(options(3));
  std::vector<int> xs(40);
  for (int i = 0; i < 40; ++i) xs[static_cast<std::size_t>(i)] = i % 9;
  std::vector<long long> expected;
  for (int x : xs) expected.push_back(tasks::power(x, x));
  for (std::size_t chunksize : {1u, 6u, 40u, 50u}) {
    SCOPED_TRACE(chunksize);
    EXPECT_EQ(pool.map(tasks::power, xs, xs, map_options{.chunksize = chunksize}).to_vector(),
              expected);
  }
  EXPECT_THROW((void)pool.map(tasks::power, xs, xs, map_options{.chunksize = 0}),
               std::invalid_argument);
}

// A chunk travels as one message: its calls run in one process, one after another.
TEST_P(ProcessPoolChunksTest, MapChunkRunsInOneWorker) {
  process_pool_executor pool(options(2));
  const auto pids =
      pool.map(pid_of_call, std::views::iota(0, 20), map_options{.chunksize = 10}).to_vector();
  ASSERT_EQ(pids.size(), 20u);
  for (std::size_t i = 0; i < 20; ++i) EXPECT_EQ(pids[i], pids[i / 10 * 10]) << i;
}

// An exception in the middle of a chunk fails only its own position.
TEST_P(ProcessPoolChunksTest, ExceptionInTheMiddleOfAChunkFailsOnlyItsPosition) {
  process_pool_executor pool(options(2));
  std::vector<std::tuple<int, int>> calls;
  for (int i = 0; i < 10; ++i) calls.emplace_back(10 * i + 1, i == 5 ? 0 : 3);
  auto fs = pool.submit_chunked(&tasks::divmod, calls, 4);
  ASSERT_EQ(fs.size(), 10u);
  for (int i = 0; i < 10; ++i) {
    SCOPED_TRACE(i);
    const auto& f = fs[static_cast<std::size_t>(i)];
    if (i == 5) {
      EXPECT_THROW((void)f.result(10s), std::domain_error);
    } else {
      EXPECT_EQ(f.result(10s), tasks::divmod(10 * i + 1, 3));
    }
  }
  // Through map: the positions before come out, the failing one throws there.
  std::vector<int> a, b;
  for (auto [x, y] : calls) a.push_back(x), b.push_back(y);
  auto r = pool.map(tasks::divmod, a, b, map_options{.chunksize = 4});
  auto s = step(r);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(s.next(), tasks::divmod(10 * i + 1, 3));
  EXPECT_THROW(s.next(), std::domain_error);
}

// map's chunks are one call each (Python's _process_chunk): a chunk stops at its first
// exception, the values before it come out, the exception is raised at its position and the
// range ends; later chunks are cancelled if not yet started.
TEST_P(ProcessPoolChunksTest, MapChunkStopsAtItsFirstException) {
  process_pool_executor pool(options(1));
  std::vector<int> is(10);
  for (int i = 0; i < 10; ++i) is[static_cast<std::size_t>(i)] = i;
  auto r = pool.map(fail_at, is, std::vector<int>(10, 6), map_options{.chunksize = 4});
  auto s = step(r);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(s.next(), 2 * i);
  EXPECT_THROW(s.next(), std::out_of_range);
  EXPECT_TRUE(r.begin() == r.end());
}

// With chunks, buffersize still bounds the calls running ahead: chunks of at most buffersize
// calls, and one more chunk once the consumer has reached the end of one.
TEST_P(ProcessPoolChunksTest, MapBuffersizeBoundsCallsWithChunks) {
  scratch_dir scratch;
  {
    process_pool_executor pool(options(2));
    std::vector<std::string> dirs(40, scratch.dir());
    std::vector<int> is(40);
    for (int i = 0; i < 40; ++i) is[static_cast<std::size_t>(i)] = i;
    auto r = pool.map(tasks::record, dirs, is, map_options{.chunksize = 5, .buffersize = 10});
    // The first two chunks run at once; then nothing more, however long it is given.
    ASSERT_TRUE(scratch.wait_for_count("ran_", 10));
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(scratch.count("ran_"), 10u);
    auto s = step(r);
    for (int i = 0; i < 4; ++i) s.next();
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(scratch.count("ran_"), 10u);
    s.next();  // the last value of the first chunk lets the third one in
    pool.shutdown();
  }
  EXPECT_EQ(scratch.count("ran_"), 15u);
  // A buffersize below the chunksize makes smaller chunks.
  scratch_dir small;
  {
    process_pool_executor pool(options(2));
    std::vector<std::string> dirs(40, small.dir());
    std::vector<int> is(40);
    for (int i = 0; i < 40; ++i) is[static_cast<std::size_t>(i)] = i;
    auto r = pool.map(tasks::record, dirs, is, map_options{.chunksize = 5, .buffersize = 2});
    ASSERT_TRUE(small.wait_for_count("ran_", 2));
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(small.count("ran_"), 2u);
    pool.shutdown();
  }
}

// Cancelled calls of a queued chunk are dropped; the rest of the chunk runs.
TEST_P(ProcessPoolChunksTest, CancelledCallsOfAQueuedChunkNeverRun) {
  scratch_dir scratch;
  process_pool_executor pool(options(1));
  gate g(scratch, "gate");
  auto blocker = pool.submit(tasks::signal_and_wait, scratch.path("blocker"), g.path());
  ASSERT_TRUE(scratch.wait_for("blocker"));
  std::vector<std::tuple<std::string, int>> calls;
  for (int i = 0; i < 6; ++i) calls.emplace_back(scratch.dir(), i);
  auto fs = pool.submit_chunked(&tasks::record, calls, 3);
  EXPECT_TRUE(fs[1].cancel());
  EXPECT_TRUE(fs[4].cancel());
  g.open();
  EXPECT_EQ(blocker.result(10s), 0);
  for (std::size_t i = 0; i < 6; ++i) {
    if (i == 1 || i == 4) {
      EXPECT_TRUE(fs[i].cancelled());
    } else {
      EXPECT_NO_THROW(fs[i].result(10s));
    }
  }
  pool.shutdown();
  EXPECT_EQ(scratch.count("ran_"), 4u);
  EXPECT_FALSE(scratch.exists("ran_1"));
  EXPECT_FALSE(scratch.exists("ran_4"));
}

}  // namespace
}  // namespace conformance
