// What only the MPI executor does (the rest is the conformance suite, run against it by this
// same binary): calls run on the other ranks, one per rank at a time; a communicator of one
// rank runs them on the root; exceptions, map's chunks and large values cross ranks; queued
// calls stay cancellable until a rank takes them; no thread outlives the executor.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cfutures/cfutures.hpp>
#include <cfutures/mpi.hpp>
#include <cstddef>
#include <numeric>
#include <utility>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "../conformance/tasks.hpp"
#include "../conformance/test_support.hpp"
#include "rank_harness.hpp"

static_assert(cfutures::executor<cfutures::mpi::comm_executor>);

namespace {

using namespace std::chrono_literals;
using conformance::gate;
using conformance::scratch_dir;
using conformance::tasks::signal_and_wait;
using mpi_test::world_executor;

int world_rank() {
  int rank = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

int rank_after(std::string started, std::string gate_path) {
  conformance::tasks::signal_and_wait(std::move(started), std::move(gate_path));
  return world_rank();
}

// Submits n calls of task(<scratch>/started_<i>, gate): each says it started, then waits for
// the gate.
template <class F>
std::vector<cfutures::future<int>> submit_gated(world_executor& ex, F task,
                                                const scratch_dir& scratch, const gate& g, int n) {
  std::vector<cfutures::future<int>> fs;
  for (int i = 0; i < n; ++i) {
    fs.push_back(ex.submit(task, scratch.path("started_" + std::to_string(i)), g.path()));
  }
  return fs;
}

// Tests whose calls wait for a gate: scratch files, the gate, and an executor over all ranks.
class GatedCalls : public ::testing::Test {
 protected:
  scratch_dir scratch;  // declared first: outlives the executor
  gate g{scratch, "gate"};
  world_executor ex;
  void TearDown() override { g.open(); }  // before the executor waits for the gated calls
};

struct user_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
int throw_user_error(int) { throw user_error("a user's own exception"); }
int fail_at_seven(int x) {
  if (x == 7) throw std::invalid_argument("seven");
  return x * 10;
}
std::string echo(std::string s) { return s; }

TEST(CommExecutor, RootSeesItsWorkers) {
  world_executor ex;
  EXPECT_TRUE(ex.is_root());
  EXPECT_EQ(ex.max_workers(), 2u);
  cfutures::mpi::comm_executor alone(MPI_COMM_SELF);
  EXPECT_TRUE(alone.is_root());
  EXPECT_EQ(alone.max_workers(), 1u);
}

TEST_F(GatedCalls, CallsRunOnTheOtherRanksOnePerRank) {
  auto fs = submit_gated(ex, rank_after, scratch, g, 4);
  ASSERT_TRUE(scratch.wait_for_count("started_", 2));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(scratch.count("started_"), 2u) << "a rank took a second call while busy";
  EXPECT_EQ(std::count_if(fs.begin(), fs.end(), [](auto& f) { return f.running(); }), 2);
  g.open();
  std::set<int> ranks;
  for (auto& f : fs) ranks.insert(f.result(30s));
  EXPECT_EQ(ranks, (std::set<int>{1, 2}));
}

TEST(CommExecutor, OneRankCommunicatorRunsCallsOnTheRoot) {
  cfutures::mpi::comm_executor ex(MPI_COMM_SELF);
  EXPECT_EQ(ex.submit(world_rank).result(10s), 0);
  EXPECT_THROW((void)ex.submit(throw_user_error, 1).result(10s), cfutures::remote_error);
  const std::vector<int> xs{1, 2, 3, 4, 5};
  EXPECT_EQ(ex.map(fail_at_seven, xs, cfutures::map_options{.chunksize = 2}).to_vector(),
            (std::vector<int>{10, 20, 30, 40, 50}));
}

TEST(CommExecutor, ExceptionsComeBackAsForTheProcessPool) {
  world_executor ex;
  EXPECT_THROW((void)ex.submit(fail_at_seven, 7).result(10s), std::invalid_argument);
  try {
    (void)ex.submit(throw_user_error, 1).result(10s);
    ADD_FAILURE() << "no exception";
  } catch (const cfutures::remote_error& e) {
    EXPECT_STREQ(e.what(), "a user's own exception");
    EXPECT_NE(e.type_name().find("user_error"), std::string::npos) << e.type_name();
  }
}

TEST(CommExecutor, MapWithChunksizeKeepsOrderAndStopsAtTheException) {
  world_executor ex;
  std::vector<int> xs(1000);
  for (int i = 0; i < 1000; ++i) xs[static_cast<std::size_t>(i)] = i + 10;
  const auto out = ex.map(fail_at_seven, xs, cfutures::map_options{.chunksize = 100}).to_vector();
  ASSERT_EQ(out.size(), xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) EXPECT_EQ(out[i], xs[i] * 10);

  const std::vector<int> with_seven{1, 2, 3, 7, 8, 9};
  std::vector<int> seen;
  auto r = ex.map(fail_at_seven, with_seven, cfutures::map_options{.chunksize = 4});
  EXPECT_THROW(
      {
        for (int v : r) seen.push_back(v);
      },
      std::invalid_argument);
  EXPECT_EQ(seen, (std::vector<int>{10, 20, 30}));
}

// Values past the process pool's shared-memory threshold travel inside the MPI message.
TEST(CommExecutor, LargeValuesCrossInline) {
  world_executor ex;
  const std::string big(16 << 20, 'x');
  EXPECT_EQ(ex.submit(echo, big).result(60s), big);
  cfutures::mpi::comm_executor alone(MPI_COMM_SELF);
  EXPECT_EQ(alone.submit(echo, big).result(60s), big);
}

std::string patterned_string(std::size_t n, int seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed) % 251);
  return s;
}
std::vector<double> ramp(std::size_t n, double step) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<double>(i) * step;
  return v;
}
std::vector<std::byte> byte_pattern(std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>(i * 7 + 1);
  return v;
}
std::pair<std::string, std::vector<double>> both(std::size_t n) {
  return {patterned_string(n, 1), ramp(n / 8, 0.25)};
}

