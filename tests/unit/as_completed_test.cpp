#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cfutures/promise.hpp"
#include "cfutures/wait.hpp"

using namespace std::chrono_literals;
using cfutures::future;
using cfutures::promise;

namespace {

future<int> finished(int v) {
  promise<int> p;
  p.set_result(v);
  return p.get_future();
}

}  // namespace

TEST(AsCompleted, YieldsDoneFirstThenInCompletionOrder) {
  promise<int> a;
  promise<int> b;
  std::vector<future<int>> fs{a.get_future(), finished(0), b.get_future()};
  std::thread t([a, b] {
    std::this_thread::sleep_for(20ms);
    b.set_result(2);
    std::this_thread::sleep_for(20ms);
    a.set_result(1);
  });
  std::vector<int> order;
  for (const auto& f : cfutures::as_completed(fs, 5s)) order.push_back(f.result());
  t.join();
  EXPECT_EQ(order, (std::vector<int>{0, 2, 1}));
}

TEST(AsCompleted, DuplicatesYieldedOnce) {
  auto f = finished(3);
  std::vector<future<int>> fs{f, f, f};
  int n = 0;
  for (const auto& g : cfutures::as_completed(fs)) {
    EXPECT_EQ(g, f);
    ++n;
  }
  EXPECT_EQ(n, 1);
}

TEST(AsCompleted, TimeoutMessageCountsUnfinished) {
  promise<int> p1;
  promise<int> p2;
  std::vector<future<int>> fs{finished(1), p1.get_future(), p2.get_future()};
  auto range = cfutures::as_completed(fs, 30ms);
  auto it = range.begin();
  EXPECT_EQ(it->result(), 1);
  try {
    ++it;
    FAIL() << "expected timeout_error";
  } catch (const cfutures::timeout_error& e) {
    EXPECT_STREQ(e.what(), "2 (of 3) futures unfinished");
  }
}

TEST(AsCompleted, ZeroTimeoutStillYieldsDoneOnes) {
  promise<int> p;
  std::vector<future<int>> fs{finished(1), finished(2), p.get_future()};
  int yielded = 0;
  EXPECT_THROW(
      {
        for (const auto& f : cfutures::as_completed(fs, 0s)) {
          (void)f;
          ++yielded;
        }
      },
      cfutures::timeout_error);
  EXPECT_EQ(yielded, 2);
}

TEST(AsCompleted, CancellationWakesTheConsumer) {
  promise<int> p;
  std::vector<future<int>> fs{p.get_future()};
  std::thread t([f = p.get_future()] {
    std::this_thread::sleep_for(20ms);
    f.cancel();
  });
  int n = 0;
  for (const auto& f : cfutures::as_completed(fs, 5s)) {
    EXPECT_TRUE(f.cancelled());
    ++n;
  }
  t.join();
  EXPECT_EQ(n, 1);
}

TEST(AsCompleted, DoesNotKeepYieldedFuturesAlive) {
  std::weak_ptr<int> watch;
  {
    promise<std::shared_ptr<int>> p;
    auto value = std::make_shared<int>(1);
    watch = value;
    p.set_result(std::move(value));
    std::vector<future<std::shared_ptr<int>>> fs{p.get_future()};
    auto range = cfutures::as_completed(fs);
    fs.clear();
    p = promise<std::shared_ptr<int>>();
    auto it = range.begin();
    EXPECT_FALSE(watch.expired());
    ++it;
    EXPECT_TRUE(watch.expired());
  }
}

TEST(AsCompleted, UnorderedMapKeys) {
  std::unordered_map<future<int>, std::string> names{{finished(1), "one"}, {finished(2), "two"}};
  std::vector<std::string> seen;
  for (const auto& f : cfutures::as_completed(names)) seen.push_back(names.at(f));
  EXPECT_EQ(seen.size(), 2u);
}

TEST(AsCompleted, ManyFuturesCompletedFromAnotherThread) {
  std::vector<promise<int>> ps(1000);
  std::vector<future<int>> fs;
  for (auto& p : ps) fs.push_back(p.get_future());
  std::thread t([&ps] {
    for (std::size_t i = 0; i < ps.size(); ++i) ps[i].set_result(static_cast<int>(i));
  });
  long sum = 0;
  for (const auto& f : cfutures::as_completed(fs, 10s)) sum += f.result();
  t.join();
  EXPECT_EQ(sum, 999L * 1000 / 2);
}
