// Shared by the C++ programs of bench/thread_pool: timing, the prime-counting task, and the
// printing of the round-trip percentiles. Each program supplies its own pool.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>
#include <vector>

namespace bench {

using clock_type = std::chrono::steady_clock;

inline double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

// Resident memory of this process, in bytes.
inline long rss_bytes() {
  long pages = 0, resident = 0;
  std::ifstream("/proc/self/statm") >> pages >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

// Runs `measure` in a child process forked now, and waits for it: a program that starts with
// the measured workload sees a heap that was never touched (page faults included), whatever
// this process ran before. Call it before the process starts threads.
template <class Measure>
void in_fresh_process(Measure measure) {
  std::fflush(stdout);
  const pid_t child = fork();
  if (child == 0) {
    measure();
    std::fflush(stdout);
    _exit(0);
  }
  int status = 0;
  if (child > 0) waitpid(child, &status, 0);
}

inline int zero() { return 0; }

// trivial_1m: 1 000 000 trivial tasks (i + 1) with futures, submit all then collect.
//   submit(fn)   queues fn (which returns int) on the pool and returns its future
//   get(future)  waits for the future and returns its value
template <class Submit, class Get>
void print_trivial_1m(Submit submit, Get get) {
  constexpr int n = 1000000;
  std::vector<decltype(submit(zero))> fs;
  fs.reserve(n);
  long sum = 0;
  const auto start = clock_type::now();
  for (int i = 0; i < n; ++i) fs.push_back(submit([i] { return i + 1; }));
  for (auto& f : fs) sum += get(f);
  const double t = seconds_since(start);
  if (sum == 0) std::fprintf(stderr, "impossible\n");
  std::printf("trivial_1m %.6g tasks/s\n", n / t);
}

// pending_bytes_per_task: resident memory added by 1 000 000 tasks that wait to start (with
// the futures that hold them), while two blocking tasks occupy both workers. Run it first in
// the process, before the allocator holds freed memory to reuse.
//   submit(fn)   queues fn (which returns int) on the pool and returns its future
//   get(future)  waits for the future and returns its value
template <class Submit, class Get>
void print_pending_bytes(Submit submit, Get get) {
  constexpr int n = 1000000;
  using future_type = decltype(submit(zero));
  std::atomic<bool> gate{false};
  std::atomic<int> running{0};
  std::vector<future_type> blockers;
  for (int i = 0; i < 2; ++i) {
    blockers.push_back(submit([&gate, &running] {
      ++running;
      while (!gate) std::this_thread::sleep_for(std::chrono::microseconds(100));
      return 0;
    }));
  }
  while (running < 2) std::this_thread::yield();
  std::vector<future_type> pending;
  const long before = rss_bytes();
  pending.reserve(n);
  for (int i = 0; i < n; ++i) pending.push_back(submit([i] { return i + 1; }));
  const long after = rss_bytes();
  gate = true;
  for (auto& f : blockers) get(f);
  long sum = 0;
  for (auto& f : pending) sum += get(f);
  if (sum == 0) std::fprintf(stderr, "impossible\n");
  std::printf("pending_bytes_per_task %.6g B\n", static_cast<double>(after - before) / n);
}

// Counts the primes below `below` by trial division (the fan-out workload's task).
inline int count_primes(int below) {
  int count = 0;
  for (int n = 2; n < below; ++n) {
    bool prime = true;
    for (int d = 2; d * d <= n; ++d) {
      if (n % d == 0) {
        prime = false;
        break;
      }
    }
    count += prime;
  }
  return count;
}

// Times `round_trip()` (one submit → result) 20 000 times after 2 000 warm-up calls and prints
// round_trip_us (median) and round_trip_p99_us.
template <class F>
void print_round_trip(F round_trip) {
  for (int i = 0; i < 2000; ++i) round_trip(i);
  std::vector<double> samples;
  samples.reserve(20000);
  for (int i = 0; i < 20000; ++i) {
    const auto start = clock_type::now();
    round_trip(i);
    samples.push_back(seconds_since(start) * 1e6);
  }
  std::sort(samples.begin(), samples.end());
  std::printf("round_trip_us %.6g us\n", samples[samples.size() / 2]);
  std::printf("round_trip_p99_us %.6g us\n", samples[samples.size() * 99 / 100]);
}

constexpr int fanout_tasks = 64;

// Runs the fan-out's 64 × count_primes(10000) serially in this thread; returns the seconds taken
// and adds the sum of the counts to `sum`.
inline double serial_fanout_seconds(long& sum) {
  const auto start = clock_type::now();
  for (int i = 0; i < fanout_tasks; ++i) sum += count_primes(10000);
  return seconds_since(start);
}

// Times the fan-out serially, then through `submit_all_collect(tasks)` (which returns the sum of
// the counts), and prints `metric` = serial time / pool time.
template <class F>
void print_fanout(const char* metric, F submit_all_collect) {
  long serial_sum = 0;
  const double serial = serial_fanout_seconds(serial_sum);
  const auto start = clock_type::now();
  const long pool_sum = submit_all_collect(fanout_tasks);
  const double parallel = seconds_since(start);
  if (serial_sum != pool_sum) std::fprintf(stderr, "fan-out: wrong sum\n");
  std::printf("%s %.6g x\n", metric, serial / parallel);
}

}  // namespace bench