// A rank sends a large string or vector result from the value itself (a borrowed run,
// payload.hpp), put back in place by the root: every size around the 64 KiB threshold, calls
// out on every rank at once, a result that is not borrowed between them (a pair), and map's
// chunks — so a stream out of step would show as a wrong value or a protocol error.
TEST(CommExecutor, LargeStringAndVectorResultsCrossFromTheValueItself) {
  world_executor ex;
  constexpr std::size_t limit = 64 << 10;
  for (const std::size_t n : {std::size_t{0}, limit - 1, limit, 16 * limit + 3}) {
    std::vector<cfutures::future<std::string>> strings;
    std::vector<cfutures::future<std::vector<double>>> ramps;
    for (int seed = 0; seed < 4; ++seed) {
      strings.push_back(ex.submit(patterned_string, n, seed));
      ramps.push_back(ex.submit(ramp, n / 8 + 1, 0.5 + seed));
    }
    auto bytes = ex.submit(byte_pattern, n);
    auto pair = ex.submit(both, n);
    for (int seed = 0; seed < 4; ++seed) {
      EXPECT_EQ(strings[seed].result(60s), patterned_string(n, seed)) << n;
      EXPECT_EQ(ramps[seed].result(60s), ramp(n / 8 + 1, 0.5 + seed)) << n;
    }
    EXPECT_EQ(bytes.result(60s), byte_pattern(n)) << n;
    EXPECT_EQ(pair.result(60s), both(n)) << n;
  }
  const std::vector<int> seeds{0, 1, 2, 3, 4, 5, 6};
  std::vector<std::string> mapped;
  for (auto s : ex.map([](int seed) { return patterned_string(3 * limit, seed); }, seeds,
                       cfutures::map_options{.chunksize = 2})) {
    mapped.push_back(std::move(s));
  }
  ASSERT_EQ(mapped.size(), seeds.size());
  for (int seed : seeds) EXPECT_EQ(mapped[seed], patterned_string(3 * limit, seed));
}

cfutures::shared_buffer<double> scaled(cfutures::shared_buffer<double> b, double by) {
  cfutures::shared_buffer<double> out(b.size());
  for (std::size_t i = 0; i < b.size(); ++i) out[i] = b[i] * by;
  return out;
}

double buffer_sum(std::vector<cfutures::shared_buffer<double>> bs) {
  double s = 0;
  for (const auto& b : bs) s = std::accumulate(b.begin(), b.end(), s);
  return s;
}

