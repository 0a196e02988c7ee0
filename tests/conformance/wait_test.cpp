// CPython's test_wait.py: cfutures::wait over hand-made futures (WaitBasics) and over
// executor futures (the typed WaitTest, run against every executor).
//
// Deviation from CPython (API.md): a cancelled future counts as done at once. CPython's
// CANCELLED_FUTURE (cancelled, no worker noticed yet) is in not_done; here it is in done.
#include <gtest/gtest.h>

#include <atomic>
#include <cfutures/cfutures.hpp>
#include <string>
#include <thread>
#include <vector>

#include "executor_traits.hpp"
#include "tasks.hpp"
#include "test_support.hpp"

namespace conformance {
namespace {

using cfutures::any_future;
using cfutures::future;
using cfutures::promise;
using cfutures::return_when;

// --- over hand-made futures -------------------------------------------------------------

TEST(WaitBasics, EmptyInputReturnsAtOnce) {
  std::vector<future<int>> none;
  auto [done, not_done] = cfutures::wait(none);
  EXPECT_TRUE(done.empty());
  EXPECT_TRUE(not_done.empty());
  auto r = cfutures::wait(none, 10s, return_when::first_completed);
  EXPECT_TRUE(r.done.empty());
  EXPECT_TRUE(r.not_done.empty());
}

TEST(WaitBasics, DuplicatesAppearOnce) {
  auto a = make_future(state::succeeded);
  auto b = make_future(state::pending);
  std::vector<future<int>> fs{a.future, b.future, a.future, b.future, a.future};
  for (auto when :
       {return_when::all_completed, return_when::first_completed, return_when::first_exception}) {
    auto [done, not_done] = cfutures::wait(fs, 0s, when);
    EXPECT_EQ(done, std::vector<future<int>>{a.future});
    EXPECT_EQ(not_done, std::vector<future<int>>{b.future});
  }
}

TEST(WaitBasics, TimeoutReturnsWhatIsDoneAndNeverThrows) {
  auto done_one = make_future(state::succeeded);
  auto pending = make_future(state::pending);
  std::vector<future<int>> fs{done_one.future, pending.future};
  const auto t0 = steady::now();
  cfutures::wait_result<future<int>> r;
  EXPECT_NO_THROW(r = cfutures::wait(fs, 100ms));
  EXPECT_GE(elapsed_since(t0), 90ms) << "returned before the timeout";
  EXPECT_EQ(as_set(r.done), set_of({done_one.future}));
  EXPECT_EQ(as_set(r.not_done), set_of({pending.future}));
}

TEST(WaitBasics, ZeroOrNegativeTimeoutIsAPoll) {
  auto done_one = make_future(state::raised);
  auto pending = make_future(state::running);
  std::vector<future<int>> fs{pending.future, done_one.future};
  const auto t0 = steady::now();
  for (auto timeout : {0ms, -5000ms}) {
    auto [done, not_done] = cfutures::wait(fs, timeout);
    EXPECT_EQ(done, std::vector<future<int>>{done_one.future});
    EXPECT_EQ(not_done, std::vector<future<int>>{pending.future});
  }
  EXPECT_LT(elapsed_since(t0), 2s);
}

TEST(WaitBasics, CancelledFutureCountsAsCompleted) {
  auto c = make_future(state::cancelled);  // CPython: not_done until a worker notices
  auto n = make_future(state::cancelled_and_notified);
  std::vector<future<int>> fs{c.future, n.future};
  auto [done, not_done] = cfutures::wait(fs, 5s);
  EXPECT_EQ(as_set(done), set_of({c.future, n.future}));
  EXPECT_TRUE(not_done.empty());
}

TEST(WaitBasics, CancelWakesWaitAtOnce) {
  auto a = make_future(state::pending);
  auto b = make_future(state::pending);
  std::thread t([&] {
    std::this_thread::sleep_for(100ms);
    a.future.cancel();
  });
  std::vector<future<int>> fs{a.future, b.future};
  const auto t0 = steady::now();
  auto [done, not_done] = cfutures::wait(fs, 30s, return_when::first_completed);
  EXPECT_LT(elapsed_since(t0), 5s);
  EXPECT_EQ(done, std::vector<future<int>>{a.future});
  EXPECT_EQ(not_done, std::vector<future<int>>{b.future});
  t.join();
}

TEST(WaitBasics, AllCompletedWokenByTheLastCompletion) {
  auto a = make_future(state::pending);
  auto b = make_future(state::running);
  auto c = make_future(state::pending);
  std::thread t([&] {
    std::this_thread::sleep_for(30ms);
    a.promise.set_result(1);
    std::this_thread::sleep_for(30ms);
    b.promise.set_exception(std::make_exception_ptr(os_error("x")));
    std::this_thread::sleep_for(30ms);
    c.future.cancel();
  });
  std::vector<future<int>> fs{a.future, b.future, c.future};
  auto [done, not_done] = cfutures::wait(fs);  // no timeout
  EXPECT_EQ(as_set(done), set_of({a.future, b.future, c.future}));
  EXPECT_TRUE(not_done.empty());
  t.join();
}

TEST(WaitBasics, FirstExceptionWokenByAnException) {
  auto ok = make_future(state::pending);
  auto bad = make_future(state::pending);
  auto slow = make_future(state::pending);
  std::thread t([&] {
    std::this_thread::sleep_for(30ms);
    ok.promise.set_result(1);
    std::this_thread::sleep_for(30ms);
    bad.promise.set_exception(std::make_exception_ptr(os_error("x")));
  });
  std::vector<future<int>> fs{ok.future, bad.future, slow.future};
  const auto t0 = steady::now();
  auto [done, not_done] = cfutures::wait(fs, 30s, return_when::first_exception);
  EXPECT_LT(elapsed_since(t0), 10s);
  EXPECT_EQ(as_set(done), set_of({ok.future, bad.future}));
  EXPECT_EQ(not_done, std::vector<future<int>>{slow.future});
  t.join();
}

// A cancelled future is completed, not failed: first_exception keeps waiting.
TEST(WaitBasics, FirstExceptionIsNotTriggeredByCancellation) {
  auto c = make_future(state::cancelled_and_notified);
  auto p = make_future(state::pending);
  std::vector<future<int>> fs{c.future, p.future};
  const auto t0 = steady::now();
  auto [done, not_done] = cfutures::wait(fs, 150ms, return_when::first_exception);
  EXPECT_GE(elapsed_since(t0), 140ms) << "returned although no future raised";
  EXPECT_EQ(done, std::vector<future<int>>{c.future});
  EXPECT_EQ(not_done, std::vector<future<int>>{p.future});
}

// O(n): 100 000 futures take milliseconds; an O(n^2) wait would take minutes.
TEST(WaitBasics, ScalesLinearly) {
  constexpr int n = 100'000;
  std::vector<promise<int>> ps(n);
  std::vector<future<int>> fs;
  fs.reserve(n);
  for (auto& p : ps) fs.push_back(p.get_future());
  for (int i = 0; i < n; i += 2) ps[i].set_result(i);
  const auto t0 = steady::now();
  auto [done, not_done] = cfutures::wait(fs, 0s);
  EXPECT_EQ(done.size(), std::size_t{n / 2});
  EXPECT_EQ(not_done.size(), std::size_t{n / 2});
  // first_completed with everything pending, completed from another thread.
  std::vector<future<int>> pending(not_done.begin(), not_done.end());
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    ps[n - 1].set_result(0);
  });
  auto r = cfutures::wait(pending, 30s, return_when::first_completed);
  t.join();
  EXPECT_EQ(r.done.size(), 1u);
  EXPECT_EQ(r.not_done.size(), std::size_t{n / 2 - 1});
  EXPECT_LT(elapsed_since(t0), 5s);
}

