// Thread-pool workloads, oneTBB peer: a tbb::task_arena with 2 TBB worker threads (arena of
// 3 slots, 1 reserved for the main thread, which only enters to spawn; global_control lifts
// TBB's default cap of hardware_concurrency - 1 = 1 worker on a 2-vCPU machine) running a
// tbb::task_group; each task is a std::packaged_task whose std::future is the result. Prints the
// same "metric value unit" lines as cfutures_thread_pool.cpp, except as_completed_100k_ms (TBB has
// no as_completed).
//   trivial_1m         tasks/s: 1 000 000 trivial tasks (i + 1), submit all then collect,
//                      first, in a fresh process (bench::in_fresh_process)
//   round_trip_us      median run → get() of a trivial task (20 000 samples)
//   round_trip_p99_us  99th percentile of the same samples
//   fanout_primes_x    serial time / pool time of 64 × count-primes(< 10000)
//   pending_bytes_per_task  resident bytes per task waiting to start (1 000 000 of them)
#include <tbb/global_control.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include <atomic>
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

// task_group::run calls its functor as const; packaged_task::operator() is not.
template <class R>
struct runnable {
  mutable std::packaged_task<R()> task;
  void operator()() const { task(); }
};

tbb::global_control allow_two_workers(tbb::global_control::max_allowed_parallelism, 3);
tbb::task_arena arena(3, 1);
tbb::task_group group;

template <class F>
auto submit(F f) {
  std::packaged_task<decltype(f())()> task(std::move(f));
  auto fut = task.get_future();
  arena.execute([&] { group.run(runnable<decltype(f())>{std::move(task)}); });
  return fut;
}

}  // namespace

int main() {
  bench::in_fresh_process([] {
    bench::print_trivial_1m([](auto fn) { return submit(fn); }, [](auto& f) { return f.get(); });
  });
  bench::print_pending_bytes([&](auto fn) { return submit(fn); }, [](auto& f) { return f.get(); });
  submit([] { return 0; }).get();

  bench::print_round_trip([](int i) { return submit([i] { return i + 1; }).get(); });

  bench::print_fanout("fanout_primes_x", [](int tasks) {
    std::vector<std::future<int>> fs;
    for (int i = 0; i < tasks; ++i) fs.push_back(submit([] { return bench::count_primes(10000); }));
    long sum = 0;
    for (auto& f : fs) sum += f.get();
    return sum;
  });
  arena.execute([] { group.wait(); });
}
