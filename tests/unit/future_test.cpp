#include "cfutures/future.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cfutures/promise.hpp"

using namespace std::chrono_literals;
using cfutures::future;
using cfutures::promise;

TEST(Future, DefaultConstructedHasNoState) {
  future<int> f;
  EXPECT_FALSE(f.valid());
  EXPECT_THROW(f.done(), cfutures::invalid_state_error);
  EXPECT_THROW(f.result(), cfutures::invalid_state_error);
}

TEST(Future, ResultOfValue) {
  promise<int> p;
  auto f = p.get_future();
  EXPECT_TRUE(f.valid());
  EXPECT_FALSE(f.done());
  p.set_result(42);
  EXPECT_TRUE(f.done());
  EXPECT_EQ(f.result(), 42);
  EXPECT_EQ(f.exception(), nullptr);
}

TEST(Future, VoidResult) {
  promise<void> p;
  auto f = p.get_future();
  p.set_result();
  f.result();
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.cancelled());
}

TEST(Future, MoveOnlyResultMovesOut) {
  promise<std::unique_ptr<int>> p;
  auto f = p.get_future();
  p.set_result(std::make_unique<int>(7));
  EXPECT_EQ(*f.result(), 7);
  std::unique_ptr<int> v = std::move(f).result();
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 7);
}

TEST(Future, ExceptionIsRethrown) {
  promise<int> p;
  auto f = p.get_future();
  p.set_exception(std::make_exception_ptr(std::out_of_range("nope")));
  EXPECT_THROW(f.result(), std::out_of_range);
  EXPECT_NE(f.exception(), nullptr);
}

TEST(Future, CancelPendingThenResultThrowsCancelled) {
  promise<int> p;
  auto f = p.get_future();
  EXPECT_TRUE(f.cancel());
  EXPECT_TRUE(f.cancel());
  EXPECT_TRUE(f.cancelled());
  EXPECT_TRUE(f.done());
  EXPECT_THROW(f.result(), cfutures::cancelled_error);
  EXPECT_THROW(f.exception(), cfutures::cancelled_error);
  EXPECT_FALSE(p.set_running_or_notify_cancel());
  EXPECT_THROW(p.set_result(1), cfutures::invalid_state_error);
}

TEST(Future, CancelRunningFails) {
  promise<int> p;
  auto f = p.get_future();
  EXPECT_TRUE(p.set_running_or_notify_cancel());
  EXPECT_TRUE(f.running());
  EXPECT_FALSE(f.cancel());
  EXPECT_THROW(p.set_running_or_notify_cancel(), cfutures::invalid_state_error);
  p.set_result(3);
  EXPECT_FALSE(f.cancel());
  EXPECT_EQ(f.result(), 3);
}

TEST(Future, ResultTimeout) {
  promise<int> p;
  auto f = p.get_future();
  EXPECT_THROW(f.result(10ms), cfutures::timeout_error);
  EXPECT_THROW(f.result(0s), cfutures::timeout_error);
  EXPECT_THROW(f.result(-1s), cfutures::timeout_error);
  EXPECT_THROW(f.exception(1ms), cfutures::timeout_error);
  EXPECT_FALSE(f.wait_for(1ms));
  p.set_result(1);
  EXPECT_EQ(f.result(0s), 1);
  EXPECT_TRUE(f.wait_for(0s));
}

TEST(Future, ResultWakesOnCompletionFromAnotherThread) {
  promise<std::string> p;
  auto f = p.get_future();
  std::thread t([p] {
    std::this_thread::sleep_for(20ms);
    p.set_result("done");
  });
  EXPECT_EQ(f.result(5s), "done");
  t.join();
}

TEST(Future, CancelWakesBlockedResult) {
  promise<int> p;
  auto f = p.get_future();
  std::thread t([f] {
    std::this_thread::sleep_for(20ms);
    f.cancel();
  });
  EXPECT_THROW(f.result(5s), cfutures::cancelled_error);
  t.join();
}

TEST(Future, CallbacksRunInOrderOnceDone) {
  promise<int> p;
  auto f = p.get_future();
  std::vector<int> order;
  f.add_done_callback([&](const future<int>& g) { order.push_back(g.result()); });
  f.add_done_callback([&](const future<int>&) { order.push_back(100); });
  EXPECT_TRUE(order.empty());
  p.set_result(1);
  EXPECT_EQ(order, (std::vector<int>{1, 100}));
  f.add_done_callback([&](const future<int>&) { order.push_back(200); });
  EXPECT_EQ(order, (std::vector<int>{1, 100, 200}));
}

TEST(Future, CallbackSeesCancelledFuture) {
  promise<int> p;
  auto f = p.get_future();
  bool saw = false;
  f.add_done_callback([&](const future<int>& g) { saw = g.cancelled(); });
  f.cancel();
  EXPECT_TRUE(saw);
}

TEST(Future, CallbackExceptionGoesToHandler) {
  std::vector<std::string> seen;
  auto previous = cfutures::set_callback_error_handler([&](std::exception_ptr e) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      seen.emplace_back(ex.what());
    }
  });
  promise<int> p;
  auto f = p.get_future();
  bool second_ran = false;
  f.add_done_callback([](const future<int>&) { throw std::runtime_error("boom"); });
  f.add_done_callback([&](const future<int>&) { second_ran = true; });
  EXPECT_NO_THROW(p.set_result(1));
  EXPECT_TRUE(second_ran);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], "boom");
  cfutures::set_callback_error_handler(previous);
}

TEST(Future, EqualityAndHashFollowTheState) {
  promise<int> p;
  auto a = p.get_future();
  auto b = p.get_future();
  promise<int> q;
  auto c = q.get_future();
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::unordered_map<future<int>, std::string> names{{a, "a"}, {c, "c"}};
  EXPECT_EQ(names.at(b), "a");
  EXPECT_EQ(std::hash<future<int>>{}(a), std::hash<future<int>>{}(b));
}

TEST(Future, RequestStopWithoutStopTokenTaskIsFalse) {
  promise<int> p;
  EXPECT_FALSE(p.get_future().request_stop());
}
