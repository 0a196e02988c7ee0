// Thread-pool workloads, std::async(std::launch::async) peer: every task is its own
// std::async call (a new thread per task with libstdc++; there is no pool and no worker
// count). Prints the same "metric value unit" lines as cfutures_thread_pool.cpp, except
// as_completed_100k_ms (the standard library has no as_completed).
//   trivial_1m         tasks/s; measured with 100 000 tasks instead of 1 M (a thread each),
//                      in 10 rounds of "submit 10 000 then collect them" because an unjoined
//                      thread lives until its get() and 100 000 at once exceed the thread
//                      limit (EAGAIN); the rate is reported as is
//   round_trip_us      median std::async → get() of a trivial task (20 000 samples)
//   round_trip_p99_us  99th percentile of the same samples
//   fanout_primes_x    serial time / std::async time of 64 × count-primes(< 10000)
#include <cstdio>
#include <future>
#include <vector>

#include "common.hpp"

using bench::clock_type;
using bench::seconds_since;

int main() {
  {
    constexpr int n = 100000, batch = 10000;  // 100 k in rounds of 10 k: see the header
    std::vector<std::future<int>> fs;
    fs.reserve(batch);
    long sum = 0;
    const auto start = clock_type::now();
    for (int round = 0; round < n / batch; ++round) {
      for (int i = 0; i < batch; ++i) {
        fs.push_back(std::async(std::launch::async, [i] { return i + 1; }));
      }
      for (auto& f : fs) sum += f.get();
      fs.clear();
    }
    const double t = seconds_since(start);
    if (sum == 0) std::fprintf(stderr, "impossible\n");
    std::printf("trivial_1m %.6g tasks/s\n", n / t);
  }

  bench::print_round_trip(
      [](int i) { return std::async(std::launch::async, [i] { return i + 1; }).get(); });

  bench::print_fanout("fanout_primes_x", [](int tasks) {
    std::vector<std::future<int>> fs;
    for (int i = 0; i < tasks; ++i) {
      fs.push_back(std::async(std::launch::async, bench::count_primes, 10000));
    }
    long sum = 0;
    for (auto& f : fs) sum += f.get();
    return sum;
  });
}