// --- over executor futures (CPython's WaitTests, every executor) ---------------------------

template <class Traits>
class WaitTest : public executor_test_base<Traits> {};
TYPED_TEST_SUITE(WaitTest, executor_types, executor_names);

// bpo-20369
TYPED_TEST(WaitTest, DuplicateFuturesAppearOnce) {
  auto f = this->executor->submit(tasks::mul, 1, 2);
  std::vector<future<int>> fs{f, f};
  auto [done, not_done] = cfutures::wait(fs, return_when::all_completed);
  EXPECT_EQ(done, std::vector<future<int>>{f});
  EXPECT_TRUE(not_done.empty());
}

TYPED_TEST(WaitTest, FirstCompleted) {
  gate g(this->scratch, "gate");
  auto f1 = this->executor->submit(tasks::mul, 21, 2);
  auto f2 = this->executor->submit(tasks::wait_for_file, g.path());
  std::vector<future<int>> fs{f1, f2};
  auto [done, not_done] = cfutures::wait(fs, return_when::first_completed);
  EXPECT_EQ(done, std::vector<future<int>>{f1});
  EXPECT_EQ(not_done, std::vector<future<int>>{f2});
  g.open();
  EXPECT_EQ(f2.result(), 0);
}

// CPython's test_first_completed includes CANCELLED_FUTURE in not_done; here it is done, so
// wait returns at once with it.
TYPED_TEST(WaitTest, FirstCompletedReturnsAtOnceWithACancelledFuture) {
  gate g(this->scratch, "gate");
  auto cancelled = make_future(state::cancelled);
  auto f2 = this->executor->submit(tasks::wait_for_file, g.path());
  std::vector<future<int>> fs{cancelled.future, f2};
  const auto t0 = steady::now();
  auto [done, not_done] = cfutures::wait(fs, 30s, return_when::first_completed);
  EXPECT_LT(elapsed_since(t0), 5s);
  EXPECT_EQ(done, std::vector<future<int>>{cancelled.future});
  EXPECT_EQ(not_done, std::vector<future<int>>{f2});
  g.open();
  EXPECT_EQ(f2.result(), 0);
}

