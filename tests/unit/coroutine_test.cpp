// Coroutines (compose.hpp): co_await on future<T>, future<T> as a coroutine return type,
// co_await resume_on(pool); on the thread and process pools.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "cfutures/compose.hpp"
#include "cfutures/process_pool_executor.hpp"
#include "cfutures/promise.hpp"
#include "cfutures/thread_pool_executor.hpp"

using cfutures::future;
using cfutures::promise;

namespace {

int square(int x) { return x * x; }

// Counts live instances: a coroutine's locals and parameters must be destroyed.
struct tracked {
  static inline std::atomic<int> alive{0};
  tracked() { ++alive; }
  tracked(const tracked&) { ++alive; }
  ~tracked() { --alive; }
};

future<int> add_after(future<int> f, int n) { co_return co_await f + n; }

future<std::thread::id> where_resumed(future<int> f) {
  co_await f;
  co_return std::this_thread::get_id();
}

}  // namespace

TEST(Coroutine, StartsAtOnceInTheCallersThread) {
  std::thread::id started_on;
  bool started = false;
  auto coro = [&]() -> future<int> {
    started_on = std::this_thread::get_id();
    started = true;
    co_return 1;
  };
  auto f = coro();
  EXPECT_TRUE(started);
  EXPECT_EQ(started_on, std::this_thread::get_id());
  EXPECT_TRUE(f.done());
  EXPECT_EQ(f.result(), 1);
}

TEST(Coroutine, AwaitingADoneFutureDoesNotSuspend) {
  promise<int> p;
  p.set_result(41);
  auto f = add_after(p.get_future(), 1);
  EXPECT_TRUE(f.done());
  EXPECT_EQ(f.result(), 42);
}

TEST(Coroutine, ResumesInTheCompletingThread) {
  promise<int> p;
  auto f = where_resumed(p.get_future());
  EXPECT_FALSE(f.done());
  std::thread completer([&] { p.set_result(1); });
  const auto id = completer.get_id();
  completer.join();
  EXPECT_EQ(f.result(), id);
}

TEST(Coroutine, ExceptionsPropagateThroughCoAwaitAndCoReturn) {
  promise<int> p;
  auto f = add_after(p.get_future(), 1);
  p.set_exception(std::make_exception_ptr(std::out_of_range("x")));
  EXPECT_THROW(f.result(), std::out_of_range);
  auto thrower = []() -> future<void> {
    throw std::logic_error("before any suspension");
    co_return;
  };
  auto g = thrower();  // the caller does not see it: the future holds it
  EXPECT_THROW(g.result(), std::logic_error);
}

TEST(Coroutine, CancelledFutureThrowsCancelledError) {
  promise<int> p;
  auto coro = [](future<int> f) -> future<std::string> {
    try {
      co_await f;
    } catch (const cfutures::cancelled_error&) {
      co_return "cancelled";
    }
    co_return "value";
  };
  auto f = coro(p.get_future());
  p.get_future().cancel();
  EXPECT_EQ(f.result(), "cancelled");
}

TEST(Coroutine, RvalueAwaitMovesTheValueOutAndLvalueAwaitDoesNot) {
  cfutures::thread_pool_executor pool(1);
  auto coro = [&]() -> future<int> {
    std::unique_ptr<int> p = co_await pool.submit([] { return std::make_unique<int>(6); });
    auto shared = pool.submit([] { return std::string("kept"); });
    const std::string& first = co_await shared;
    const std::string second = co_await shared;
    co_return *p + static_cast<int>(first.size() + second.size());
  };
  EXPECT_EQ(coro().result(), 6 + 4 + 4);
}

TEST(Coroutine, VoidCoroutinesAndVoidFutures) {
  cfutures::thread_pool_executor pool(2);
  std::atomic<int> n{0};
  auto coro = [&]() -> future<void> {
    co_await pool.submit([&] { ++n; });
    co_await pool.submit([&] { ++n; });
  };
  coro().result();
  EXPECT_EQ(n, 2);
}

