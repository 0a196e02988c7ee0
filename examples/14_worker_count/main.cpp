// Tutorial section 10, "Choosing the Right Number of Workers": 10, 20 and 30 I/O-bound tasks
// of 0.1 s on 1, 2, 4 and 8 workers; the time falls with the worker count, since waiting
// tasks need no CPU. Then CPU-bound tasks on 1, 2 and 4 threads: in C++ threads run CPU work
// in parallel (there is no GIL), so the speed-up stops at the number of idle cores. (The
// tutorial runs the CPU part on a process pool; that version comes with the process-pool
// examples, 05 and 06.)
#include <algorithm>
#include <cfutures/cfutures.hpp>
#include <cmath>
#include <iomanip>
#include <ranges>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "demo.hpp"

namespace {

std::string io_task() {
  demo::sleep(0.1);
  return "I/O complete";
}

// Counts the primes in [from, from + width): plain CPU work.
int count_primes(long from, long width) {
  int count = 0;
  for (long n = from; n < from + width; ++n) {
    bool prime = n >= 2;
    for (long d = 2; prime && d * d <= n; ++d) prime = n % d != 0;
    count += prime ? 1 : 0;
  }
  return count;
}

constexpr long prime_range_start = 1'000'000;

// Runs `tasks` calls of `task` through map() on a pool of `workers` (created and shut down
// inside the measurement, like the tutorial's `with` block); returns the wall time.
template <class F>
double timed_map(std::size_t workers, int tasks, F task) {
  const demo::stopwatch watch;
  {
    cfutures::thread_pool_executor executor(workers);
    const auto results =
        executor.map([&task](int) { return task(); }, std::views::iota(0, tasks)).to_vector();
    demo::expect(results.size() == static_cast<std::size_t>(tasks), "map() lost results");
  }
  return watch.seconds();
}

// The width of a prime-counting range that keeps one core busy for about `seconds` (timed
// through the pool, so that the compiler cannot drop the unused count).
long calibrated_width(double seconds) {
  for (long width = 1000;; width *= 2) {
    const double elapsed =
        timed_map(1, 1, [width] { return count_primes(prime_range_start, width); });
    if (elapsed > 0.02) {
      return std::max(1L, std::lround(static_cast<double>(width) * seconds / elapsed));
    }
  }
}

std::string row(const std::string& label, const std::vector<double>& seconds) {
  std::ostringstream out;
  out << std::setw(12) << label;
  for (const double s : seconds) out << std::setw(12) << demo::secs(s);
  return out.str();
}

std::string header(const std::vector<std::size_t>& worker_counts) {
  std::ostringstream out;
  out << std::setw(12) << "tasks";
  for (const auto workers : worker_counts) {
    out << std::setw(12) << demo::cat(workers, workers == 1 ? " worker" : " workers");
  }
  return out.str();
}

}  // namespace

int main(int argc, char** argv) {
  demo::parse_args(argc, argv);
  demo::say("=== Worker Count Optimization ===");
  demo::say("💻 System has ", std::thread::hardware_concurrency(), " CPU cores");

  demo::say("\n📡 I/O-bound tasks of ", demo::secs(demo::scaled(0.1)), ":");
  const std::vector<std::size_t> io_workers{1, 2, 4, 8};
  demo::say(header(io_workers));
  double worst_io_speedup = 1e9;
  for (const int task_count : {10, 20, 30}) {
    std::vector<double> times;
    for (const auto workers : io_workers) times.push_back(timed_map(workers, task_count, io_task));
    demo::say(row(std::to_string(task_count), times));
    worst_io_speedup = std::min(worst_io_speedup, times.front() / times.back());
  }

  const long width = calibrated_width(demo::scaled(0.1));
  auto cpu_task = [width] { return count_primes(prime_range_start, width); };
  demo::say("\n🔢 CPU-bound tasks (each counts the ", cpu_task(), " primes in [", prime_range_start,
            ", ", prime_range_start + width, "), about ", demo::secs(demo::scaled(0.1)),
            " of one core):");
  const std::vector<std::size_t> cpu_workers{1, 2, 4};
  demo::say(header(cpu_workers));
  double cpu_speedup = 0;
  for (const int task_count : {4, 8}) {
    std::vector<double> times;
    for (const auto workers : cpu_workers) {
      times.push_back(timed_map(workers, task_count, cpu_task));
    }
    demo::say(row(std::to_string(task_count), times));
    cpu_speedup = times[0] / times[1];
  }
  demo::say("CPU speed-up of 2 workers over 1 (8 tasks): ", demo::fixed(cpu_speedup, 1),
            "x; not checked, as it depends on how many cores are idle.");

  demo::expect(worst_io_speedup > 3, "8 workers were not 3x faster than 1 on I/O-bound tasks");
  return demo::finish("I/O-bound tasks: 8 workers at least ", demo::fixed(worst_io_speedup, 1),
                      "x faster than 1; CPU-bound: 2 threads ", demo::fixed(cpu_speedup, 1),
                      "x the speed of 1, on ", std::thread::hardware_concurrency(), " cores");
}
