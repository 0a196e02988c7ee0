// Thread-pool workloads, Boost.Asio peer: boost::asio::thread_pool(2), each task posted as a
// std::packaged_task whose std::future is the result. Prints the same "metric value unit"
// lines as cfutures_thread_pool.cpp, except as_completed_100k_ms (Asio has no as_completed).
//   trivial_1m         tasks/s: 1 000 000 trivial tasks (i + 1), submit all then collect,
//                      first, in a fresh process (bench::in_fresh_process)
//   round_trip_us      median post → get() of a trivial task (20 000 samples)
//   round_trip_p99_us  99th percentile of the same samples
//   fanout_primes_x    serial time / pool time of 64 × count-primes(< 10000)
//   fanout_fresh_pool_x  the same with a thread_pool(2) created and joined inside the timing
//   pending_bytes_per_task  resident bytes per task waiting to start (1 000 000 of them)
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "common.hpp"

using bench::clock_type;
using bench::seconds_since;

namespace {

template <class F>
auto submit(boost::asio::thread_pool& pool, F f) {
  std::packaged_task<decltype(f())()> task(std::move(f));
  auto fut = task.get_future();
  boost::asio::post(pool, std::move(task));
  return fut;
}

}  // namespace

int main() {
  bench::in_fresh_process([] {
    boost::asio::thread_pool pool(2);
    bench::print_trivial_1m([&](auto fn) { return submit(pool, fn); },
                            [](auto& f) { return f.get(); });
  });
  boost::asio::thread_pool pool(2);

  bench::print_pending_bytes([&](auto fn) { return submit(pool, fn); },
                             [](auto& f) { return f.get(); });
  submit(pool, [] { return 0; }).get();

  bench::print_round_trip([&](int i) { return submit(pool, [i] { return i + 1; }).get(); });

  bench::print_fanout("fanout_primes_x", [&](int tasks) {
    std::vector<std::future<int>> fs;
    for (int i = 0; i < tasks; ++i)
      fs.push_back(submit(pool, [] { return bench::count_primes(10000); }));
    long sum = 0;
    for (auto& f : fs) sum += f.get();
    return sum;
  });
  bench::print_fanout("fanout_fresh_pool_x", [](int tasks) {
    boost::asio::thread_pool fresh(2);
    std::vector<std::future<int>> fs;
    for (int i = 0; i < tasks; ++i)
      fs.push_back(submit(fresh, [] { return bench::count_primes(10000); }));
    long sum = 0;
    for (auto& f : fs) sum += f.get();
    fresh.join();
    return sum;
  });
  pool.join();
}
