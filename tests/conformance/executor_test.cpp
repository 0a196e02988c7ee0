// CPython's executor.py (ExecutorTest), run against every executor: submit, map (order,
// exceptions, timeout, buffersize), argument validation, and stale references.
#include <gtest/gtest.h>

#include <cfutures/cfutures.hpp>
#include <ranges>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "executor_traits.hpp"
#include "tasks.hpp"
#include "test_support.hpp"

namespace conformance {
namespace {

using cfutures::future;
using cfutures::map_options;

template <class Traits>
class ExecutorTest : public executor_test_base<Traits> {};
TYPED_TEST_SUITE(ExecutorTest, executor_types, executor_names);

std::vector<int> iota_vector(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}

// --- submit ----------------------------------------------------------------------------

TYPED_TEST(ExecutorTest, Submit) {
  auto f = this->executor->submit(tasks::power, 2, 8);
  static_assert(std::is_same_v<decltype(f), future<long long>>);
  EXPECT_EQ(f.result(), 256);
}

TYPED_TEST(ExecutorTest, SubmitVoidAndStringResults) {
  auto v = this->executor->submit(tasks::nothing);
  static_assert(std::is_same_v<decltype(v), future<void>>);
  EXPECT_NO_THROW(v.result());
  auto s = this->executor->submit(tasks::to_str, 123);
  static_assert(std::is_same_v<decltype(s), future<std::string>>);
  EXPECT_EQ(s.result(), "123");
  auto p = this->executor->submit(tasks::divmod, 7, 2);
  EXPECT_EQ(p.result(), (std::pair<int, int>{3, 1}));
}

TYPED_TEST(ExecutorTest, SubmitCaptureLessLambda) {
  auto f = this->executor->submit([](int x) { return x + 1; }, 41);
  EXPECT_EQ(f.result(), 42);
}

// Python's submit(mul, 2, y=8): C++ names arguments with a designated-initializer aggregate.
TYPED_TEST(ExecutorTest, SubmitKeywordEquivalent) {
  auto f = this->executor->submit(tasks::mul_kw, tasks::mul_args{.x = 2, .y = 8});
  EXPECT_EQ(f.result(), 16);
  auto g = this->executor->submit(tasks::mul_kw, tasks::mul_args{.x = 5});
  EXPECT_EQ(g.result(), 5);
}

// Arguments are decay-copied at submit time (like std::thread).
TYPED_TEST(ExecutorTest, SubmitCopiesArgumentsAtSubmitTime) {
  gate g(this->scratch, "gate");
  std::string s = "before";
  auto f = this->executor->submit(tasks::echo_after, g.path(), s);
  s = "after";
  g.open();
  EXPECT_EQ(f.result(), "before");
}

TYPED_TEST(ExecutorTest, SubmitPropagatesTheCallsException) {
  auto f = this->executor->submit(tasks::throw_out_of_range, std::string("boom"));
  try {
    (void)f.result();
    ADD_FAILURE() << "result() did not throw";
  } catch (const std::out_of_range& e) {
    EXPECT_STREQ(e.what(), "boom");
  }
  auto e = f.exception();
  ASSERT_TRUE(e);
  EXPECT_THROW(std::rethrow_exception(e), std::out_of_range);
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.cancelled());
}

// worker_count calls run at the same time (proved without timing: each waits for a gate
// that opens only once all of them have started).
TYPED_TEST(ExecutorTest, CallsRunConcurrently) {
  gate g(this->scratch, "gate");
  auto blockers = this->block_all_workers(g);
  for (auto& b : blockers) {
    EXPECT_TRUE(b.running());
    EXPECT_FALSE(b.done());
  }
  g.open();
  for (auto& b : blockers) EXPECT_EQ(b.result(), 0);
}

TYPED_TEST(ExecutorTest, FutureStatesFollowTheCall) {
  gate g(this->scratch, "gate");
  auto f = this->executor->submit(tasks::signal_and_wait, this->scratch.path("started"), g.path());
  ASSERT_TRUE(this->scratch.wait_for("started"));
  EXPECT_TRUE(f.running());
  EXPECT_FALSE(f.done());
  EXPECT_FALSE(f.cancel()) << "a running call cannot be cancelled";
  EXPECT_FALSE(f.cancelled());
  EXPECT_THROW(f.result(0s), cfutures::timeout_error);
  g.open();
  EXPECT_EQ(f.result(), 0);
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.running());
  EXPECT_FALSE(f.cancel());
}

