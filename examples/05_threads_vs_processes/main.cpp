// Tutorial section 5, "When to Use ProcessPoolExecutor": four identical CPU-bound tasks
// (counting primes) on a thread pool and on a process pool of four workers.
// In Python the GIL keeps the threads on one core; in C++ threads run in parallel too, so
// both pools reach the machine's parallelism. What the process pool adds is isolation (a
// crash or leak stays in the child; see 06 and the process_pool_executor header), at the
// price of serializing arguments and results. The speed-ups printed are against running the
// four tasks one after the other; the ideal is min(cores, tasks).
#include <unistd.h>

#include <algorithm>
#include <cfutures/cfutures.hpp>
#include <cmath>
#include <thread>
#include <vector>

#include "demo.hpp"

namespace {

bool is_prime(int n) {
  if (n < 2) return false;
  for (int i = 2; static_cast<long>(i) * i <= n; ++i) {
    if (n % i == 0) return false;
  }
  return true;
}

// A CPU-bound task: how many primes below n. A plain function, so a worker process can run it.
int cpu_intensive_task(int n) {
  demo::say("🔢 Finding primes up to ", n, " (pid ", getpid(), ")");
  int count = 0;
  for (int i = 2; i < n; ++i) count += is_prime(i);
  demo::say("✅ Found ", count, " primes up to ", n);
  return count;
}

int count_quietly(int n) {
  int count = 0;
  for (int i = 2; i < n; ++i) count += is_prime(i);
  return count;
}

// The n whose prime count takes about `target` seconds here (Debug or Release alike).
int calibrate(double target) {
  int n = 20000;
  for (;;) {
    const demo::stopwatch watch;
    const int count = count_quietly(n);
    const double took = watch.seconds();
    if (count <= 0) return n;  // uses the count, so the optimizer keeps the work
    if (took >= target / 8 || n > (1 << 28)) {
      // The work grows as n^1.5 (trial division up to the square root).
      const double factor = std::pow(target / std::max(took, 1e-6), 2.0 / 3.0);
      return static_cast<int>(std::min(n * factor, 2e9));
    }
    n *= 2;
  }
}

// Runs the four tasks on a fresh pool of four workers, with a progress bar (on stderr; its
// total is map's size()); returns the time map() took.
template <class Executor>
double run(const char* label, const std::vector<int>& numbers, std::vector<int>& results) {
  Executor executor(4);
  const demo::stopwatch watch;
  results.clear();
  for (int r : cfutures::progress(executor.map(cpu_intensive_task, numbers),
                                  {.description = label})) {
    results.push_back(r);
  }
  return watch.seconds();
}

}  // namespace

int main(int argc, char** argv) {
  cfutures::serve_if_worker(argc, argv);
  demo::parse_args(argc, argv);
  const int n = calibrate(demo::scaled(0.8));
  const std::vector<int> numbers(4, n);  // four identical CPU-intensive tasks
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const double ideal = std::min<double>(cores, numbers.size());

  demo::say("=== Sequential (one task after the other) ===");
  const demo::stopwatch sequential_watch;
  std::vector<int> sequential_results;
  for (int x : numbers) sequential_results.push_back(count_quietly(x));
  const double sequential = sequential_watch.seconds();
  demo::say("⏱️  Sequential time: ", demo::secs(sequential));

  demo::say("=== Threading (threads run in parallel in C++) ===");
  std::vector<int> thread_results;
  const double thread_time = run<cfutures::thread_pool_executor>("threads", numbers, thread_results);
  demo::say("⏱️  Threading time: ", demo::secs(thread_time));

  demo::say("=== Multiprocessing (true parallelism, isolated workers) ===");
  std::vector<int> process_results;
  const double process_time = run<cfutures::process_pool_executor>("processes", numbers, process_results);
  demo::say("⏱️  Multiprocessing time: ", demo::secs(process_time));

  const double thread_speedup = sequential / thread_time;
  const double process_speedup = sequential / process_time;
  demo::say("📊 Speed-up over sequential: threads ", demo::fixed(thread_speedup), "x, processes ",
            demo::fixed(process_speedup), "x (ideal ", demo::fixed(ideal, 1), "x on ", cores,
            " cores)");
  demo::expect(thread_results == sequential_results && process_results == sequential_results,
               "the pools computed different prime counts");
  demo::expect(process_speedup >= 0.8 * ideal, "processes reached only ",
               demo::fixed(process_speedup), "x of the ideal ", demo::fixed(ideal, 1), "x");
  return demo::finish("4 prime counts (", demo::secs(sequential / 4),
                      " each) on 4 processes: ", demo::fixed(process_speedup), "x, threads ",
                      demo::fixed(thread_speedup), "x (ideal ", demo::fixed(ideal, 1), "x on ",
                      cores, " cores)");
}
