// <cfutures/future.hpp>: what a C++ future adds to Python's Future — handles (validity,
// copies sharing one state, equality and hashing), void and move-only results, result()'s
// reference, request_stop(). The Python behaviour of a future (states, cancel, result and
// exception with timeouts, done-callbacks) is tested in tests/conformance/future_test.cpp.
#include "cfutures/future.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

#include "cfutures/promise.hpp"

using namespace std::chrono_literals;
using cfutures::future;
using cfutures::promise;

// --- handles: validity, copies, identity ---------------------------------------------------

TEST(Future, DefaultConstructedHasNoState) {
  future<int> f;
  EXPECT_FALSE(f.valid());
  EXPECT_THROW(f.done(), cfutures::invalid_state_error);
  EXPECT_THROW(f.result(), cfutures::invalid_state_error);
  promise<int> p;
  EXPECT_TRUE(p.get_future().valid());
}

TEST(Future, CopiesShareTheState) {
  promise<int> p;
  auto f = p.get_future();
  auto g = f;
  EXPECT_TRUE(f == g);
  EXPECT_EQ(std::hash<future<int>>{}(f), std::hash<future<int>>{}(g));
  EXPECT_TRUE(g.cancel());
  EXPECT_TRUE(f.cancelled());
  // get_future() may be called repeatedly: the same state.
  EXPECT_TRUE(p.get_future() == f);
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
  // Futures are map keys (Python's future_to_url): the same state is the same key.
  promise<int> p1, p2;
  std::unordered_map<future<int>, std::string> future_to_url;
  future_to_url[p1.get_future()] = "a";
  future_to_url[p2.get_future()] = "b";
  future_to_url[p1.get_future()] = "c";
  EXPECT_EQ(future_to_url.size(), 2u);
  EXPECT_EQ(future_to_url.at(p1.get_future()), "c");
  EXPECT_EQ(future_to_url.at(p2.get_future()), "b");
}

// --- value categories, void, move-only --------------------------------------------------

TEST(Future, VoidFuture) {
  promise<void> p;
  auto f = p.get_future();
  bool called = false;
  f.add_done_callback([&](const future<void>& cf) { called = cf.done(); });
  p.set_result();
  EXPECT_TRUE(called);
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.cancelled());
  EXPECT_NO_THROW(f.result());
  EXPECT_NO_THROW(f.result(0s));
  EXPECT_FALSE(f.exception());
  EXPECT_THROW(p.set_result(), cfutures::invalid_state_error);
}

TEST(Future, MoveOnlyResultIsMovedOutByRvalueResult) {
  promise<std::unique_ptr<int>> p;
  auto f = p.get_future();
  p.set_result(std::make_unique<int>(17));
  ASSERT_TRUE(f.result());  // const& access leaves it in place
  EXPECT_EQ(*f.result(), 17);
  std::unique_ptr<int> v = std::move(f).result();
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 17);
}

TEST(Future, ResultReferenceIsStable) {
  promise<std::string> p;
  p.set_result(std::string("hello"));
  auto f = p.get_future();
  const std::string& a = f.result();
  const std::string& b = f.result();
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(a, "hello");
}

// --- request_stop ---------------------------------------------------------------------------

TEST(Future, RequestStopWithoutStopTokenTaskIsFalse) {
  promise<int> p;
  EXPECT_FALSE(p.get_future().request_stop());
}
