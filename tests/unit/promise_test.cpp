// <cfutures/promise.hpp>: what a C++ promise adds to Python's "for use by Executor
// implementations" methods — copies share one state, a null exception is rejected. Completing
// twice, completing a cancelled future and set_running_or_notify_cancel (CPython's
// test_future.py) are tested in tests/conformance/future_test.cpp.
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
  EXPECT_THROW(p.set_result(6), cfutures::invalid_state_error);
  cfutures::promise<int> other;
  EXPECT_FALSE(other.get_future() == p.get_future());
}

TEST(Promise, NullExceptionIsRejected) {
  cfutures::promise<int> p;
  EXPECT_THROW(p.set_exception(nullptr), std::invalid_argument);
  EXPECT_FALSE(p.get_future().done());
}