TEST(Coroutine, FrameIsDestroyedBeforeTheFutureIsDone) {
  promise<int> p;
  auto coro = [](tracked, future<int> f) -> future<int> {
    tracked local;
    co_return co_await f;
  };
  auto f = coro(tracked{}, p.get_future());
  EXPECT_GE(tracked::alive, 1);
  p.set_result(3);
  EXPECT_EQ(f.result(), 3);
  EXPECT_EQ(tracked::alive, 0);
}

TEST(Coroutine, ResumeOnContinuesOnAWorker) {
  cfutures::thread_pool_executor pool(1);
  const auto worker = pool.submit([] { return std::this_thread::get_id(); }).result();
  auto coro = [&]() -> future<std::pair<std::thread::id, std::thread::id>> {
    const auto before = std::this_thread::get_id();
    co_await cfutures::resume_on(pool);
    co_return std::pair{before, std::this_thread::get_id()};
  };
  const auto [before, after] = coro().result();
  EXPECT_EQ(before, std::this_thread::get_id());
  EXPECT_EQ(after, worker);
}

TEST(Coroutine, ResumeOnAShutDownPoolThrowsShutdownError) {
  cfutures::thread_pool_executor pool(1);
  pool.shutdown();
  auto coro = [&]() -> future<int> {
    co_await cfutures::resume_on(pool);
    co_return 1;
  };
  EXPECT_THROW(coro().result(), cfutures::shutdown_error);
}

TEST(Coroutine, ResumeOnWhoseTaskIsCancelledThrowsCancelledError) {
  cfutures::thread_pool_executor pool(1);
  promise<void> gate;
  pool.submit([g = gate.get_future()] { g.wait(); });
  auto coro = [&]() -> future<int> {
    co_await cfutures::resume_on(pool);  // queued behind the blocked task
    co_return 1;
  };
  auto f = coro();
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    gate.set_result();
  });
  pool.shutdown({.wait = true, .cancel_futures = true});
  releaser.join();
  EXPECT_THROW(f.result(), cfutures::cancelled_error);
}

TEST(Coroutine, AwaitedProcessPoolFutureThenResumeOnAThreadPool) {
  cfutures::process_pool_executor procs({.max_workers = 1, .method = cfutures::start_method::fork});
  cfutures::thread_pool_executor threads(1);
  const auto worker = threads.submit([] { return std::this_thread::get_id(); }).result();
  auto coro = [&]() -> future<std::pair<int, std::thread::id>> {
    const int v = co_await procs.submit(square, 7);  // resumes in a thread of the library's
    co_await cfutures::resume_on(threads);
    const auto on = std::this_thread::get_id();
    co_return std::pair{v + co_await procs.submit(square, 2), on};
  };
  const auto [v, on] = coro().result();
  EXPECT_EQ(v, 53);
  EXPECT_EQ(on, worker);
}

TEST(Coroutine, WaitingForACoroutineInsideAOneWorkerPoolDoesNotDeadlock) {
  cfutures::thread_pool_executor pool(1);
  auto outer = pool.submit([&pool] {
    auto coro = [&]() -> future<int> {
      int a = co_await pool.submit([] { return 1; });
      int b = co_await pool.submit([] { return 2; });
      co_return a + b;
    };
    return coro().result();
  });
  EXPECT_EQ(outer.result(), 3);
}

TEST(Coroutine, DeepChainOfCoroutinesDoesNotOverflowTheStack) {
  promise<int> p;
  std::vector<future<int>> chain{p.get_future()};
  for (int i = 0; i < 20000; ++i) chain.push_back(add_after(chain.back(), 1));
  p.set_result(0);
  EXPECT_EQ(chain.back().result(), 20000);
}

// Cancelling a coroutine's future (Python's Task.cancel()).

namespace {

// Completes `done` when destroyed: tells the test that a coroutine's frame is gone.
struct on_destroy {
  std::optional<promise<void>> done;
  explicit on_destroy(promise<void> p) : done(std::move(p)) {}
  on_destroy(on_destroy&& other) noexcept : done(std::exchange(other.done, std::nullopt)) {}
  ~on_destroy() {
    if (done) done->set_result();
  }
};

}  // namespace

