// cfutures/compose.hpp — composing futures without blocking: then, when_all, when_any,
// coroutines (co_await, future<T> as a coroutine, resume_on).
//
// What:
//   auto g = f.then(fn);        fn(value) once f has a value (fn() for future<void>), in the
//                               thread that completes f (at once, here, if f is done); g gets
//                               fn's result or exception. fn may take the future itself
//                               instead (fn(future<T>), as in HPX and Boost.Thread): it is
//                               then called whatever f's outcome, failures included.
//   auto g = f.then(ex, fn);    the same, fn submitted to executor ex with the value
//   when_all(fa, fb)            future<std::tuple<future<A>, future<B>>>, done once all are
//   when_all(range)             future<std::vector<future<T>>>, likewise
//   when_any(range)             future<when_any_result<future<T>>>: {index, futures}, done
//                               once one is; index is the lowest input done already, if any
//   co_await f                  suspends the coroutine until f is done; its value (const T&;
//                               T moved out for an rvalue f) or its exception
//   future<T> coro(...)         a coroutine returning future<T>: runs at once, in the
//                               caller's thread; co_return sets the value, an escaping
//                               exception the exception
//   co_await resume_on(ex)      continues the coroutine as a task on executor ex (a
//                               thread_pool_executor; any executor that runs callables)
//   dataflow(ex, fn, args...)   see dataflow.hpp
// then: a failed f fails g with the same exception without calling fn; a cancelled f
//   cancels g. If fn returns a future<V>, g is a future<V> that takes that future's value
//   (moved out of it), exception or cancellation. Cancelling g before fn starts keeps fn
//   from running (with ex: cancels fn's task while it waits in ex); it never cancels f.
//   Chaining on an rvalue (std::move(f).then(fn), or pool.submit(...).then(fn)) passes the
//   value as T&& (moved out of f's state, as result() && does), so move-only values travel.
// when_all never fails: its value holds the inputs, all done. Cancelling what when_all or
//   when_any return changes nothing about their inputs.
// Where continuations and coroutines run: where a done-callback would — the thread that
//   completes the future (a pool worker; for a process-pool or MPI future, the library's
//   thread that receives the reply, or a thread blocked in result() on that pool that
//   receives it for it), or at once in the calling thread if the future is done. Such a
//   thread receives every other reply of that executor too: keep what runs there short and
//   never block in it on another future of the same process pool or MPI executor; put long
//   work behind co_await resume_on(thread_pool) or then(thread_pool, fn).
// Waiting inside a thread pool: result()/wait() on what then, when_all, when_any, dataflow
//   or a coroutine returned, called in a task of the pool that created it (or of the pool
//   its inputs come from), runs queued tasks of that pool meanwhile, as result() on the
//   pool's own futures does: no deadlock on a 1-worker pool.
//
// Thread safety: every function may be called from any thread, concurrently.
// Blocking: never. Nothing here blocks or occupies a thread while it waits: each input gets
//   one done-callback (no thread per waiting node); a suspended coroutine holds no thread.
// Throws: co_await in a coroutine whose future was cancelled: cancelled_error (above);
//   when_any of an empty range: std::invalid_argument; a future without state as an
//   input: invalid_state_error; then(ex, fn): what ex.submit throws becomes g's exception;
//   resume_on: what ex.submit throws is thrown by the co_await, and a task dropped by ex
//   (cancelled at shutdown, broken pool) resumes the coroutine in the dropping thread with
//   cancelled_error or the pool's error.
// Python counterpart: none in concurrent.futures. asyncio: co_await ≈ await,
//   when_all ≈ asyncio.gather(return_exceptions=True) / wait(ALL_COMPLETED), when_any ≈
//   wait(FIRST_COMPLETED), then ≈ add_done_callback chaining. Dask/Ray: dataflow.
// Deviations (where the contract is silent; as folly/HPX/Boost.Thread users expect):
// - then's g is RUNNING while fn runs, and stays RUNNING while it waits for a future that fn
//   returned (cancel() then returns false); then(ex, fn)'s g stays PENDING until the
//   outcome arrives (cancel() succeeds and cancels fn's task if it has not started).
// - The value of a future that fn returns is moved out of it (HPX, folly); an empty one
//   fails g with invalid_state_error.
// - A coroutine's future is RUNNING from the start, yet cancel() works on it (as asyncio's
//   Task.cancel(), unlike a running call's): until the coroutine has finished, cancel()
//   returns true and the future is cancelled at once (done for everyone, result() throws
//   cancelled_error). The coroutine itself sees cancelled_error at its co_await: the one it
//   is suspended in, when that future is done, or its next one if it was running; from then
//   on every co_await of a future in it throws cancelled_error. It may catch it; whatever it
//   co_returns or throws afterwards is dropped. Its frame is destroyed when it ends, after
//   its future was cancelled. Unlike Task.cancel(), the future it awaits is not cancelled
//   (it may be shared; then, when_all and dataflow leave their inputs alone too): cancel
//   that one as well to stop its work and resume the coroutine at once.
// - The frame of a coroutine returning future<T> is destroyed (its locals and parameters
//   with it) before its future becomes done (unless the future was cancelled: see above).
// - ex in then(ex, fn) and resume_on(ex) is held by reference: it must outlive the call.
// - when_any, when_all and dataflow register a callback on every input, which holds their
//   state (and so the inputs they hold) until that input is done: an input that never
//   completes (a promise dropped unfulfilled) keeps them alive, as a Python Future nobody
//   completes keeps its callbacks.
// - Chains never grow the stack without bound: past 64 continuations (or coroutine
//   resumptions) nested in one thread, the next one runs once the outer ones have returned,
//   still in that thread. Do not block, inside such a deeply nested continuation, on a
//   future that only a later link of the same chain completes.
// P2300 / stdexec interop: future<T> is awaitable, so stdexec's connect accepts it as a
//   sender (as_awaitable/awaitable-sender support), e.g.
//     auto [v] = stdexec::sync_wait(pool.submit(f)).value();
//     auto s = stdexec::then(pool.submit(f), [](int v) { return v + 1; });
//   (inside a coroutine task type of stdexec, `co_await fut` works directly). A
//   get_scheduler() for executors can be added later without changing anything here.
//   stdexec is not packaged in Debian 12, so cfutures is not tested against it;
//   tests/unit/compose_interop_test.cpp checks the awaitable shape its connect relies on
//   (operator co_await giving await_ready / await_suspend / await_resume, in a promise
//   without await_transform) and drives a receiver as its connect does.
#pragma once

