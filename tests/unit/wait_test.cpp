#include "cfutures/wait.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cfutures/promise.hpp"

using namespace std::chrono_literals;
using cfutures::any_future;
using cfutures::future;
using cfutures::promise;
using cfutures::return_when;

namespace {

future<int> finished(int v) {
  promise<int> p;
  p.set_result(v);
  return p.get_future();
}

future<int> failed() {
  promise<int> p;
  p.set_exception(std::make_exception_ptr(std::runtime_error("x")));
  return p.get_future();
}

// Times the calling thread gave up its CPU (slept) so far.
long voluntary_switches() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_nvcsw;
}

}  // namespace

TEST(Wait, AllCompletedWithEverythingDone) {
  std::vector<future<int>> fs{finished(1), finished(2)};
  auto [done, not_done] = cfutures::wait(fs);
  EXPECT_EQ(done.size(), 2u);
  EXPECT_TRUE(not_done.empty());
}

TEST(Wait, EmptyInputReturnsAtOnce) {
  std::vector<future<int>> fs;
  auto r = cfutures::wait(fs, return_when::first_completed);
  EXPECT_TRUE(r.done.empty());
  EXPECT_TRUE(r.not_done.empty());
}

TEST(Wait, FirstCompletedReturnsWhenOneFinishes) {
  promise<int> slow;
  promise<int> fast;
  std::vector<future<int>> fs{slow.get_future(), fast.get_future()};
  std::thread t([fast] {
    std::this_thread::sleep_for(20ms);
    fast.set_result(1);
  });
  auto [done, not_done] = cfutures::wait(fs, return_when::first_completed);
  t.join();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0], fast.get_future());
  ASSERT_EQ(not_done.size(), 1u);
  EXPECT_EQ(not_done[0], slow.get_future());
  slow.set_result(0);
}

TEST(Wait, FirstExceptionReturnsOnException) {
  promise<int> pending;
  std::vector<future<int>> fs{finished(1), failed(), pending.get_future()};
  auto [done, not_done] = cfutures::wait(fs, return_when::first_exception);
  EXPECT_EQ(done.size(), 2u);
  EXPECT_EQ(not_done.size(), 1u);
  pending.get_future().cancel();
}

TEST(Wait, FirstExceptionWithoutExceptionActsAsAllCompleted) {
  promise<int> later;
  std::vector<future<int>> fs{finished(1), later.get_future()};
  std::thread t([later] {
    std::this_thread::sleep_for(30ms);
    later.set_result(2);
  });
  auto [done, not_done] = cfutures::wait(fs, 5s, return_when::first_exception);
  t.join();
  EXPECT_EQ(done.size(), 2u);
  EXPECT_TRUE(not_done.empty());
}

TEST(Wait, CancelledCountsAsCompleted) {
  promise<int> p;
  std::vector<future<int>> fs{p.get_future()};
  std::thread t([f = p.get_future()] {
    std::this_thread::sleep_for(20ms);
    f.cancel();
  });
  auto [done, not_done] = cfutures::wait(fs, 5s);
  t.join();
  EXPECT_EQ(done.size(), 1u);
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

TEST(Wait, FirstExceptionWakesAtTheException) {
  std::vector<promise<int>> ps(3);
  std::vector<future<int>> fs;
  for (auto& p : ps) fs.push_back(p.get_future());
  std::thread finisher([&] {
    std::this_thread::sleep_for(20ms);
    ps[1].set_exception(std::make_exception_ptr(std::runtime_error("x")));
  });
  auto [done, not_done] = cfutures::wait(fs, return_when::first_exception);
  finisher.join();
  EXPECT_EQ(done.size(), 1u);
  EXPECT_EQ(not_done.size(), 2u);
}

TEST(Wait, TimeoutReturnsWithoutThrowing) {
  promise<int> p;
  std::vector<future<int>> fs{finished(1), p.get_future()};
  const auto start = std::chrono::steady_clock::now();
  auto [done, not_done] = cfutures::wait(fs, 50ms);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
  EXPECT_EQ(done.size(), 1u);
  EXPECT_EQ(not_done.size(), 1u);
  auto polled = cfutures::wait(fs, 0s);
  EXPECT_EQ(polled.not_done.size(), 1u);
}

TEST(Wait, DuplicatesAppearOnce) {
  auto f = finished(1);
  promise<int> p;
  std::vector<future<int>> fs{f, f, p.get_future(), p.get_future()};
  auto [done, not_done] = cfutures::wait(fs, 0s);
  EXPECT_EQ(done.size(), 1u);
  EXPECT_EQ(not_done.size(), 1u);
}

TEST(Wait, MixedTypesThroughAnyFuture) {
  promise<std::string> s;
  s.set_result("x");
  auto [done, not_done] = cfutures::wait({finished(1), s.get_future()});
  EXPECT_EQ(done.size(), 2u);
  static_assert(std::is_same_v<decltype(done), std::vector<any_future>>);
}

TEST(Wait, MapKeysAreTheFutures) {
  std::unordered_map<future<int>, std::string> names{{finished(1), "a"}, {finished(2), "b"}};
  auto [done, not_done] = cfutures::wait(names);
  EXPECT_EQ(done.size(), 2u);
  static_assert(std::is_same_v<decltype(done), std::vector<future<int>>>);
}

TEST(Wait, InvalidFutureIsRejected) {
  std::vector<future<int>> fs{future<int>()};
  EXPECT_THROW(cfutures::wait(fs), std::invalid_argument);
}