TYPED_TEST(WaitTest, FirstCompletedSomeAlreadyCompleted) {
  gate g(this->scratch, "gate");
  auto cn = make_future(state::cancelled_and_notified);
  auto ok = make_future(state::succeeded);
  auto f1 = this->executor->submit(tasks::wait_for_file, g.path());
  std::vector<future<int>> fs{cn.future, ok.future, f1};
  auto [done, not_done] = cfutures::wait(fs, return_when::first_completed);
  EXPECT_EQ(as_set(done), set_of({cn.future, ok.future}));
  EXPECT_EQ(not_done, std::vector<future<int>>{f1});
  g.open();
  EXPECT_EQ(f1.result(), 0);
}

TYPED_TEST(WaitTest, FirstException) {
  gate g1(this->scratch, "gate1");
  gate g2(this->scratch, "gate2");
  auto f1 = this->executor->submit(tasks::mul, 2, 21);
  auto f2 = this->executor->submit(tasks::wait_and_raise, g1.path());
  auto f3 = this->executor->submit(tasks::wait_for_file, g2.path());
  // f1 completes before f2 raises.
  std::thread t([&] {
    f1.wait();
    g1.open();
  });
  std::vector<future<int>> fs{f1, f2, f3};
  auto [done, not_done] = cfutures::wait(fs, return_when::first_exception);
  t.join();
  EXPECT_EQ(as_set(done), set_of({f1, f2}));
  EXPECT_EQ(not_done, std::vector<future<int>>{f3});
  EXPECT_THROW((void)f2.result(), std::runtime_error);
  g2.open();
  EXPECT_EQ(f3.result(), 0);
}

TYPED_TEST(WaitTest, FirstExceptionSomeAlreadyComplete) {
  gate g(this->scratch, "gate");
  auto ok = make_future(state::succeeded);
  auto cancelled = make_future(state::cancelled);
  auto cn = make_future(state::cancelled_and_notified);
  auto f1 = this->executor->submit(tasks::divmod, 21, 0);
  auto f2 = this->executor->submit(tasks::wait_for_file, g.path());
  std::vector<any_future> fs{ok.future, cancelled.future, cn.future, f1, f2};
  auto [done, not_done] = cfutures::wait(fs, return_when::first_exception);
  EXPECT_EQ(as_set(done), set_of<any_future>({ok.future, cancelled.future, cn.future, f1}));
  EXPECT_EQ(not_done, std::vector<any_future>{f2});
  g.open();
  EXPECT_EQ(f2.result(), 0);
}

TYPED_TEST(WaitTest, FirstExceptionOneAlreadyFailed) {
  gate g(this->scratch, "gate");
  auto failed = make_future(state::raised);
  auto f1 = this->executor->submit(tasks::wait_for_file, g.path());
  std::vector<future<int>> fs{failed.future, f1};
  auto [done, not_done] = cfutures::wait(fs, return_when::first_exception);
  EXPECT_EQ(done, std::vector<future<int>>{failed.future});
  EXPECT_EQ(not_done, std::vector<future<int>>{f1});
  g.open();
  EXPECT_EQ(f1.result(), 0);
}