#include <array>
#include <cstddef>
#include <iterator>
#include <ranges>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "cfutures/errors.hpp"
#include "cfutures/future.hpp"

namespace cfutures {

namespace detail {
template <class F>
struct is_future_handle : std::false_type {};
template <class T>
struct is_future_handle<future<T>> : std::true_type {};
template <class R>
concept typed_future_range = std::ranges::input_range<R> &&
    is_future_handle<std::remove_cvref_t<std::ranges::range_value_t<R>>>::value;

template <class R>
auto collect_futures(R&& range) {
  std::vector<std::remove_cvref_t<std::ranges::range_value_t<R>>> out;
  if constexpr (std::ranges::sized_range<R>) out.reserve(std::ranges::size(range));
  for (auto&& f : range) {
    if (!f.valid()) throw_no_state();
    out.push_back(f);
  }
  return out;
}
}  // namespace detail

// A future of all the inputs (of any types), done once every one is done; never fails.
template <class... T>
future<std::tuple<future<T>...>> when_all(const future<T>&... inputs) {
  if ((... || !inputs.valid())) detail::throw_no_state();
  using state = detail::when_all_state<std::tuple<future<T>...>>;
  const std::array<const void*, sizeof...(T)> origins{
      detail::future_access::state(inputs)->origin...};
  const void* origin = nullptr;
  for (const void* o : origins) origin = origin ? origin : o;
  auto [out, s] =
      detail::make_combined<state>(origin, std::tuple<future<T>...>(inputs...), sizeof...(T));
  s->start(std::array<detail::state_base*, sizeof...(T)>{detail::future_access::state(inputs)...});
  return out;
}

// A future of the range's futures, done once every one is done (at once if none); never fails.
template <detail::typed_future_range R>
auto when_all(R&& range) {
  auto inputs = detail::collect_futures(std::forward<R>(range));
  using state = detail::when_all_state<decltype(inputs)>;
  std::vector<detail::state_base*> states;
  states.reserve(inputs.size());
  for (const auto& f : inputs) states.push_back(detail::future_access::state(f));
  const std::size_t n = inputs.size();
  auto [out, s] = detail::make_combined<state>(detail::inputs_origin(inputs), std::move(inputs), n);
  s->start(states);
  return out;
}

// A future of {index, futures}, done once one input is; std::invalid_argument if none.
template <detail::typed_future_range R>
auto when_any(R&& range) {
  auto inputs = detail::collect_futures(std::forward<R>(range));
  if (inputs.empty()) throw std::invalid_argument("when_any: the range of futures is empty");
  using T = typename std::ranges::range_value_t<decltype(inputs)>::value_type;
  const void* origin = detail::inputs_origin(inputs);
  auto [out, s] = detail::make_combined<detail::when_any_state<T>>(origin, std::move(inputs));
  s->start();
  return out;
}

// co_await resume_on(ex): the coroutine continues as a task submitted to ex.
template <class E>
requires requires(E& ex, void (*fn)()) { ex.submit(fn); }
auto resume_on(E& ex) noexcept { return detail::resume_on_awaiter<E>(ex); }

}  // namespace cfutures