TYPED_TEST(ExecutorTest, CancelledQueuedCallNeverRuns) {
  gate g(this->scratch, "gate");
  auto blockers = this->block_all_workers(g);
  auto queued = this->executor->submit(tasks::record, this->scratch.dir(), 1);
  EXPECT_FALSE(queued.running());
  EXPECT_TRUE(queued.cancel());
  EXPECT_TRUE(queued.cancelled());
  EXPECT_TRUE(queued.done());
  EXPECT_THROW(queued.result(), cfutures::cancelled_error);
  g.open();
  for (auto& b : blockers) EXPECT_EQ(b.result(), 0);
  this->executor->shutdown();
  EXPECT_EQ(this->scratch.count("ran_"), 0u) << "a cancelled call ran";
}

// --- map -------------------------------------------------------------------------------

TYPED_TEST(ExecutorTest, Map) {
  const auto xs = iota_vector(10);
  std::vector<long long> expected;
  for (int x : xs) expected.push_back(tasks::power(x, x));
  EXPECT_EQ(this->executor->map(tasks::power, xs, xs).to_vector(), expected);
  EXPECT_EQ(this->executor->map(tasks::power, xs, xs, map_options{.chunksize = 3}).to_vector(),
            expected);
  std::vector<long long> by_loop;
  for (long long v : this->executor->map(tasks::power, xs, xs)) by_loop.push_back(v);
  EXPECT_EQ(by_loop, expected);
}

TYPED_TEST(ExecutorTest, MapResultsComeInInputOrder) {
  // Later calls finish first; results still come in input order.
  const std::vector<int> ms{300, 200, 100, 0};
  EXPECT_EQ(this->executor->map(tasks::sleep_ms, ms).to_vector(), ms);
}

TYPED_TEST(ExecutorTest, MapOverSeveralRangesStopsAtTheShortest) {
  const std::vector<int> a{1, 2, 3};
  const std::vector<int> b{10, 20};
  EXPECT_EQ(this->executor->map(tasks::add, a, b).to_vector(), (std::vector<int>{11, 22}));
  EXPECT_EQ(this->executor->map(tasks::add, b, a).to_vector(), (std::vector<int>{11, 22}));
}

TYPED_TEST(ExecutorTest, MapAcceptsViews) {
  auto r = this->executor->map(tasks::to_str, std::views::iota(0, 4));
  EXPECT_EQ(std::move(r).to_vector(), (std::vector<std::string>{"0", "1", "2", "3"}));
}

TYPED_TEST(ExecutorTest, MapOfVoidFunctionYieldsMonostate) {
  const std::vector<std::string> dirs(6, this->scratch.dir());
  const auto is = iota_vector(6);
  auto r = this->executor->map(tasks::record, dirs, is);
  static_assert(std::is_same_v<std::ranges::range_value_t<decltype(r)>, std::monostate>);
  auto out = std::move(r).to_vector();
  EXPECT_EQ(out.size(), 6u);
  EXPECT_EQ(this->scratch.count("ran_"), 6u);
}

TYPED_TEST(ExecutorTest, MapOfEmptyInputYieldsNothing) {
  const std::vector<int> none;
  EXPECT_TRUE(this->executor->map(tasks::abs_int, none).to_vector().empty());
}