TYPED_TEST(WaitTest, FirstExceptionWithoutAnExceptionIsAllCompleted) {
  auto slow = this->executor->submit(tasks::sleep_ms, 200);
  auto fast = this->executor->submit(tasks::sleep_ms, 0);
  std::vector<future<int>> fs{slow, fast};
  auto [done, not_done] = cfutures::wait(fs, 30s, return_when::first_exception);
  EXPECT_EQ(as_set(done), set_of({slow, fast}));
  EXPECT_TRUE(not_done.empty());
}

TYPED_TEST(WaitTest, AllCompleted) {
  auto ok = make_future(state::succeeded);
  auto cn = make_future(state::cancelled_and_notified);
  auto failed = make_future(state::raised);
  auto f1 = this->executor->submit(tasks::divmod, 2, 0);
  auto f2 = this->executor->submit(tasks::mul, 2, 21);
  std::vector<any_future> fs{ok.future, cn.future, failed.future, f1, f2};
  auto [done, not_done] = cfutures::wait(fs, return_when::all_completed);
  EXPECT_EQ(as_set(done), set_of<any_future>({ok.future, cn.future, failed.future, f1, f2}));
  EXPECT_TRUE(not_done.empty());
  EXPECT_THROW((void)f1.result(), std::domain_error);
  EXPECT_EQ(f2.result(), 42);
}

TYPED_TEST(WaitTest, Timeout) {
  gate g(this->scratch, "gate");
  auto cn = make_future(state::cancelled_and_notified);
  auto failed = make_future(state::raised);
  auto ok = make_future(state::succeeded);
  auto f = this->executor->submit(tasks::wait_for_file, g.path());
  std::vector<future<int>> fs{cn.future, failed.future, ok.future, f};
  const auto t0 = steady::now();
  auto [done, not_done] = cfutures::wait(fs, 50ms, return_when::all_completed);
  EXPECT_GE(elapsed_since(t0), 45ms);
  EXPECT_EQ(as_set(done), set_of({cn.future, failed.future, ok.future}));
  EXPECT_EQ(not_done, std::vector<future<int>>{f});
  g.open();
  EXPECT_EQ(f.result(), 0);
}

// bpo-14406: many futures finishing at once while wait installs its waiters.
TYPED_TEST(WaitTest, PendingCallsRace) {
  gate g(this->scratch, "gate");
  std::vector<future<int>> fs;
  for (int i = 0; i < 100; ++i)
    fs.push_back(this->executor->submit(tasks::wait_for_file, g.path()));
  g.open();
  auto [done, not_done] = cfutures::wait(fs, 30s, return_when::all_completed);
  EXPECT_EQ(done.size(), 100u);
  EXPECT_TRUE(not_done.empty());
  for (auto& f : fs) EXPECT_EQ(f.result(), 0);
}

// Deviation from CPython (API.md): cancelling a queued call wakes wait() at once, while
// every worker is still busy (CPython waits for a worker to notice the cancellation).
TYPED_TEST(WaitTest, CancellingAQueuedCallWakesWaitAtOnce) {
  gate g(this->scratch, "gate");
  auto blockers = this->block_all_workers(g);
  auto queued = this->executor->submit(tasks::mul, 3, 3);
  std::thread t([&] {
    std::this_thread::sleep_for(100ms);
    EXPECT_TRUE(queued.cancel());
  });
  std::vector<future<int>> fs{queued};
  const auto t0 = steady::now();
  auto [done, not_done] = cfutures::wait(fs, 20s);
  EXPECT_LT(elapsed_since(t0), 5s);
  EXPECT_EQ(done, std::vector<future<int>>{queued});
  EXPECT_TRUE(not_done.empty());
  EXPECT_TRUE(queued.cancelled());
  t.join();
  g.open();
  for (auto& b : blockers) EXPECT_EQ(b.result(), 0);
}

TYPED_TEST(WaitTest, DifferentResultTypes) {
  auto fi = this->executor->submit(tasks::mul, 2, 3);
  auto fs = this->executor->submit(tasks::to_str, 7);
  auto fv = this->executor->submit(tasks::nothing);
  auto [done, not_done] = cfutures::wait({fi, fs, fv});
  EXPECT_EQ(as_set(done), set_of<any_future>({fi, fs, fv}));
  EXPECT_TRUE(not_done.empty());
  EXPECT_EQ(fs.result(), "7");
}

}  // namespace
}  // namespace conformance
