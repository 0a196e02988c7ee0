// Composition workloads (issue 17), cfutures side. Prints one "metric value unit" line each:
//   coro_loop_us           per iteration: co_await pool.submit(trivial) in a coroutine
//   blocking_loop_us       per iteration: pool.submit(trivial).result() (the reference)
//   coro_vs_blocking       coro_loop_us / blocking_loop_us (issue 17 asks for <= 1.5)
//   proc_coro_loop_us      the same coroutine loop on a process_pool_executor(1) (fork)
//   proc_blocking_loop_us  the blocking loop on it
//   then_chain_1m_ms       10^6 inline continuations chained on a pending future, then run
//   then_pool_chain_1m_ms  10^6 continuations each submitted to the pool (then(pool, fn)),
//                          chained on the pool's first call while it runs
//   *_cold_ms              the same chains measured first, on a fresh heap (keep_heap.hpp)
//   when_all_100k_ms       when_all(...).result() over 100 000 finished futures
//   wait_all_100k_ms       wait(..., all_completed) over the same futures (the reference)
// All on thread_pool_executor(2) unless named.
#include <cfutures/cfutures.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "keep_heap.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

double us_since(clock_type::time_point start) {
  return std::chrono::duration<double, std::micro>(clock_type::now() - start).count();
}

int trivial(int i) { return i + 1; }

template <class Pool>
cfutures::future<long> coro_loop(Pool& pool, int n) {
  long sum = 0;
  for (int i = 0; i < n; ++i) sum += co_await pool.submit(trivial, i);
  co_return sum;
}

template <class Pool>
double coro_per_iteration(Pool& pool, int n) {
  const auto start = clock_type::now();
  coro_loop(pool, n).result();
  return us_since(start) / n;
}

template <class Pool>
double blocking_per_iteration(Pool& pool, int n) {
  const auto start = clock_type::now();
  long sum = 0;
  for (int i = 0; i < n; ++i) sum += pool.submit(trivial, i).result();
  if (sum == 42) std::puts("");
  return us_since(start) / n;
}

double inline_chain() {
  cfutures::promise<long> p;
  const auto start = clock_type::now();
  cfutures::future<long> f = p.get_future();
  for (int i = 0; i < 1000000; ++i) f = std::move(f).then([](long v) { return v + 1; });
  p.set_result(0);
  if (f.result() != 1000000) std::abort();
  return us_since(start) / 1000;
}

double pool_chain(cfutures::thread_pool_executor& pool) {
  const auto start = clock_type::now();
  cfutures::future<long> f = pool.submit([] { return 0L; });
  for (int i = 0; i < 1000000; ++i) f = std::move(f).then(pool, [](long v) { return v + 1; });
  if (f.result() != 1000000) std::abort();
  return us_since(start) / 1000;
}

}  // namespace

int main(int argc, char** argv) {
  cfutures::serve_if_worker(argc, argv);
  bench_keep_heap();
  cfutures::thread_pool_executor pool(2);
  constexpr int loops = 20000;
  blocking_per_iteration(pool, 2000);  // warm-up
  coro_per_iteration(pool, 2000);
  const double blocking = blocking_per_iteration(pool, loops);
  const double coro = coro_per_iteration(pool, loops);
  std::printf("coro_loop_us %.3f us\nblocking_loop_us %.3f us\ncoro_vs_blocking %.3f x\n", coro,
              blocking, coro / blocking);
  {
    cfutures::process_pool_executor procs(1);
    blocking_per_iteration(procs, 500);
    std::printf("proc_coro_loop_us %.3f us\n", coro_per_iteration(procs, 5000));
    std::printf("proc_blocking_loop_us %.3f us\n", blocking_per_iteration(procs, 5000));
  }
  for (const char* name : {"then_chain_1m_cold_ms", "then_chain_1m_ms"}) {
    std::printf("%s %.1f ms\n", name, inline_chain());
  }
  for (const char* name : {"then_pool_chain_1m_cold_ms", "then_pool_chain_1m_ms"}) {
    std::printf("%s %.1f ms\n", name, pool_chain(pool));
  }
  {
    std::vector<cfutures::future<int>> fs;
    for (int i = 0; i < 100000; ++i) fs.push_back(pool.submit(trivial, i));
    cfutures::wait(fs);
    auto start = clock_type::now();
    const auto all = cfutures::when_all(fs).result();
    const double when_all_ms = us_since(start) / 1000;
    start = clock_type::now();
    const auto [done, not_done] = cfutures::wait(fs);
    const double wait_ms = us_since(start) / 1000;
    std::printf("when_all_100k_ms %.2f ms\nwait_all_100k_ms %.2f ms\n", when_all_ms, wait_ms);
    if (all.size() != done.size()) return 1;
  }
}