// An exception from a call is rethrown when its position is reached, not before.
TYPED_TEST(ExecutorTest, MapException) {
  for (std::size_t chunksize : {std::size_t{1}, std::size_t{3}}) {
    SCOPED_TRACE(chunksize);
    const std::vector<int> a{5, 5, 5, 5};
    const std::vector<int> b{2, 3, 0, 5};
    auto r = this->executor->map(tasks::divmod, a, b, map_options{.chunksize = chunksize});
    auto s = step(r);
    EXPECT_EQ(s.next(), (std::pair<int, int>{2, 1}));
    EXPECT_EQ(s.next(), (std::pair<int, int>{1, 2}));
    EXPECT_THROW(s.next(), std::domain_error);
  }
}

// Python: map(time.sleep, [0, 0, 6], timeout=5) raises TimeoutError after the first two.
// The third call here blocks on a gate until the test ends (30 s at most): the bound only
// proves that the timeout interrupted the wait for it.
TYPED_TEST(ExecutorTest, MapTimeout) {
  gate g(this->scratch, "gate");
  const std::vector<int> ms{0, 0, -1};
  const std::vector<std::string> gates(3, g.path());
  std::vector<int> results;
  const auto t0 = steady::now();
  EXPECT_THROW(
      {
        for (int v : this->executor->map(tasks::sleep_ms_or_wait, ms, gates,
                                         map_options{.timeout = 500ms})) {
          results.push_back(v);
        }
      },
      cfutures::timeout_error);
  const auto at = elapsed_since(t0);
  EXPECT_GE(at, 450ms);
  EXPECT_LT(at, 10s) << "the timeout did not interrupt the wait for the slow call";
  // gh-110097: a loaded machine may not even start the first calls in time.
  EXPECT_TRUE(results == (std::vector<int>{0, 0}) || results == std::vector<int>{0} ||
              results.empty());
  g.open();
}

// The timeout is measured from the map() call, not from the start of the iteration. The
// second call blocks on a gate until the test ends; measured from the iteration, the last
// step would wait a fresh 2 s for it: the bound only proves that it did not.
TYPED_TEST(ExecutorTest, MapTimeoutIsMeasuredFromTheCall) {
  gate g(this->scratch, "gate");
  const std::vector<int> ms{0, -1};
  const std::vector<std::string> gates(2, g.path());
  auto r = this->executor->map(tasks::sleep_ms_or_wait, ms, gates, map_options{.timeout = 2s});
  std::this_thread::sleep_for(2100ms);
  auto s = step(r);
  EXPECT_EQ(s.next(), 0);
  const auto t0 = steady::now();
  EXPECT_THROW(s.next(), cfutures::timeout_error);
  EXPECT_LT(elapsed_since(t0), 1500ms) << "the deadline had already passed";
  g.open();
}

// CPython's test_executor_map_current_future_cancel: after a map timeout, the calls that
// had not started never run.
TYPED_TEST(ExecutorTest, MapTimeoutCancelsTheCallsNotStarted) {
  gate g(this->scratch, "gate");
  auto blockers = this->block_all_workers(g);
  {
    const std::vector<std::string> dirs(3, this->scratch.dir());
    const auto is = iota_vector(3);
    auto r = this->executor->map(tasks::record, dirs, is, map_options{.timeout = 0ms});
    auto s = step(r);
    EXPECT_THROW(s.next(), cfutures::timeout_error);
  }
  g.open();
  for (auto& b : blockers) EXPECT_EQ(b.result(), 0);
  this->executor->shutdown();
  EXPECT_EQ(this->scratch.count("ran_"), 0u);
}

// bpo-11777: map submits its calls without waiting for the iteration.
TYPED_TEST(ExecutorTest, MapSubmitsWithoutIteration) {
  const std::vector<std::string> dirs(10, this->scratch.dir());
  const auto is = iota_vector(10);
  auto r = this->executor->map(tasks::record, dirs, is);
  this->executor->shutdown({.wait = true});
  EXPECT_EQ(this->scratch.count("ran_"), 10u);
}

