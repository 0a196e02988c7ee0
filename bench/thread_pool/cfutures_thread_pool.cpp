// Thread-pool workloads, cfutures side (cfutures::thread_pool_executor(2)). Prints one
// "metric value unit" line per workload; the peers in this folder print the same names.
//   trivial_1m            tasks/s: 1 000 000 trivial tasks (i + 1), submit all then collect,
//                      first, in a fresh process (bench::in_fresh_process)
//   round_trip_us         median submit → result of a trivial task, one at a time (20 000)
//   round_trip_p99_us     99th percentile of the same samples
//   fanout_primes_x       serial time / pool time of 64 × count-primes(< 10000), results
//                         collected in submission order
//   fanout_as_completed_x the same, results collected through as_completed
//   fanout_fresh_pool_x   the same through map() on a thread_pool_executor(2) created and
//                         destroyed inside the timing (Python's `with ThreadPoolExecutor(2)
//                         as ex: list(ex.map(...))`)
//   as_completed_100k_ms  ms to iterate as_completed over 100 000 already-finished futures
//   pending_bytes_per_task  resident bytes per task waiting to start (1 000 000 of them)
#include <atomic>
#include <cfutures/cfutures.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "common.hpp"

using bench::clock_type;
using bench::seconds_since;

int main() {
  bench::in_fresh_process([] {
    cfutures::thread_pool_executor pool(2);
    bench::print_trivial_1m([&](auto fn) { return pool.submit(fn); },
                            [](auto& f) { return f.result(); });
  });
  cfutures::thread_pool_executor pool(2);

  bench::print_pending_bytes([&](auto fn) { return pool.submit(fn); },
                             [](auto& f) { return f.result(); });
  pool.submit([] { return 0; }).result();

  bench::print_round_trip([&](int i) { return pool.submit([i] { return i + 1; }).result(); });

  const auto submit_all = [&](int tasks) {
    std::vector<cfutures::future<int>> fs;
    for (int i = 0; i < tasks; ++i) fs.push_back(pool.submit(bench::count_primes, 10000));
    return fs;
  };
  bench::print_fanout("fanout_primes_x", [&](int tasks) {
    long sum = 0;
    for (auto& f : submit_all(tasks)) sum += f.result();
    return sum;
  });
  bench::print_fanout("fanout_as_completed_x", [&](int tasks) {
    long sum = 0;
    for (const auto& f : cfutures::as_completed(submit_all(tasks))) sum += f.result();
    return sum;
  });
  bench::print_fanout("fanout_fresh_pool_x", [](int tasks) {
    cfutures::thread_pool_executor fresh(2);
    long sum = 0;
    for (int n : fresh.map(bench::count_primes, std::vector<int>(tasks, 10000))) sum += n;
    return sum;
  });

  {
    constexpr int n = 100000;
    std::vector<cfutures::future<int>> fs;
    fs.reserve(n);
    for (int i = 0; i < n; ++i) fs.push_back(pool.submit([i] { return i + 1; }));
    for (auto& f : fs) f.wait();
    long sum = 0;
    const auto start = clock_type::now();
    for (const auto& f : cfutures::as_completed(fs)) sum += f.result();
    const double t = seconds_since(start);
    if (sum == 0) std::fprintf(stderr, "impossible\n");
    std::printf("as_completed_100k_ms %.6g ms\n", t * 1e3);
  }
}
