// CPython's test_as_completed.py: cfutures::as_completed over hand-made futures
// (AsCompletedBasics) and over executor futures (the typed AsCompletedTest). What C++'s
// as_completed adds (element types, any_future, maps keyed by futures, invalid futures) is in
// tests/unit/as_completed_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfutures/cfutures.hpp>
#include <ranges>
#include <string>
#include <thread>
#include <vector>

#include "executor_traits.hpp"
#include "tasks.hpp"
#include "test_support.hpp"

namespace conformance {
namespace {

using cfutures::future;
using cfutures::promise;

template <class Range>
auto drain(Range&& r) {
  std::vector<std::ranges::range_value_t<Range>> out;
  for (auto f : r) out.push_back(f);
  return out;
}

// --- over hand-made futures -------------------------------------------------------------

TEST(AsCompletedBasics, EmptyInputYieldsNothing) {
  std::vector<future<int>> none;
  EXPECT_TRUE(drain(cfutures::as_completed(none)).empty());
  EXPECT_TRUE(drain(cfutures::as_completed(none, 0s)).empty());
}

TEST(AsCompletedBasics, YieldsInCompletionOrder) {
  auto a = make_future(state::pending);
  auto b = make_future(state::pending);
  auto c = make_future(state::running);
  std::vector<future<int>> fs{a.future, b.future, c.future};
  auto r = cfutures::as_completed(fs, 30s);
  auto s = step(r);
  c.promise.set_result(3);
  EXPECT_TRUE(s.next() == c.future);
  a.future.cancel();
  EXPECT_TRUE(s.next() == a.future);
  std::thread t([&] {
    std::this_thread::sleep_for(50ms);
    b.promise.set_result(2);
  });
  EXPECT_TRUE(s.next() == b.future);  // blocks until b finishes
  EXPECT_FALSE(s.next().has_value());
  t.join();
}

TEST(AsCompletedBasics, ZeroTimeoutYieldsTheDoneOnesThenThrows) {
  auto cn = make_future(state::cancelled_and_notified);
  auto failed = make_future(state::raised);
  auto ok = make_future(state::succeeded);
  auto pending = make_future(state::pending);
  std::vector<future<int>> fs{pending.future, cn.future, failed.future, ok.future};
  std::vector<future<int>> completed;
  const auto t0 = steady::now();
  EXPECT_THROW(
      {
        for (auto f : cfutures::as_completed(fs, 0s)) completed.push_back(f);
      },
      cfutures::timeout_error);
  EXPECT_LT(elapsed_since(t0), 2s);
  EXPECT_EQ(as_set(completed), set_of({cn.future, failed.future, ok.future}));
}

TEST(AsCompletedBasics, CorrectTimeoutExceptionMessage) {
  auto cn = make_future(state::cancelled_and_notified);
  auto pending = make_future(state::pending);
  auto running = make_future(state::running);
  auto ok = make_future(state::succeeded);
  std::vector<future<int>> fs{cn.future, pending.future, running.future, ok.future};
  try {
    (void)drain(cfutures::as_completed(fs, 0s));
    ADD_FAILURE() << "as_completed did not time out";
  } catch (const cfutures::timeout_error& e) {
    EXPECT_STREQ(e.what(), "2 (of 4) futures unfinished");
  }
}

TEST(AsCompletedBasics, DuplicatesAreYieldedOnce) {
  auto a = make_future(state::succeeded);
  auto b = make_future(state::pending);
  std::vector<future<int>> fs{a.future, b.future, a.future, b.future, b.future};
  std::thread t([&] {
    std::this_thread::sleep_for(30ms);
    b.promise.set_result(1);
  });
  auto completed = drain(cfutures::as_completed(fs, 30s));
  t.join();
  ASSERT_EQ(completed.size(), 2u);
  EXPECT_TRUE(completed[0] == a.future);
  EXPECT_TRUE(completed[1] == b.future);
}

// bpo-14406: as_completed keeps no reference to a future it yielded. A future's state is
// observed through the tracked value it holds: once the test drops its own handles (and
// the promise), the value must be destroyed — no later than when the iterator advances.
TEST(AsCompletedBasics, KeepsNoReferenceToAYieldedFuture) {
  const int live0 = tracked::live();
  std::vector<promise<tracked>> promises(10);
  std::vector<future<tracked>> fs;
  for (auto& p : promises) fs.push_back(p.get_future());
  // Two already done (CPython: CANCELLED_AND_NOTIFIED and FINISHED): finished ones hold a
  // tracked value; the promise is dropped since nothing else needs it.
  promises[8].set_result(tracked(8));
  promises[9].set_result(tracked(9));
  promises[8] = promise<tracked>();
  promises[9] = promise<tracked>();
  ASSERT_EQ(tracked::live() - live0, 2);

  // The values still alive: those held by futures still in `fs`.
  auto held = [&] {
    int n = 0;
    for (auto& f : fs) n += f.done() && !f.cancelled();
    return n;
  };
  auto forget = [&](const future<tracked>& f) {
    auto it = std::find(fs.begin(), fs.end(), f);
    ASSERT_NE(it, fs.end());
    const auto index = static_cast<std::size_t>(it - fs.begin());
    fs.erase(it);
    promises.erase(promises.begin() + static_cast<std::ptrdiff_t>(index));
  };

  int yielded = 0;
  EXPECT_THROW(
      {
        for (auto f : cfutures::as_completed(fs, 0s)) {
          // Everything yielded before this one must be gone by now; this one is still in fs.
          EXPECT_EQ(tracked::live() - live0, held()) << "after " << yielded << " yields";
          forget(f);
          ++yielded;
        }
      },
      cfutures::timeout_error);
  EXPECT_EQ(yielded, 2);
  EXPECT_EQ(tracked::live() - live0, held());
  EXPECT_EQ(held(), 0);

  // Now the pending ones, completed one at a time while iterating.
  ASSERT_EQ(fs.size(), 8u);
  promises[0].set_result(tracked(0));
  yielded = 0;
  for (auto f : cfutures::as_completed(fs)) {
    EXPECT_EQ(tracked::live() - live0, held()) << "after " << yielded << " yields";
    forget(f);
    ++yielded;
    if (!fs.empty()) promises[0].set_result(tracked(yielded));
  }
  EXPECT_EQ(yielded, 8);
  EXPECT_TRUE(fs.empty());
  EXPECT_EQ(tracked::live(), live0);
}

// The timeout is measured from the as_completed() call, not from begin(). (Measured from
// begin(), the last step would wait a fresh 2 s; the bound only proves it did not.)
TEST(AsCompletedBasics, TimeoutIsMeasuredFromTheCall) {
  auto ok = make_future(state::succeeded);
  auto pending = make_future(state::pending);
  std::vector<future<int>> fs{ok.future, pending.future};
  auto r = cfutures::as_completed(fs, 2000ms);
  std::this_thread::sleep_for(2100ms);
  auto s = step(r);
  EXPECT_TRUE(s.next() == ok.future);  // done ones are still yielded
  const auto t0 = steady::now();
  EXPECT_THROW(s.next(), cfutures::timeout_error);
  EXPECT_LT(elapsed_since(t0), 1500ms) << "the deadline had already passed";
}

// The deadline holds across yields: time spent by the consumer counts. (Restarted after the
// yield, the timeout would end at ~3.9 s; the bound only proves it did not.)
TEST(AsCompletedBasics, TimeoutHoldsAcrossYields) {
  auto ok = make_future(state::succeeded);
  auto pending = make_future(state::pending);
  std::vector<future<int>> fs{ok.future, pending.future};
  const auto t0 = steady::now();
  auto r = cfutures::as_completed(fs, 2000ms);
  auto s = step(r);
  EXPECT_TRUE(s.next() == ok.future);
  std::this_thread::sleep_for(1900ms);  // the consumer works on it
  EXPECT_THROW(s.next(), cfutures::timeout_error);
  const auto at = elapsed_since(t0);
  EXPECT_GE(at, 1950ms) << "timed out early";
  EXPECT_LT(at, 3500ms) << "the timeout restarted after a yield";
}

// Deviation from CPython (API.md): cancel() wakes as_completed at once.
TEST(AsCompletedBasics, CancelWakesAsCompleted) {
  auto a = make_future(state::pending);
  std::vector<future<int>> fs{a.future};
  std::thread t([&] {
    std::this_thread::sleep_for(100ms);
    a.future.cancel();
  });
  const auto t0 = steady::now();
  auto completed = drain(cfutures::as_completed(fs, 30s));
  EXPECT_LT(elapsed_since(t0), 5s);
  ASSERT_EQ(completed.size(), 1u);
  EXPECT_TRUE(completed[0].cancelled());
  t.join();
}

// O(n): 100 000 futures take milliseconds; an O(n^2) as_completed would take minutes.
TEST(AsCompletedBasics, ScalesLinearly) {
  constexpr int n = 100'000;
  std::vector<promise<int>> ps(n);
  std::vector<future<int>> fs;
  fs.reserve(n);
  for (auto& p : ps) fs.push_back(p.get_future());
  for (int i = 0; i < n; i += 2) ps[i].set_result(i);
  const auto t0 = steady::now();
  auto r = cfutures::as_completed(fs, 30s);
  auto s = step(r);
  for (int i = 0; i < n / 2; ++i) ASSERT_TRUE(s.next().has_value());
  // the rest, completed from another thread
  std::thread t([&] {
    for (int i = 1; i < n; i += 2) ps[i].set_result(i);
  });
  int rest = 0;
  long long odd_sum = 0;
  while (auto f = s.next()) {
    ++rest;
    odd_sum += f->result();
  }
  t.join();
  EXPECT_EQ(rest, n / 2);
  EXPECT_EQ(odd_sum, static_cast<long long>(n / 2) * (n / 2));  // 1 + 3 + ... + (n - 1)
  EXPECT_LT(elapsed_since(t0), 5s);
}

// --- over executor futures (CPython's AsCompletedTests, every executor) --------------------

template <class Traits>
class AsCompletedTest : public executor_test_base<Traits> {};
TYPED_TEST_SUITE(AsCompletedTest, executor_types, executor_names);

TYPED_TEST(AsCompletedTest, NoTimeout) {
  auto cn = make_future(state::cancelled_and_notified);
  auto failed = make_future(state::raised);
  auto ok = make_future(state::succeeded);
  auto f1 = this->executor->submit(tasks::mul, 2, 21);
  auto f2 = this->executor->submit(tasks::mul, 7, 6);
  std::vector<future<int>> fs{cn.future, failed.future, ok.future, f1, f2};
  auto completed = drain(cfutures::as_completed(fs));
  EXPECT_EQ(completed.size(), 5u);
  EXPECT_EQ(as_set(completed), set_of({cn.future, failed.future, ok.future, f1, f2}));
}

TYPED_TEST(AsCompletedTest, FutureTimesOut) {
  for (auto timeout : {0ms, 100ms}) {
    SCOPED_TRACE(timeout.count());
    gate g(this->scratch, "gate_" + std::to_string(timeout.count()));
    auto cn = make_future(state::cancelled_and_notified);
    auto failed = make_future(state::raised);
    auto ok = make_future(state::succeeded);
    auto f = this->executor->submit(tasks::wait_for_file, g.path());
    std::vector<future<int>> fs{cn.future, failed.future, ok.future, f};
    std::vector<future<int>> completed;
    EXPECT_THROW(
        {
          for (auto x : cfutures::as_completed(fs, timeout)) completed.push_back(x);
        },
        cfutures::timeout_error);
    EXPECT_EQ(as_set(completed), set_of({cn.future, failed.future, ok.future}));
    g.open();
    EXPECT_EQ(f.result(), 0);
  }
}

// bpo-20367 / bpo-31641: duplicates in any input range are yielded once.
TYPED_TEST(AsCompletedTest, DuplicateFutures) {
  auto f = this->executor->submit(tasks::sleep_ms, 200);
  std::vector<future<int>> fs(3, f);
  auto completed = drain(cfutures::as_completed(fs));
  ASSERT_EQ(completed.size(), 1u);
  EXPECT_TRUE(completed[0] == f);
}

TYPED_TEST(AsCompletedTest, YieldsTheDoneOnesFirst) {
  gate g(this->scratch, "gate");
  auto f = this->executor->submit(tasks::wait_for_file, g.path());
  auto ok = make_future(state::succeeded);
  auto failed = make_future(state::raised);
  std::vector<future<int>> fs{f, ok.future, failed.future};
  auto r = cfutures::as_completed(fs, 30s);
  auto s = step(r);
  std::vector<future<int>> first_two{*s.next(), *s.next()};
  EXPECT_EQ(as_set(first_two), set_of({ok.future, failed.future}));
  g.open();
  EXPECT_TRUE(s.next() == f);
  EXPECT_FALSE(s.next().has_value());
}

// Deviation from CPython (API.md): cancelling a queued call wakes as_completed at once,
// while every worker is still busy.
TYPED_TEST(AsCompletedTest, CancellingAQueuedCallWakesAsCompleted) {
  gate g(this->scratch, "gate");
  auto blockers = this->block_all_workers(g);
  auto queued = this->executor->submit(tasks::mul, 3, 3);
  std::thread t([&] {
    std::this_thread::sleep_for(100ms);
    EXPECT_TRUE(queued.cancel());
  });
  std::vector<future<int>> fs{queued};
  const auto t0 = steady::now();
  auto completed = drain(cfutures::as_completed(fs, 20s));
  EXPECT_LT(elapsed_since(t0), 5s);
  ASSERT_EQ(completed.size(), 1u);
  EXPECT_TRUE(completed[0].cancelled());
  t.join();
  g.open();
  for (auto& b : blockers) EXPECT_EQ(b.result(), 0);
}

TYPED_TEST(AsCompletedTest, YieldsEachCallAsItFinishes) {
  if (this->worker_count < 3) GTEST_SKIP() << "needs the 3 calls to run at once";
  std::vector<future<int>> fs;
  for (int ms : {600, 0, 300}) fs.push_back(this->executor->submit(tasks::sleep_ms, ms));
  std::vector<int> order;
  for (auto f : cfutures::as_completed(fs, 20s)) order.push_back(f.result());
  EXPECT_EQ(order, (std::vector<int>{0, 300, 600}));
}

}  // namespace
}  // namespace conformance
