// Composition workloads, Boost.Asio peer (libboost-dev): C++20 coroutines with co_spawn and
// use_awaitable on boost::asio::thread_pool(2). Prints the same "metric value unit" lines as
// cfutures_compose.cpp where Asio has a counterpart:
//   coro_loop_us           per iteration, in a coroutine running on the pool:
//                          co_await co_spawn(pool, trivial(i), use_awaitable)
//   blocking_loop_us       per iteration: co_spawn(pool, trivial(i), use_future).get()
//   then_pool_chain_1m_ms  10^6 dependent steps, each a coroutine spawned on the pool and
//                          awaited by the previous one (Asio's way to chain continuations);
//                          run twice, as *_cold_ms then warm, like the others (keep_heap.hpp)
// No then_chain_1m_ms (Asio has no continuation on a pending result) and no when_all rows
// (Boost 1.74's Asio has no when_all for awaitables).
// clang-format off
#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it
// clang-format on
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdio>

#include "keep_heap.hpp"

namespace asio = boost::asio;

namespace {

using clock_type = std::chrono::steady_clock;

double us_since(clock_type::time_point start) {
  return std::chrono::duration<double, std::micro>(clock_type::now() - start).count();
}

asio::awaitable<long> trivial(long i) { co_return i + 1; }

asio::awaitable<long> coro_loop(asio::thread_pool& pool, int n) {
  long sum = 0;
  for (int i = 0; i < n; ++i) sum += co_await asio::co_spawn(pool, trivial(i), asio::use_awaitable);
  co_return sum;
}

asio::awaitable<long> chain(asio::thread_pool& pool, int n) {
  long v = 0;
  for (int i = 0; i < n; ++i) v = co_await asio::co_spawn(pool, trivial(v), asio::use_awaitable);
  co_return v;
}

double coro_per_iteration(asio::thread_pool& pool, int n) {
  const auto start = clock_type::now();
  asio::co_spawn(pool, coro_loop(pool, n), asio::use_future).get();
  return us_since(start) / n;
}

double blocking_per_iteration(asio::thread_pool& pool, int n) {
  const auto start = clock_type::now();
  long sum = 0;
  for (int i = 0; i < n; ++i) sum += asio::co_spawn(pool, trivial(i), asio::use_future).get();
  if (sum == 42) std::puts("");
  return us_since(start) / n;
}

}  // namespace

int main() {
  bench_keep_heap();
  asio::thread_pool pool(2);
  blocking_per_iteration(pool, 2000);  // warm-up
  coro_per_iteration(pool, 2000);
  const double blocking = blocking_per_iteration(pool, 20000);
  const double coro = coro_per_iteration(pool, 20000);
  std::printf("coro_loop_us %.3f us\nblocking_loop_us %.3f us\n", coro, blocking);
  for (const char* name : {"then_pool_chain_1m_cold_ms", "then_pool_chain_1m_ms"}) {
    const auto start = clock_type::now();
    const long v = asio::co_spawn(pool, chain(pool, 1000000), asio::use_future).get();
    std::printf("%s %.1f ms\n", name, us_since(start) / 1000);
    if (v != 1000000) return 1;
  }
}
