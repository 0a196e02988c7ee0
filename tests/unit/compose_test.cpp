// when_all, when_any (compose.hpp) and dataflow (dataflow.hpp), on the thread and process
// pools; waiting inside a 1-worker pool on what they return.
#include "cfutures/compose.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "cfutures/dataflow.hpp"
#include "cfutures/process_pool_executor.hpp"
#include "cfutures/promise.hpp"
#include "cfutures/thread_pool_executor.hpp"

using cfutures::future;
using cfutures::promise;

namespace {

int sum3(int a, int b, int c) { return a + b + c; }
std::string label(int n, std::string s) { return s + std::to_string(n); }

}  // namespace

TEST(WhenAll, VariadicOfDifferentTypesIsDoneOnceAllAre) {
  promise<int> a;
  promise<std::string> b;
  promise<void> c;
  auto all = cfutures::when_all(a.get_future(), b.get_future(), c.get_future());
  static_assert(std::is_same_v<decltype(all),
                               future<std::tuple<future<int>, future<std::string>, future<void>>>>);
  a.set_result(1);
  c.set_exception(std::make_exception_ptr(std::runtime_error("c")));
  EXPECT_FALSE(all.done());
  b.set_result("b");
  ASSERT_TRUE(all.done());
  auto [fa, fb, fc] = all.result();  // never fails: holds the inputs, all done
  EXPECT_EQ(fa.result(), 1);
  EXPECT_EQ(fb.result(), "b");
  EXPECT_THROW(fc.result(), std::runtime_error);
}

TEST(WhenAll, RangeKeepsInputOrderAndEmptyIsDoneAtOnce) {
  cfutures::thread_pool_executor pool(4);
  std::vector<future<int>> fs;
  for (int i = 0; i < 100; ++i) fs.push_back(pool.submit([i] { return i; }));
  auto all = cfutures::when_all(fs).result();
  ASSERT_EQ(all.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(all[i], fs[i]);
    EXPECT_EQ(all[i].result(), i);
  }
  EXPECT_TRUE(cfutures::when_all(std::vector<future<int>>{}).done());
  EXPECT_TRUE(cfutures::when_all().done());
}

TEST(WhenAll, CancellingTheResultChangesNothingAboutTheInputs) {
  promise<int> a;
  std::vector<future<int>> fs{a.get_future()};
  auto all = cfutures::when_all(fs);
  auto any = cfutures::when_any(fs);
  EXPECT_TRUE(all.cancel());
  EXPECT_TRUE(any.cancel());
  EXPECT_FALSE(fs[0].cancelled());
  a.set_result(2);
  EXPECT_EQ(fs[0].result(), 2);
  EXPECT_TRUE(all.cancelled());
}

TEST(WhenAll, CancelledInputsCountAsDone) {
  promise<int> a;
  promise<int> b;
  auto all = cfutures::when_all(a.get_future(), b.get_future());
  a.get_future().cancel();
  b.set_result(1);
  EXPECT_TRUE(std::get<0>(all.result()).cancelled());
}

TEST(WhenAll, InputWithoutStateIsRejected) {
  EXPECT_THROW(cfutures::when_all(future<int>()), cfutures::invalid_state_error);
  EXPECT_THROW(cfutures::when_any(std::vector<future<int>>(1)), cfutures::invalid_state_error);
}

TEST(WhenAny, IndexOfTheFirstDone) {
  std::vector<promise<int>> ps(5);
  std::vector<future<int>> fs;
  for (auto& p : ps) fs.push_back(p.get_future());
  auto any = cfutures::when_any(fs);
  EXPECT_FALSE(any.done());
  ps[3].set_result(3);
  ps[1].set_result(1);
  auto r = any.result();
  EXPECT_EQ(r.index, 3u);
  ASSERT_EQ(r.futures.size(), 5u);
  EXPECT_EQ(r.futures[3], fs[3]);
  // when_any's state lives until every input is done (each holds a callback on it).
  for (int i : {0, 2, 4}) ps[i].set_result(i);
}

TEST(WhenAny, LowestIndexAmongThoseDoneAlready) {
  std::vector<promise<int>> ps(4);
  std::vector<future<int>> fs;
  for (auto& p : ps) fs.push_back(p.get_future());
  ps[2].set_result(2);
  fs[1].cancel();
  auto any = cfutures::when_any(fs);
  ASSERT_TRUE(any.done());
  EXPECT_EQ(any.result().index, 1u);
}

TEST(WhenAny, EmptyRangeThrowsInvalidArgument) {
  EXPECT_THROW(cfutures::when_any(std::vector<future<int>>{}), std::invalid_argument);
}

TEST(Dataflow, FutureArgumentsBecomeValues) {
  cfutures::thread_pool_executor pool(2);
  promise<int> a;
  auto b = pool.submit([] { return 30; });
  auto r = cfutures::dataflow(pool, sum3, a.get_future(), 3, b);
  EXPECT_FALSE(r.done());
  a.set_result(10);
  EXPECT_EQ(r.result(), 43);
}

