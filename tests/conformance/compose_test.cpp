// API.md "Composition", run against every executor (executor_traits.hpp; the MPI binary runs
// it over comm_executor too): then, when_all, when_any, dataflow and coroutines over the
// executor's futures — values, exceptions, cancellation, unwrapping, eager coroutine start,
// resumption threads, coroutine frames destroyed, no deadlock on 1-worker executors, no
// thread per waiting node. Calls sent to the executor are plain functions (tasks.hpp);
// continuations run here (then(fn)) may capture.
#include <gtest/gtest.h>

#include <atomic>
#include <cfutures/cfutures.hpp>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "executor_traits.hpp"
#include "tasks.hpp"
#include "test_support.hpp"

namespace conformance {
namespace {

using cfutures::future;
using cfutures::promise;

template <class Traits>
class ComposeTest : public executor_test_base<Traits> {
 protected:
  static constexpr bool is_thread_pool =
      std::is_same_v<typename Traits::executor_type, cfutures::thread_pool_executor>;

  // A future of this executor that is cancelled: queued behind `g`'s blockers, then
  // cancelled. Precondition: block_all_workers(g) was called.
  future<int> cancelled_call() {
    auto f = this->executor->submit(tasks::mul, 1, 1);
    EXPECT_TRUE(f.cancel());
    return f;
  }
};
TYPED_TEST_SUITE(ComposeTest, executor_types, executor_names);

constexpr std::chrono::milliseconds bounded = std::chrono::seconds(30);

// --- then --------------------------------------------------------------------------------

TYPED_TEST(ComposeTest, ThenPassesValuesAndExceptions) {
  auto& ex = *this->executor;
  EXPECT_EQ(ex.submit(tasks::mul, 6, 7).then([](int v) { return v + 1; }).result(), 43);
  EXPECT_EQ(ex.submit(tasks::mul, 2, 3).then(ex, tasks::to_str).result(), "6");
  // fn's exception, thrown where fn runs (for then(ex, fn): in the executor).
  auto thrown = ex.submit(tasks::to_str, 5).then(ex, tasks::throw_out_of_range);
  EXPECT_THROW(thrown.result(), std::out_of_range);
  // A failed source: fn is not called, the continuation fails the same way.
  std::atomic<bool> called{false};
  auto failed = ex.submit(tasks::throw_out_of_range, std::string("boom"));
  auto g = failed.then([&](int v) {
    called = true;
    return v;
  });
  EXPECT_THROW(g.result(), std::out_of_range);
  EXPECT_THROW(failed.then(ex, tasks::abs_int).result(), std::out_of_range);
  EXPECT_FALSE(called);
}

TYPED_TEST(ComposeTest, ThenUnwrapsAFutureThatFnReturns) {
  auto& ex = *this->executor;
  auto g = ex.submit(tasks::mul, 2, 3).then([&ex](int v) { return ex.submit(tasks::mul, v, 10); });
  static_assert(std::is_same_v<decltype(g), future<int>>);
  EXPECT_EQ(g.result(), 60);
  auto failing = ex.submit(tasks::mul, 1, 1).then([&ex](int) {
    return ex.submit(tasks::throw_out_of_range, std::string("inner"));
  });
  EXPECT_THROW(failing.result(), std::out_of_range);
}

TYPED_TEST(ComposeTest, CancellationOfTheSourceAndOfTheContinuation) {
  gate g(this->scratch, "gate");
  auto blockers = this->block_all_workers(g);
  auto cancelled = this->cancelled_call();
  EXPECT_TRUE(cancelled.then([](int v) { return v; }).cancelled());
  EXPECT_TRUE(cancelled.then(*this->executor, tasks::abs_int).cancelled());
  // Cancelling a continuation before fn starts keeps fn from running, not the source.
  std::atomic<bool> called{false};
  auto queued = this->executor->submit(tasks::mul, 3, 3);
  auto inline_then = queued.then([&](int v) {
    called = true;
    return v;
  });
  auto submitted_then = queued.then(*this->executor, tasks::to_str);
  EXPECT_TRUE(inline_then.cancel());
  EXPECT_TRUE(submitted_then.cancel());
  g.open();
  EXPECT_EQ(queued.result(), 9);
  EXPECT_TRUE(inline_then.cancelled());
  EXPECT_TRUE(submitted_then.cancelled());
  EXPECT_FALSE(called);
  for (auto& b : blockers) EXPECT_EQ(b.result(), 0);
}

// --- when_all, when_any -----------------------------------------------------------------

TYPED_TEST(ComposeTest, WhenAllOfDifferentTypesAndOfARangeNeverFails) {
  auto& ex = *this->executor;
  auto all = cfutures::when_all(ex.submit(tasks::mul, 2, 3), ex.submit(tasks::to_str, 7),
                                ex.submit(tasks::throw_out_of_range, std::string("x")))
                 .result();
  EXPECT_EQ(std::get<0>(all).result(), 6);
  EXPECT_EQ(std::get<1>(all).result(), "7");
  EXPECT_THROW(std::get<2>(all).result(), std::out_of_range);
  std::vector<future<int>> fs;
  for (int i = 0; i < 50; ++i) fs.push_back(ex.submit(tasks::mul, i, i));
  const auto done = cfutures::when_all(fs).result();
  ASSERT_EQ(done.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(done[static_cast<std::size_t>(i)].result(), i * i);
  EXPECT_TRUE(cfutures::when_all(std::vector<future<int>>{}).done());
}

TYPED_TEST(ComposeTest, WhenAnyGivesTheIndexOfTheFirstDone) {
  auto& ex = *this->executor;
  promise<int> never;
  std::vector<future<int>> fs{never.get_future(), ex.submit(tasks::mul, 2, 2)};
  auto any = cfutures::when_any(fs);
  const auto r = any.result();
  EXPECT_EQ(r.index, 1u);
  EXPECT_EQ(r.futures.at(1).result(), 4);
  EXPECT_FALSE(r.futures.at(0).done());
  // Several done already: the lowest index. Cancelling the result leaves the inputs alone.
  std::vector<future<int>> both{ex.submit(tasks::mul, 1, 1), ex.submit(tasks::mul, 2, 1)};
  cfutures::wait(both);
  EXPECT_EQ(cfutures::when_any(both).result().index, 0u);
  auto pending = cfutures::when_any(std::vector<future<int>>{never.get_future()});
  EXPECT_TRUE(pending.cancel());
  EXPECT_FALSE(never.get_future().done());
  EXPECT_THROW(cfutures::when_any(std::vector<future<int>>{}), std::invalid_argument);
  never.get_future().cancel();
}

// --- dataflow ----------------------------------------------------------------------------

TYPED_TEST(ComposeTest, DataflowPassesValuesAndTheFirstFailureInArgumentOrder) {
  auto& ex = *this->executor;
  EXPECT_EQ(cfutures::dataflow(ex, tasks::add, ex.submit(tasks::mul, 2, 3), 4).result(), 10);
  EXPECT_EQ(cfutures::dataflow(ex, tasks::to_str, ex.submit(tasks::mul, 4, 4)).result(), "16");
  promise<int> cancelled;
  cancelled.get_future().cancel();
  auto failed = ex.submit(tasks::throw_out_of_range, std::string("first"));
  EXPECT_THROW(cfutures::dataflow(ex, tasks::add, failed, cancelled.get_future()).result(),
               std::out_of_range);
  EXPECT_TRUE(cfutures::dataflow(ex, tasks::add, cancelled.get_future(), failed).cancelled());
  // The call itself fails: its exception crosses back.
  auto thrown = cfutures::dataflow(ex, tasks::throw_out_of_range, ex.submit(tasks::to_str, 1));
  EXPECT_THROW(thrown.result(), std::out_of_range);
}

// --- coroutines --------------------------------------------------------------------------

template <class E>
future<int> sum_of_products(E& ex, std::thread::id& started_on, int n) {
  started_on = std::this_thread::get_id();
  tracked local(1);
  int sum = 0;
  for (int i = 1; i <= n; ++i) sum += co_await ex.submit(tasks::mul, i, i);
  try {
    co_await ex.submit(tasks::throw_out_of_range, std::string("caught"));
  } catch (const std::out_of_range&) {
    sum += local.value;
  }
  co_return sum;
}

TYPED_TEST(ComposeTest, CoroutinesStartEagerlyAwaitValuesAndExceptionsAndDestroyTheirFrames) {
  const int live_before = tracked::live();
  std::thread::id started_on;
  auto f = sum_of_products(*this->executor, started_on, 5);
  EXPECT_EQ(started_on, std::this_thread::get_id());  // started at once, here
  EXPECT_EQ(f.result(), 1 + 4 + 9 + 16 + 25 + 1);
  EXPECT_EQ(tracked::live(), live_before);  // the frame is gone once the future is done
  auto escaping = [](auto& ex) -> future<int> {
    co_return co_await ex.submit(tasks::throw_out_of_range, std::string("escapes"));
  };
  EXPECT_THROW(escaping(*this->executor).result(), std::out_of_range);
  auto awaiting_cancelled = [](future<int> c) -> future<int> { co_return co_await c; };
  promise<int> p;
  p.get_future().cancel();
  EXPECT_THROW(awaiting_cancelled(p.get_future()).result(), cfutures::cancelled_error);
}

TYPED_TEST(ComposeTest, CoroutineResumesWhereTheCallbackRunsAndResumeOnMovesItToAPool) {
  cfutures::thread_pool_executor threads(1);
  const auto worker = threads.submit([] { return std::this_thread::get_id(); }).result();
  gate g(this->scratch, "gate");
  auto coro = [&](auto& ex) -> future<std::pair<std::thread::id, std::thread::id>> {
    co_await ex.submit(tasks::wait_for_file, g.path());  // not done: suspends
    const auto resumed = std::this_thread::get_id();
    co_await cfutures::resume_on(threads);
    co_return std::pair{resumed, std::this_thread::get_id()};
  };
  auto f = coro(*this->executor);
  EXPECT_FALSE(f.done());
  g.open();
  const auto [resumed, moved] = f.result();
  if constexpr (TestFixture::is_thread_pool) {
    EXPECT_NE(resumed, std::this_thread::get_id());  // the worker that completed the call
  }
  EXPECT_EQ(moved, worker);
}

TYPED_TEST(ComposeTest, CancellingACoroutineSuspendedOnACall) {
  gate g(this->scratch, "gate");
  auto blockers = this->block_all_workers(g);
  auto queued = this->executor->submit(tasks::mul, 5, 5);
  std::atomic<bool> saw{false};
  auto coro = [&saw](future<int> call) -> future<int> {
    try {
      co_return co_await call;
    } catch (const cfutures::cancelled_error&) {
      saw = true;
      throw;
    }
  };
  auto f = coro(queued);
  EXPECT_TRUE(f.cancel());
  EXPECT_THROW(f.result(), cfutures::cancelled_error);
  g.open();
  EXPECT_EQ(queued.result(), 25);  // the awaited call is left alone
  for (auto& b : blockers) EXPECT_EQ(b.result(), 0);
  EXPECT_TRUE(eventually([&] { return saw.load(); }, bounded));
}

// --- 1-worker executors, threads ------------------------------------------------------------

// then, dataflow, when_all and a coroutine, all on one executor of one worker.
template <class E>
future<int> mixed_graph(E& one) {
  auto f = one.submit(tasks::mul, 1, 1);
  for (int i = 0; i < 20; ++i) f = f.then(one, tasks::abs_int);
  auto d = cfutures::dataflow(one, tasks::add, f, one.submit(tasks::mul, 2, 2));
  std::vector<future<int>> many;
  for (int i = 0; i < 20; ++i) many.push_back(cfutures::dataflow(one, tasks::add, d, i));
  int sum = 0;
  for (const auto& x : co_await cfutures::when_all(many)) sum += x.result();
  co_return sum + co_await one.submit(tasks::mul, 10, 10);
}

TYPED_TEST(ComposeTest, NoDeadlockOnAOneWorkerExecutor) {
  std::unique_ptr<typename TestFixture::executor_type> own;
  auto* one = this->executor.get();
  if constexpr (TestFixture::worker_count != 1 && !requires { TypeParam::worker_count; }) {
    own = TypeParam::make(1);  // MPI executors keep the communicator's size: use the fixture's
    one = own.get();
  }
  auto f = mixed_graph(*one);
  ASSERT_TRUE(f.wait_for(bounded)) << "deadlock";
  EXPECT_EQ(f.result(), 20 * 5 + 190 + 100);
  if constexpr (TestFixture::is_thread_pool) {
    // A task of the pool waiting (result()) on when_all of its own pool's futures.
    auto nested = one->submit([one] {
      auto all = cfutures::when_all(one->submit(tasks::mul, 2, 2), one->submit(tasks::mul, 3, 3));
      const auto [a, b] = all.result();
      return a.result() + b.result();
    });
    ASSERT_TRUE(nested.wait_for(bounded)) << "deadlock";
    EXPECT_EQ(nested.result(), 13);
  }
}

TYPED_TEST(ComposeTest, NoThreadPerWaitingNode) {
  auto& ex = *this->executor;
  gate g(this->scratch, "gate");
  auto blockers = this->block_all_workers(g);
  auto awaiting = [](future<int> in) -> future<int> { co_return co_await in + 1; };
  const std::size_t before = count_threads();
  std::vector<future<int>> nodes;
  for (int i = 0; i < 100; ++i) {
    auto queued = ex.submit(tasks::mul, i, 2);
    nodes.push_back(queued.then([](int v) { return v + 1; }));
    nodes.push_back(queued.then(ex, tasks::abs_int));
    nodes.push_back(cfutures::dataflow(ex, tasks::add, queued, 1));
    nodes.push_back(cfutures::when_all(queued, queued).then([](const auto& all) {
      return std::get<0>(all).result() + 1;
    }));
    nodes.push_back(awaiting(queued));
  }
  for (const auto& n : nodes) EXPECT_FALSE(n.done());
  EXPECT_LE(count_threads(), before + 2) << "500 waiting nodes must not hold threads";
  g.open();
  for (std::size_t k = 0; k < nodes.size(); ++k) {
    const int i = static_cast<int>(k / 5);
    EXPECT_EQ(nodes[k].result(), k % 5 == 1 ? 2 * i : 2 * i + 1) << "node " << k;
  }
  for (auto& b : blockers) EXPECT_EQ(b.result(), 0);
}

}  // namespace
}  // namespace conformance