TYPED_TEST(ExecutorTest, DestroyingTheMapRangeCancelsTheCallsNotStarted) {
  for (bool buffered : {false, true}) {
    SCOPED_TRACE(buffered);
    gate g(this->scratch, buffered ? "gate_b" : "gate_u");
    auto blockers = this->block_all_workers(g, buffered ? "blocker_b" : "blocker_u");
    {
      const std::vector<std::string> dirs(10, this->scratch.dir());
      const auto is = iota_vector(10);
      map_options options;
      if (buffered) options.buffersize = 4;
      auto r = this->executor->map(tasks::record, dirs, is, options);
    }  // destroyed before any call could start
    g.open();
    for (auto& b : blockers) EXPECT_EQ(b.result(), 0);
  }
  this->executor->shutdown();
  EXPECT_EQ(this->scratch.count("ran_"), 0u);
}

// --- map buffersize (Python 3.14) --------------------------------------------------------

TYPED_TEST(ExecutorTest, MapBuffersize) {
  const auto ints = iota_vector(4);
  for (std::size_t buffersize : {1u, 2u, 4u, 8u}) {
    SCOPED_TRACE(buffersize);
    auto r = this->executor->map(tasks::to_str, ints, map_options{.buffersize = buffersize});
    EXPECT_EQ(std::move(r).to_vector(), (std::vector<std::string>{"0", "1", "2", "3"}));
  }
}

TYPED_TEST(ExecutorTest, MapBuffersizeOnSeveralRanges) {
  const auto ints = iota_vector(4);
  for (std::size_t buffersize : {1u, 2u, 4u, 8u}) {
    SCOPED_TRACE(buffersize);
    auto r = this->executor->map(tasks::add, ints, ints, map_options{.buffersize = buffersize});
    EXPECT_EQ(std::move(r).to_vector(), (std::vector<int>{0, 2, 4, 6}));
  }
}

TYPED_TEST(ExecutorTest, MapBuffersizeOnAnInfiniteRange) {
  auto r = this->executor->map(tasks::to_str, std::views::iota(0), map_options{.buffersize = 2});
  auto s = step(r);
  EXPECT_EQ(s.next(), "0");
  EXPECT_EQ(s.next(), "1");
  EXPECT_EQ(s.next(), "2");
}

TYPED_TEST(ExecutorTest, MapBuffersizeOnSeveralInfiniteRanges) {
  auto r = this->executor->map(tasks::add, std::views::iota(0), std::views::iota(0),
                               map_options{.buffersize = 2});
  auto s = step(r);
  EXPECT_EQ(s.next(), 0);
  EXPECT_EQ(s.next(), 2);
  EXPECT_EQ(s.next(), 4);
}

TYPED_TEST(ExecutorTest, MapBuffersizeOnEmptyRange) {
  const std::vector<int> none;
  auto r = this->executor->map(tasks::to_str, none, map_options{.buffersize = 2});
  auto s = step(r);
  EXPECT_FALSE(s.next().has_value());
}

// With nothing consumed, only `buffersize` calls are ever submitted.
TYPED_TEST(ExecutorTest, MapBuffersizeBoundsTheCallsAhead) {
  const std::vector<std::string> dirs(100, this->scratch.dir());
  const auto is = iota_vector(100);
  auto r = this->executor->map(tasks::record, dirs, is, map_options{.buffersize = 2});
  this->executor->shutdown({.wait = true});  // wait for the submitted calls to complete
  EXPECT_EQ(this->scratch.count("ran_"), 2u);
}

