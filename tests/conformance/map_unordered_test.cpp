// map(..., map_options{.ordered = false}) (mpi4py's unordered, Ray's map_unordered) and the
// size() of map's range, run against every executor: every result once, in completion
// order, with chunks and buffersize; exceptions, timeouts and cancellation as in input order.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfutures/cfutures.hpp>
#include <ranges>
#include <string>
#include <vector>

#include "executor_traits.hpp"
#include "tasks.hpp"
#include "test_support.hpp"

namespace conformance {
namespace {

using cfutures::map_options;

template <class Traits>
class MapUnorderedTest : public executor_test_base<Traits> {};
TYPED_TEST_SUITE(MapUnorderedTest, executor_types, executor_names);

std::vector<int> iota_vector(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}

// The option sets every test runs with: single calls or chunks, all at once or buffered.
std::vector<map_options> unordered_variants() {
  return {map_options{.ordered = false}, map_options{.chunksize = 3, .ordered = false},
          map_options{.buffersize = 4, .ordered = false},
          map_options{.chunksize = 2, .buffersize = 4, .ordered = false}};
}

TYPED_TEST(MapUnorderedTest, YieldsEveryResultOnce) {
  const auto xs = iota_vector(20);
  for (const map_options& options : unordered_variants()) {
    SCOPED_TRACE(testing::Message() << "chunksize " << options.chunksize << " buffersize "
                                    << options.buffersize.value_or(0));
    auto out = this->executor->map(tasks::add, xs, xs, options).to_vector();
    std::sort(out.begin(), out.end());
    std::vector<int> expected;
    for (int x : xs) expected.push_back(2 * x);
    EXPECT_EQ(out, expected);
  }
}

TYPED_TEST(MapUnorderedTest, EmptyInputYieldsNothing) {
  const std::vector<int> none;
  for (const map_options& options : unordered_variants()) {
    EXPECT_TRUE(this->executor->map(tasks::abs_int, none, options).to_vector().empty());
  }
}

// The first call blocks until the gate opens: the others' results come first.
TYPED_TEST(MapUnorderedTest, ResultsComeAsTheCallsComplete) {
  if (this->worker_count < 2) GTEST_SKIP() << "one worker runs the calls in order";
  for (const map_options& options : unordered_variants()) {
    SCOPED_TRACE(testing::Message() << "chunksize " << options.chunksize << " buffersize "
                                    << options.buffersize.value_or(0));
    gate g(this->scratch, "gate_" + std::to_string(options.chunksize) + "_" +
                              std::to_string(options.buffersize.value_or(0)));
    const std::vector<int> ms{-1, 5, 7, 9};
    const std::vector<std::string> gates(ms.size(), g.path());
    auto r = this->executor->map(tasks::sleep_ms_or_wait, ms, gates, options);
    auto s = step(r);
    const auto first = s.next();
    ASSERT_TRUE(first.has_value());
    EXPECT_NE(*first, -1) << "the blocked call came first";
    g.open();
    std::vector<int> all{*first};
    while (auto v = s.next()) all.push_back(*v);
    std::sort(all.begin(), all.end());
    EXPECT_EQ(all, (std::vector<int>{-1, 5, 7, 9}));
  }
}

// A call's exception is rethrown when its turn comes; the range then ends.
TYPED_TEST(MapUnorderedTest, ExceptionIsRethrownAndEndsTheRange) {
  for (const map_options& options : unordered_variants()) {
    const std::vector<int> a{5, 5, 5, 5};
    const std::vector<int> b{1, 5, 0, 1};
    auto r = this->executor->map(tasks::divmod, a, b, options);
    std::size_t values = 0;
    EXPECT_THROW(
        {
          for (const auto& v : r) {
            EXPECT_TRUE(v == (std::pair<int, int>{5, 0}) || v == (std::pair<int, int>{1, 0}));
            ++values;
          }
        },
        std::domain_error);
    EXPECT_LE(values, 3u);
    EXPECT_TRUE(r.begin() == r.end()) << "the range did not end after the exception";
  }
}

// Past the timeout with a call unfinished: timeout_error, after the results that were ready.
TYPED_TEST(MapUnorderedTest, Timeout) {
  if (this->worker_count < 2) GTEST_SKIP() << "one worker runs the calls in order";
  gate g(this->scratch, "gate");
  const std::vector<int> ms{-1, 0, 0};
  const std::vector<std::string> gates(ms.size(), g.path());
  std::vector<int> results;
  const auto t0 = steady::now();
  EXPECT_THROW(
      {
        for (int v : this->executor->map(tasks::sleep_ms_or_wait, ms, gates,
                                         map_options{.timeout = 1s, .ordered = false})) {
          results.push_back(v);
        }
      },
      cfutures::timeout_error);
  EXPECT_GE(elapsed_since(t0), 900ms);
  EXPECT_LT(elapsed_since(t0), 10s);
  EXPECT_LE(results.size(), 2u);
  for (int v : results) EXPECT_EQ(v, 0);
  g.open();
}

// Destroying the range early cancels the calls not yet started, as in input order.
TYPED_TEST(MapUnorderedTest, DestroyingTheRangeCancelsTheCallsNotStarted) {
  gate g(this->scratch, "gate");
  auto blockers = this->block_all_workers(g);
  {
    const std::vector<std::string> dirs(6, this->scratch.dir());
    const auto is = iota_vector(6);
    auto r = this->executor->map(tasks::record, dirs, is, map_options{.ordered = false});
  }
  g.open();
  for (auto& b : blockers) EXPECT_EQ(b.result(), 0);
  this->executor->shutdown();
  EXPECT_EQ(this->scratch.count("ran_"), 0u);
}

// With nothing consumed, only `buffersize` calls are ever submitted, as in input order.
TYPED_TEST(MapUnorderedTest, BuffersizeBoundsTheCallsAhead) {
  const std::vector<std::string> dirs(50, this->scratch.dir());
  const auto is = iota_vector(50);
  auto r = this->executor->map(tasks::record, dirs, is,
                               map_options{.buffersize = 2, .ordered = false});
  this->executor->shutdown({.wait = true});
  EXPECT_EQ(this->scratch.count("ran_"), 2u);
}

// size(): the number of calls when every input range is sized (how progress() knows its
// total), in input or completion order, single calls or chunks.
TYPED_TEST(MapUnorderedTest, SizeOfMapIsTheNumberOfCalls) {
  const auto xs = iota_vector(7);
  const std::vector<int> ys{1, 2, 3};
  for (bool ordered : {true, false}) {
    for (std::size_t chunksize : {std::size_t{1}, std::size_t{3}}) {
      auto one = this->executor->map(tasks::abs_int, xs,
                                     map_options{.chunksize = chunksize, .ordered = ordered});
      static_assert(std::ranges::sized_range<decltype(one)>);
      EXPECT_EQ(one.size(), 7u);
      auto two = this->executor->map(tasks::add, xs, ys,
                                     map_options{.chunksize = chunksize, .ordered = ordered});
      EXPECT_EQ(std::ranges::size(two), 3u);
      EXPECT_EQ(std::move(two).to_vector().size(), 3u);
    }
  }
  auto view = this->executor->map(tasks::abs_int, std::views::iota(0, 4));
  EXPECT_EQ(view.size(), 4u);
  // An unbounded input: no size.
  auto endless = this->executor->map(tasks::abs_int, std::views::iota(0),
                                     map_options{.buffersize = 1, .ordered = false});
  static_assert(!std::ranges::sized_range<decltype(endless)>);
  auto s = step(endless);
  EXPECT_EQ(s.next(), 0);
}

}  // namespace
}  // namespace conformance