TEST(CoroutineCancel, CancelWhileSuspendedIsDoneAtOnceAndTheCoroutineSeesItWhenResumed) {
  promise<int> p;
  promise<void> frame_gone;
  std::atomic<bool> saw_cancelled{false};
  auto coro = [&](on_destroy guard, future<int> f) -> future<int> {
    try {
      co_return co_await f;
    } catch (const cfutures::cancelled_error&) {
      saw_cancelled = true;
      throw;
    }
  };
  auto f = coro(on_destroy(frame_gone), p.get_future());
  EXPECT_TRUE(f.running());
  EXPECT_TRUE(f.cancel());
  EXPECT_TRUE(f.cancelled());
  EXPECT_TRUE(f.done());
  EXPECT_THROW(f.result(), cfutures::cancelled_error);
  EXPECT_TRUE(f.cancel());              // already cancelled: true again
  EXPECT_FALSE(p.get_future().done());  // the awaited future is left alone
  EXPECT_FALSE(saw_cancelled);          // still suspended
  p.set_result(5);                      // resumes it here: cancelled_error at its co_await
  EXPECT_TRUE(saw_cancelled);
  EXPECT_TRUE(frame_gone.get_future().done());
  EXPECT_TRUE(f.cancelled());
}

TEST(CoroutineCancel, AwaitingARunningCallTheCoroutineSeesCancelledErrorWhenItEnds) {
  cfutures::thread_pool_executor pool(1);
  promise<void> gate;
  promise<void> started;
  promise<void> frame_gone;
  auto call = pool.submit([&] {
    started.set_result();
    gate.get_future().wait();
    return 7;
  });
  started.get_future().wait();
  std::atomic<int> seen{0};
  auto coro = [&](on_destroy guard, future<int> running) -> future<int> {
    try {
      co_return co_await running;
    } catch (const cfutures::cancelled_error&) {
      seen = -1;
      co_return 0;  // reached after cancel(): dropped
    }
  };
  auto f = coro(on_destroy(frame_gone), call);
  EXPECT_TRUE(f.cancel());  // the call is running: it goes on, the coroutine waits for it
  EXPECT_THROW(f.result(), cfutures::cancelled_error);
  EXPECT_FALSE(frame_gone.get_future().done());
  gate.set_result();
  EXPECT_EQ(call.result(), 7);
  frame_gone.get_future().wait();
  EXPECT_EQ(seen, -1);
  EXPECT_TRUE(f.cancelled());
}

TEST(CoroutineCancel, CancelledWhileRunningTheNextAwaitThrows) {
  cfutures::thread_pool_executor pool(1);
  promise<void> inside;
  promise<void> go_on;
  promise<int> ready;
  ready.set_result(1);
  std::atomic<bool> threw{false};
  auto coro = [&]() -> future<std::string> {
    co_await cfutures::resume_on(pool);
    inside.set_result();
    go_on.get_future().wait();  // running, not suspended, while the test cancels
    try {
      co_await ready.get_future();  // already done, yet cancelled_error
    } catch (const cfutures::cancelled_error&) {
      threw = true;
    }
    co_return std::string(100, 'x');  // a value nobody will own: must not leak
  };
  auto f = coro();
  inside.get_future().wait();
  EXPECT_TRUE(f.cancel());
  EXPECT_TRUE(f.cancelled());
  go_on.set_result();
  pool.shutdown({.wait = true});
  EXPECT_TRUE(threw);
  EXPECT_THROW(f.result(), cfutures::cancelled_error);
}

TEST(CoroutineCancel, AFinishedCoroutineCannotBeCancelled) {
  auto coro = []() -> future<int> { co_return 1; };
  auto f = coro();
  EXPECT_FALSE(f.cancel());
  EXPECT_EQ(f.result(), 1);
}

TEST(CoroutineCancel, CancellingTheOuterCoroutineLeavesTheInnerOneRunning) {
  promise<int> p;
  auto inner = future<int>();
  auto outer_coro = [&]() -> future<int> {
    inner = add_after(p.get_future(), 1);
    co_return co_await inner;
  };
  auto outer = outer_coro();
  EXPECT_TRUE(outer.cancel());
  EXPECT_FALSE(inner.done());
  p.set_result(1);
  EXPECT_EQ(inner.result(), 2);
  EXPECT_TRUE(outer.cancelled());
}