TEST(Dataflow, RunsOnTheExecutor) {
  cfutures::thread_pool_executor pool(1);
  const auto worker = pool.submit([] { return std::this_thread::get_id(); }).result();
  promise<int> a;
  auto r = cfutures::dataflow(
      pool, [](int) { return std::this_thread::get_id(); }, a.get_future());
  a.set_result(1);
  EXPECT_EQ(r.result(), worker);
}

TEST(Dataflow, FirstFailureInArgumentOrderWins) {
  cfutures::thread_pool_executor pool(2);
  promise<int> a;
  promise<int> b;
  std::atomic<bool> called{false};
  auto r = cfutures::dataflow(
      pool, [&](int, int) { return called = true; }, a.get_future(), b.get_future());
  b.set_exception(std::make_exception_ptr(std::logic_error("second")));
  a.set_exception(std::make_exception_ptr(std::domain_error("first")));
  EXPECT_THROW(r.result(), std::domain_error);
  EXPECT_FALSE(called);
}

TEST(Dataflow, CancelledArgumentCancelsTheResult) {
  cfutures::thread_pool_executor pool(1);
  promise<int> a;
  promise<int> b;
  auto r = cfutures::dataflow(
      pool, [](int, int) { return 0; }, a.get_future(), b.get_future());
  a.get_future().cancel();
  b.set_exception(std::make_exception_ptr(std::logic_error("later")));
  EXPECT_TRUE(r.cancelled());
}

TEST(Dataflow, CancellingTheResultBeforeArgumentsAreReadyKeepsFnFromBeingSubmitted) {
  cfutures::thread_pool_executor pool(1);
  promise<int> a;
  std::atomic<bool> called{false};
  auto r = cfutures::dataflow(
      pool, [&](int) { called = true; }, a.get_future());
  EXPECT_TRUE(r.cancel());
  a.set_result(1);
  pool.shutdown();
  EXPECT_FALSE(called);
  EXPECT_FALSE(a.get_future().cancelled());
}

TEST(Dataflow, MoveOnlyValuesAndVoidDependencies) {
  cfutures::thread_pool_executor pool(2);
  auto p = pool.submit([] { return std::make_unique<int>(4); });
  std::atomic<int> order{0};
  auto first = pool.submit([&] { order = 1; });
  auto r = cfutures::dataflow(
      pool, [&](std::unique_ptr<int> v) { return *v + order.load(); }, std::move(p), first);
  EXPECT_EQ(r.result(), 5);
}

TEST(Dataflow, NoFutureArgumentsSubmitsAtOnceAndUnwraps) {
  cfutures::thread_pool_executor pool(2);
  EXPECT_EQ(cfutures::dataflow(pool, sum3, 1, 2, 3).result(), 6);
  auto r = cfutures::dataflow(
      pool, [&pool](int v) { return pool.submit([v] { return v * 2; }); }, 5);
  static_assert(std::is_same_v<decltype(r), future<int>>);
  EXPECT_EQ(r.result(), 10);
}

TEST(Dataflow, ShutDownExecutorFailsTheResult) {
  cfutures::thread_pool_executor pool(1);
  promise<int> a;
  auto r = cfutures::dataflow(
      pool, [](int v) { return v; }, a.get_future());
  pool.shutdown();
  a.set_result(1);
  EXPECT_THROW(r.result(), cfutures::shutdown_error);
}

TEST(Dataflow, OnTheProcessPoolValuesCrossAsArguments) {
  cfutures::process_pool_executor pool({.max_workers = 2, .method = cfutures::start_method::fork});
  auto a = pool.submit(sum3, 1, 2, 3);
  auto b = cfutures::dataflow(pool, sum3, a, 10, a);
  auto c = cfutures::dataflow(pool, label, b, std::string("n="));
  EXPECT_EQ(c.result(), "n=22");
}

// Item 5 of issue 17: a task that waits (result()) on a combination of its own pool's
// futures runs queued work meanwhile, even with one worker.
TEST(WaitInsideThePool, WhenAllOfOwnFuturesOnOneWorker) {
  cfutures::thread_pool_executor pool(1);
  auto outer = pool.submit([&pool] {
    auto a = pool.submit([] { return 1; });
    auto b = pool.submit([] { return std::string("2"); });
    auto [fa, fb] = cfutures::when_all(a, b).result();
    std::vector<future<int>> fs{pool.submit([] { return 3; }), pool.submit([] { return 4; })};
    const auto any = cfutures::when_any(fs).result().index;
    return fa.result() + std::stoi(fb.result()) + static_cast<int>(any < 2) + fs[1].result();
  });
  EXPECT_EQ(outer.result(), 1 + 2 + 1 + 4);
}

TEST(WaitInsideThePool, ThenAndDataflowOnOneWorker) {
  cfutures::thread_pool_executor pool(1);
  auto outer = pool.submit([&pool] {
    auto a = pool.submit([] { return 1; }).then([](int v) { return v + 1; });
    auto b = pool.submit([] { return 10; }).then(pool, [](int v) { return v + 1; });
    return cfutures::dataflow(
               pool, [](int x, int y) { return x + y; }, a, b)
        .result();
  });
  EXPECT_EQ(outer.result(), 13);
}
