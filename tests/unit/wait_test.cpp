// <cfutures/wait.hpp>: what C++'s wait and as_completed add to Python's — the element type
// of the result, futures of different result types (any_future), maps keyed by futures,
// invalid futures rejected, and a waiter woken once what it waits for has happened. Their
// Python behaviour (return_when, timeouts, duplicates, completion order, cancelled futures)
// is tested in tests/conformance/wait_test.cpp and as_completed_test.cpp, against every
// executor.
#include "cfutures/wait.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ranges>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cfutures/promise.hpp"

using namespace std::chrono_literals;
using cfutures::any_future;
using cfutures::future;
using cfutures::promise;

namespace {

future<int> finished(int v) {
  promise<int> p;
  p.set_result(v);
  return p.get_future();
}

template <class F>
std::unordered_set<F> as_set(const std::vector<F>& v) {
  return {v.begin(), v.end()};
}

// Times the calling thread gave up its CPU (slept) so far.
long voluntary_switches() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_nvcsw;
}

}  // namespace

TEST(Wait, ResultKeepsTheElementType) {
  std::vector<future<int>> fs;
  using R = decltype(cfutures::wait(fs));
  static_assert(std::is_same_v<R, cfutures::wait_result<future<int>>>);
  std::vector<any_future> as;
  static_assert(
      std::is_same_v<decltype(cfutures::wait(as, 1s)), cfutures::wait_result<any_future>>);
  SUCCEED();
}

TEST(Wait, DifferentResultTypesThroughAnInitializerList) {
  promise<int> pi;
  promise<std::string> ps;
  promise<void> pv;
  future<int> fi = pi.get_future();
  future<std::string> fstr = ps.get_future();
  future<void> fv = pv.get_future();
  ps.set_result(std::string("s"));
  pv.set_result();
  auto [done, not_done] = cfutures::wait({fi, fstr, fv}, 0s);
  static_assert(std::is_same_v<decltype(done), std::vector<any_future>>);
  EXPECT_EQ(as_set(done), (std::unordered_set<any_future>{fstr, fv}));
  EXPECT_EQ(not_done, std::vector<any_future>{fi});
  pi.set_result(1);
  auto r = cfutures::wait({fi, fstr, fv});
  EXPECT_EQ(r.done.size(), 3u);
  EXPECT_TRUE(r.not_done.empty());
  auto [mixed_done, mixed_not_done] = cfutures::wait({finished(1), fstr});
  EXPECT_EQ(mixed_done.size(), 2u);
  EXPECT_TRUE(mixed_not_done.empty());
}

TEST(Wait, MapKeyedByFuturesWaitsOnTheKeys) {
  std::unordered_map<future<int>, std::string> names{{finished(1), "a"}, {finished(2), "b"}};
  auto [done, not_done] = cfutures::wait(names);
  EXPECT_EQ(done.size(), 2u);
  static_assert(std::is_same_v<decltype(done), std::vector<future<int>>>);
  promise<int> pending;
  auto a = finished(3);
  std::unordered_map<future<int>, std::string> future_to_url{{a, "a"}, {pending.get_future(), "b"}};
  auto r = cfutures::wait(future_to_url, 0s);
  EXPECT_EQ(r.done, std::vector<future<int>>{a});
  EXPECT_EQ(r.not_done, std::vector<future<int>>{pending.get_future()});
}

TEST(Wait, InvalidFutureThrowsInvalidArgument) {
  std::vector<future<int>> alone{future<int>()};
  EXPECT_THROW(cfutures::wait(alone), std::invalid_argument);
  auto a = finished(1);
  std::vector<future<int>> fs{a, future<int>()};
  EXPECT_THROW(cfutures::wait(fs), std::invalid_argument);
  EXPECT_THROW(cfutures::wait(fs, 0s), std::invalid_argument);
  EXPECT_THROW(cfutures::wait({any_future(a), any_future()}), std::invalid_argument);
}

// The waiter is woken once what it waits for has happened, not at every completion: 64
// futures finishing 1 ms apart cost wait(ALL_COMPLETED) a few sleeps, not 64.
TEST(Wait, AllCompletedSleepsUntilTheLastOneInsteadOfWakingForEach) {
  constexpr int n = 64;
  std::vector<promise<int>> ps(n);
  std::vector<future<int>> fs;
  for (auto& p : ps) fs.push_back(p.get_future());
  std::thread finisher([&] {
    for (int i = 0; i < n; ++i) {
      std::this_thread::sleep_for(1ms);
      ps[i].set_result(i);
    }
  });
  const long before = voluntary_switches();
  auto [done, not_done] = cfutures::wait(fs);
  const long sleeps = voluntary_switches() - before;
  finisher.join();
  EXPECT_EQ(done.size(), std::size_t{n});
  EXPECT_LT(sleeps, n / 4) << "woken at every completion";
}

