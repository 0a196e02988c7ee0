#include "cfutures/promise.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

TEST(Promise, GetFutureSharesOneState) {
  cfutures::promise<int> p;
  EXPECT_EQ(p.get_future(), p.get_future());
  auto copy = p;
  copy.set_result(4);
  EXPECT_EQ(p.get_future().result(), 4);
}

TEST(Promise, SetRunningThenResult) {
  cfutures::promise<std::string> p;
  auto f = p.get_future();
  EXPECT_TRUE(p.set_running_or_notify_cancel());
  EXPECT_TRUE(f.running());
  p.set_result("ok");
  EXPECT_EQ(f.result(), "ok");
}

TEST(Promise, CompletingTwiceThrows) {
  cfutures::promise<int> p;
  p.set_result(1);
  EXPECT_THROW(p.set_result(2), cfutures::invalid_state_error);
  EXPECT_THROW(p.set_exception(std::make_exception_ptr(std::runtime_error("x"))),
               cfutures::invalid_state_error);
  EXPECT_THROW(p.set_running_or_notify_cancel(), cfutures::invalid_state_error);
  EXPECT_EQ(p.get_future().result(), 1);
}

TEST(Promise, CompletingACancelledFutureThrows) {
  cfutures::promise<void> p;
  EXPECT_TRUE(p.get_future().cancel());
  EXPECT_FALSE(p.set_running_or_notify_cancel());
  EXPECT_THROW(p.set_result(), cfutures::invalid_state_error);
}

TEST(Promise, NullExceptionIsRejected) {
  cfutures::promise<int> p;
  EXPECT_THROW(p.set_exception(nullptr), std::invalid_argument);
  EXPECT_FALSE(p.get_future().done());
}