// A shared_buffer's bytes cross as one message each way; the rank gets a buffer of its own
// (not shared with the root), as does the root with the result. On a one-rank communicator
// the handle itself is passed.
TEST(CommExecutor, SharedBuffersCrossAsTheirBytes) {
  world_executor ex;
  auto b = cfutures::shared_buffer<double>::from(std::vector<double>(1 << 20, 1.5));
  const auto out = ex.submit(scaled, b, 2.0).result(60s);
  ASSERT_EQ(out.size(), b.size());
  EXPECT_EQ(out[12345], 3.0);
  EXPECT_NE(out.data(), b.data());
  EXPECT_EQ(ex.submit(buffer_sum, std::vector{b, b, cfutures::shared_buffer<double>()}).result(60s),
            3.0 * (1 << 20));
  cfutures::mpi::comm_executor alone(MPI_COMM_SELF);
  EXPECT_EQ(alone.submit(scaled, b, 3.0).result(60s)[7], 4.5);
}

TEST_F(GatedCalls, QueuedCallsAreCancellableUntilARankTakesThem) {
  auto running = submit_gated(ex, signal_and_wait, scratch, g, 2);
  ASSERT_TRUE(scratch.wait_for_count("started_", 2));
  auto queued = ex.submit(conformance::tasks::record, scratch.dir(), 1);
  auto kept = ex.submit(conformance::tasks::record, scratch.dir(), 2);
  EXPECT_TRUE(running[0].running());
  EXPECT_FALSE(queued.running());
  EXPECT_TRUE(queued.cancel());
  g.open();
  kept.result(30s);
  EXPECT_TRUE(queued.cancelled());
  EXPECT_FALSE(scratch.exists("ran_1"));
  EXPECT_TRUE(scratch.exists("ran_2"));
}

TEST_F(GatedCalls, ShutdownCancelFuturesDropsTheQueue) {
  auto running = submit_gated(ex, signal_and_wait, scratch, g, 2);
  ASSERT_TRUE(scratch.wait_for_count("started_", 2));
  std::vector<cfutures::future<void>> queued;
  for (int i = 0; i < 5; ++i)
    queued.push_back(ex.submit(conformance::tasks::record, scratch.dir(), i));
  ex.shutdown({.wait = false, .cancel_futures = true});
  for (auto& f : queued) EXPECT_TRUE(f.cancelled());
  EXPECT_THROW((void)ex.submit(world_rank), cfutures::shutdown_error);
  g.open();
  for (auto& f : running) EXPECT_EQ(f.result(30s), 0);
  ex.shutdown();
  EXPECT_EQ(scratch.count("ran_"), 0u);
}

TEST(CommExecutor, NoThreadOutlivesTheExecutor) {
  const std::size_t before = conformance::baseline_threads();
  {
    world_executor ex;
    EXPECT_EQ(ex.submit(conformance::tasks::add, 1, 2).result(10s), 3);
    cfutures::mpi::comm_executor alone(MPI_COMM_SELF);
    EXPECT_EQ(alone.submit(conformance::tasks::add, 3, 4).result(10s), 7);
  }
  EXPECT_TRUE(conformance::eventually([&] { return conformance::count_threads() <= before; }))
      << conformance::count_threads() << " threads, " << before << " before";
}

TEST(CommExecutor, InvalidRootThrowsInvalidArgument) {
  EXPECT_THROW(cfutures::mpi::comm_executor(MPI_COMM_SELF, 1), std::invalid_argument);
  EXPECT_THROW(cfutures::mpi::comm_executor(MPI_COMM_SELF, -1), std::invalid_argument);
}

TEST(CommExecutor, DoneCallbacksAndAsCompleted) {
  world_executor ex;
  std::atomic<int> called{0};
  std::vector<cfutures::future<int>> fs;
  for (int i = 0; i < 20; ++i) {
    fs.push_back(ex.submit(conformance::tasks::mul, i, 2));
    fs.back().add_done_callback([&](const cfutures::future<int>&) { ++called; });
  }
  int sum = 0;
  for (const auto& f : cfutures::as_completed(fs, 30s)) sum += f.result();
  EXPECT_EQ(sum, 380);
  EXPECT_TRUE(conformance::eventually([&] { return called.load() == 20; }));
}

}  // namespace
