// Composition workloads, Boost.Thread peer (BOOST_THREAD_VERSION 4, libboost-thread-dev):
// boost::future::then with boost::executors::basic_thread_pool(2). Prints the same
// "metric value unit" lines as cfutures_compose.cpp where Boost.Thread has a counterpart:
//   blocking_loop_us       per iteration: boost::async(pool, trivial).get()
//   then_chain_1m_ms       10^6 then(launch::sync, fn) chained on a pending future, then run
//                          (each continuation runs in the thread that completes its parent;
//                          in a thread with a 2 GiB stack: Boost recurses once per link)
//   then_pool_chain_1m_ms  10^6 then(pool, fn) chained: each continuation a task of the pool
//   *_cold_ms              the same chains measured first, on a fresh heap (page faults)
//   when_all_100k_ms       boost::when_all(first, last).get() over 100 000 finished futures
//   wait_all_100k_ms       boost::wait_for_all(first, last) over the same futures
// No coroutine rows: boost::future is not awaitable.
#define BOOST_THREAD_VERSION 4
#define BOOST_THREAD_PROVIDES_EXECUTORS
#define BOOST_THREAD_PROVIDES_FUTURE_CONTINUATION
#define BOOST_THREAD_PROVIDES_FUTURE_WHEN_ALL_WHEN_ANY
#include <pthread.h>

#include <boost/thread/executors/basic_thread_pool.hpp>
#include <boost/thread/future.hpp>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include "keep_heap.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

double us_since(clock_type::time_point start) {
  return std::chrono::duration<double, std::micro>(clock_type::now() - start).count();
}

int trivial(int i) { return i + 1; }

double blocking_per_iteration(boost::executors::basic_thread_pool& pool, int n) {
  const auto start = clock_type::now();
  long sum = 0;
  for (int i = 0; i < n; ++i) sum += boost::async(pool, trivial, i).get();
  if (sum == 42) std::puts("");
  return us_since(start) / n;
}

double inline_chain() {
  boost::promise<long> p;
  const auto start = clock_type::now();
  boost::future<long> f = p.get_future();
  for (int i = 0; i < 1000000; ++i) {
    f = f.then(boost::launch::sync, [](boost::future<long> prev) { return prev.get() + 1; });
  }
  p.set_value(0);
  if (f.get() != 1000000) std::abort();
  return us_since(start) / 1000;
}

double pool_chain(boost::executors::basic_thread_pool& pool) {
  const auto start = clock_type::now();
  boost::future<long> f = boost::async(pool, [] { return 0L; });
  for (int i = 0; i < 1000000; ++i) {
    f = f.then(pool, [](boost::future<long> prev) { return prev.get() + 1; });
  }
  if (f.get() != 1000000) std::abort();
  return us_since(start) / 1000;
}

// Runs fn in a thread with a 2 GiB stack; its result.
double on_big_stack(double (*fn)()) {
  struct job {
    double (*fn)();
    double result;
  } j{fn, 0};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, std::size_t{2} << 30);
  pthread_t thread;
  const auto body = [](void* p) -> void* {
    auto* jp = static_cast<job*>(p);
    jp->result = jp->fn();
    return nullptr;
  };
  if (pthread_create(&thread, &attr, body, &j) != 0) std::abort();
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
  return j.result;
}

}  // namespace

int main() {
  bench_keep_heap();
  boost::executors::basic_thread_pool pool(2);
  blocking_per_iteration(pool, 2000);  // warm-up
  std::printf("blocking_loop_us %.3f us\n", blocking_per_iteration(pool, 20000));
  // Each sync continuation calls the next one on the stack (one frame per link): 10^6 links
  // overflow the default 8 MiB stack, so the chain runs in a thread with a 2 GiB stack.
  for (const char* name : {"then_chain_1m_cold_ms", "then_chain_1m_ms"}) {
    std::printf("%s %.1f ms\n", name, on_big_stack(inline_chain));
  }
  for (const char* name : {"then_pool_chain_1m_cold_ms", "then_pool_chain_1m_ms"}) {
    std::printf("%s %.1f ms\n", name, pool_chain(pool));
  }
  {
    std::vector<boost::shared_future<int>> fs;
    for (int i = 0; i < 100000; ++i) fs.push_back(boost::async(pool, trivial, i).share());
    boost::wait_for_all(fs.begin(), fs.end());
    // wait first: when_all(first, last) moves the futures out of the range.
    auto start = clock_type::now();
    boost::wait_for_all(fs.begin(), fs.end());
    const double wait_ms = us_since(start) / 1000;
    const std::size_t n = fs.size();
    start = clock_type::now();
    const auto all = boost::when_all(fs.begin(), fs.end()).get();
    const double when_all_ms = us_since(start) / 1000;
    std::printf("when_all_100k_ms %.2f ms\nwait_all_100k_ms %.2f ms\n", when_all_ms, wait_ms);
    if (all.size() != n) return 1;
  }
}
