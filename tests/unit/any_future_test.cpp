#include "cfutures/any_future.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <unordered_set>

#include "cfutures/promise.hpp"

using namespace std::chrono_literals;

TEST(AnyFuture, SharesIdentityWithTypedFuture) {
  cfutures::promise<int> p;
  auto f = p.get_future();
  cfutures::any_future a = f;
  EXPECT_TRUE(a == f);
  EXPECT_EQ(std::hash<cfutures::any_future>{}(a), std::hash<cfutures::future<int>>{}(f));
  std::unordered_set<cfutures::any_future> set{a, cfutures::any_future(f)};
  EXPECT_EQ(set.size(), 1u);
}

TEST(AnyFuture, ObservesState) {
  cfutures::promise<double> p;
  cfutures::any_future a = p.get_future();
  EXPECT_FALSE(a.done());
  EXPECT_FALSE(a.wait_for(1ms));
  EXPECT_THROW(a.exception(1ms), cfutures::timeout_error);
  p.set_exception(std::make_exception_ptr(std::range_error("r")));
  EXPECT_TRUE(a.done());
  EXPECT_NE(a.exception(), nullptr);
}

TEST(AnyFuture, CancelAndCallback) {
  cfutures::promise<int> p;
  cfutures::any_future a = p.get_future();
  bool called = false;
  a.add_done_callback([&](const cfutures::any_future& g) { called = g.cancelled(); });
  EXPECT_TRUE(a.cancel());
  EXPECT_TRUE(called);
  EXPECT_THROW(a.exception(), cfutures::cancelled_error);
}

TEST(AnyFuture, DefaultHasNoState) {
  cfutures::any_future a;
  EXPECT_FALSE(a.valid());
  EXPECT_THROW(a.wait(), cfutures::invalid_state_error);
}
