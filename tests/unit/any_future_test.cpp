#include "cfutures/any_future.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

#include "cfutures/promise.hpp"

using namespace std::chrono_literals;

TEST(AnyFuture, SharesIdentityWithTypedFuture) {
  cfutures::promise<int> p;
  auto f = p.get_future();
  cfutures::any_future a = f;
  EXPECT_TRUE(a.valid());
  EXPECT_TRUE(a == f);
  EXPECT_TRUE(a == cfutures::any_future(f));
  EXPECT_EQ(std::hash<cfutures::any_future>{}(a), std::hash<cfutures::future<int>>{}(f));
  std::unordered_set<cfutures::any_future> set{a, cfutures::any_future(f)};
  EXPECT_EQ(set.size(), 1u);
  cfutures::promise<void> q;
  EXPECT_FALSE(a == cfutures::any_future(q.get_future()));
}

TEST(AnyFuture, ObservesState) {
  cfutures::promise<std::string> p;
  cfutures::any_future a = p.get_future();
  EXPECT_FALSE(a.done());
  EXPECT_FALSE(a.running());
  EXPECT_FALSE(a.wait_for(0s));
  EXPECT_FALSE(a.wait_for(1ms));
  EXPECT_THROW(a.exception(0s), cfutures::timeout_error);
  EXPECT_THROW(a.exception(1ms), cfutures::timeout_error);
  std::vector<std::string> seen;
  a.add_done_callback([&](const cfutures::any_future& cf) {
    seen.push_back(cf.cancelled() ? "cancelled" : "done");
  });
  p.set_result(std::string("x"));
  EXPECT_EQ(seen, std::vector<std::string>{"done"});
  EXPECT_TRUE(a.done());
  EXPECT_TRUE(a.wait_for(0s));
  EXPECT_FALSE(a.exception());
  EXPECT_FALSE(a.cancel());
}

TEST(AnyFuture, ReportsTheException) {
  cfutures::promise<double> p;
  cfutures::any_future a = p.get_future();
  p.set_exception(std::make_exception_ptr(std::range_error("r")));
  EXPECT_TRUE(a.done());
  auto e = a.exception();
  ASSERT_NE(e, nullptr);
  EXPECT_THROW(std::rethrow_exception(e), std::range_error);
}

TEST(AnyFuture, CancelAndCallback) {
  cfutures::promise<int> p;
  cfutures::any_future a = p.get_future();
  bool called = false;
  a.add_done_callback([&](const cfutures::any_future& g) { called = g.cancelled(); });
  EXPECT_TRUE(a.cancel());
  EXPECT_TRUE(called);
  EXPECT_TRUE(a.cancelled());
  EXPECT_TRUE(p.get_future().cancelled());  // the typed future shares the state
  EXPECT_THROW(a.exception(), cfutures::cancelled_error);
}

TEST(AnyFuture, DefaultHasNoState) {
  cfutures::any_future a;
  EXPECT_FALSE(a.valid());
  EXPECT_THROW(a.wait(), cfutures::invalid_state_error);
}