// --- as_completed ----------------------------------------------------------------------------

TEST(AsCompleted, YieldsTheInputElementType) {
  std::vector<future<std::string>> fs;
  static_assert(std::is_same_v<std::ranges::range_value_t<decltype(cfutures::as_completed(fs))>,
                               future<std::string>>);
  static_assert(std::ranges::input_range<decltype(cfutures::as_completed(fs))>);
  SUCCEED();
}

TEST(AsCompleted, DifferentResultTypesThroughAnInitializerList) {
  promise<int> pi;
  promise<std::string> ps;
  future<int> fi = pi.get_future();
  future<std::string> fstr = ps.get_future();
  ps.set_result(std::string("x"));
  std::thread t([&] {
    std::this_thread::sleep_for(30ms);
    pi.set_result(1);
  });
  std::vector<any_future> order;
  for (const any_future& f : cfutures::as_completed({fi, fstr}, 30s)) order.push_back(f);
  t.join();
  EXPECT_EQ(order, (std::vector<any_future>{fstr, fi}));
}

TEST(AsCompleted, MapKeyedByFuturesYieldsTheKeys) {
  promise<int> failed;
  failed.set_exception(std::make_exception_ptr(std::runtime_error("x")));
  std::unordered_map<future<int>, std::string> future_to_url{
      {finished(1), "a"}, {failed.get_future(), "b"}, {finished(2), "c"}};
  std::vector<std::string> urls;
  for (const auto& f : cfutures::as_completed(future_to_url)) urls.push_back(future_to_url.at(f));
  std::sort(urls.begin(), urls.end());
  EXPECT_EQ(urls, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(AsCompleted, InvalidFutureThrowsInvalidArgument) {
  auto a = finished(1);
  std::vector<future<int>> fs{a, future<int>()};
  auto drain = [](auto&& range) {
    for (const auto& f : range) (void)f;
  };
  EXPECT_THROW(drain(cfutures::as_completed(fs)), std::invalid_argument);
  EXPECT_THROW(drain(cfutures::as_completed({any_future(), any_future(a)}, 1s)),
               std::invalid_argument);
}

// size(): the number of distinct futures, before and during the iteration (progress()'s
// total); duplicates count once.
TEST(AsCompleted, SizeIsTheNumberOfDistinctFutures) {
  auto a = finished(1);
  promise<int> later;
  std::vector<future<int>> fs{a, finished(2), a, later.get_future()};
  auto range = cfutures::as_completed(fs);
  static_assert(std::ranges::sized_range<decltype(range)>);
  EXPECT_EQ(range.size(), 3u);
  auto it = range.begin();
  ++it;
  EXPECT_EQ(std::ranges::size(range), 3u);
  later.set_result(3);
  std::size_t seen = 2;  // begin() and one step
  for (++it; it != range.end(); ++it) ++seen;
  EXPECT_EQ(seen, 3u);
  EXPECT_EQ(range.size(), 3u);
}

// A future that finishes while as_completed takes the ones ready before it is still yielded:
// the range counts what it took, not what was ready (a future counted but not taken was
// never waited for again; seen as a hang in the chaos test under TSan). Per round, another
// thread finishes the second future a varying moment after the first one was yielded, so
// that some rounds land in that window.
TEST(AsCompleted, AFutureFinishingWhileTheReadyOnesAreTakenIsYielded) {
  constexpr int rounds = 20000;
  std::vector<promise<int>> firsts(rounds), seconds(rounds);
  std::atomic<int> started{-1}, yielded{-1};
  std::thread finisher([&] {
    for (int r = 0; r < rounds; ++r) {
      while (started.load() < r) std::this_thread::yield();
      firsts[r].set_result(1);
      while (yielded.load() < r) std::this_thread::yield();
      for (int spin = 0; spin < r % 2000; ++spin) {
        std::atomic_signal_fence(std::memory_order_seq_cst);
      }
      seconds[r].set_result(2);
    }
  });
  int missed = -1;
  for (int r = 0; r < rounds && missed < 0; ++r) {
    std::vector<future<int>> fs{firsts[r].get_future(), seconds[r].get_future()};
    auto range = cfutures::as_completed(fs, 5s);
    started.store(r);
    try {
      for (const auto& f : range) {
        (void)f;
        yielded.store(r);
      }
    } catch (const cfutures::timeout_error&) {
      missed = r;
    }
  }
  started.store(rounds);  // lets the finisher run through what is left
  yielded.store(rounds);
  finisher.join();
  EXPECT_EQ(missed, -1) << "round " << missed << ": the second future was never yielded";
}