// Each consumed result lets one more call in: after k results, at most k + buffersize ran.
TYPED_TEST(ExecutorTest, MapBuffersizeRefillsAsResultsAreConsumed) {
  const std::vector<std::string> dirs(100, this->scratch.dir());
  const auto is = iota_vector(100);
  auto r = this->executor->map(tasks::record, dirs, is, map_options{.buffersize = 2});
  auto s = step(r);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(s.next().has_value());
  const std::size_t ran_now = this->scratch.count("ran_");
  EXPECT_GE(ran_now, 3u);
  EXPECT_LE(ran_now, 5u);
  this->executor->shutdown({.wait = true});
  const std::size_t ran = this->scratch.count("ran_");
  EXPECT_GE(ran, 3u);
  EXPECT_LE(ran, 5u);
}

// --- argument validation, shutdown --------------------------------------------------------

TYPED_TEST(ExecutorTest, MaxWorkersZeroThrowsInvalidArgument) {
  if constexpr (requires { TypeParam::worker_count; }) {
    GTEST_SKIP() << "the executor's size is fixed elsewhere (an MPI communicator)";
  }
  EXPECT_THROW((void)TypeParam::make(0), std::invalid_argument);
}

TYPED_TEST(ExecutorTest, MapChunksizeOrBuffersizeZeroThrowsInvalidArgument) {
  const std::vector<int> xs{1, 2, 3};
  EXPECT_THROW((void)this->executor->map(tasks::abs_int, xs, map_options{.chunksize = 0}),
               std::invalid_argument);
  EXPECT_THROW((void)this->executor->map(tasks::abs_int, xs, map_options{.buffersize = 0}),
               std::invalid_argument);
}

// bpo-12456: shutdown while map's calls are still queued must not hang.
TYPED_TEST(ExecutorTest, ShutdownRaceIssue12456) {
  const std::vector<int> xs(this->worker_count + 1, 2);
  auto r = this->executor->map(tasks::to_str, xs);
  const auto t0 = steady::now();
  this->executor->shutdown();
  EXPECT_LT(elapsed_since(t0), 10s);
  EXPECT_EQ(std::move(r).to_vector(), std::vector<std::string>(xs.size(), "2"));
}

// bpo-16284: the executor does not hold on to a call (and its arguments) once it is done,
// even when the future is discarded.
TYPED_TEST(ExecutorTest, NoStaleReferences) {
  const int live0 = tracked::live();
  (void)this->executor->submit(tasks::read_tracked, tracked(7));
  EXPECT_TRUE(eventually([&] { return tracked::live() == live0; }, 10s))
      << tracked::live() - live0 << " argument copies still alive";
  // And with the future kept: once it is done, only the result remains.
  auto f = this->executor->submit(tasks::read_tracked, tracked(8));
  EXPECT_EQ(f.result(), 8);
  EXPECT_TRUE(eventually([&] { return tracked::live() == live0; }, 10s))
      << tracked::live() - live0 << " argument copies still alive";
}

// bpo-14406: map's range keeps no result it has already yielded.
TYPED_TEST(ExecutorTest, MapKeepsNoReferenceToYieldedResults) {
  const int live0 = tracked::live();
  const auto is = iota_vector(10);
  {
    auto r = this->executor->map(tasks::make_tracked, is);
    auto s = step(r);
    for (int i = 0; i < 10; ++i) {
      auto obj = s.next();
      ASSERT_TRUE(obj.has_value());
      EXPECT_EQ(obj->value, i);
      // Alive: obj, possibly a copy the iterator holds for its current position, and the
      // 9 - i results not yet consumed. Never the ones already consumed.
      // (eventually: a worker may drop its own reference to a state a moment late)
      const int bound = 1 + 1 + (9 - i);
      EXPECT_TRUE(eventually([&] { return tracked::live() - live0 <= bound; }, 5s))
          << "at result " << i << ": " << tracked::live() - live0
          << " alive, expected <= " << bound;
    }
    EXPECT_FALSE(s.next().has_value());
  }
  EXPECT_TRUE(eventually([&] { return tracked::live() == live0; }, 5s))
      << tracked::live() - live0 << " results still alive after the range is gone";
}

}  // namespace
}  // namespace conformance
