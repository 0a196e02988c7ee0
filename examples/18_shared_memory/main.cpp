// Scenario 18, "one big array, many tasks": an array of doubles (1 GiB at --scale 2; 256 MiB
// at the tour's default 0.5) reduced by 64 process-pool tasks, each summing one slice.
//   - by value: each task is sent its slice as a std::vector<double> (what pickling a NumPy
//     slice does in Python): every byte is copied into the worker, and out of the message;
//   - by shared_buffer: the array lives in shared memory once; each task is sent the handle
//     and its bounds, which cross as a descriptor, and the worker reads the very same pages
//     (Python's multiprocessing.shared_memory; Ray's object store; Dask's scatter).
// A worker keeps the buffer mapped between calls while this program holds it, so the second
// pass over the same buffer pays neither the mapping nor the page faults of the first.
#include <algorithm>
#include <cfutures/cfutures.hpp>
#include <cmath>
#include <numeric>
#include <span>
#include <vector>

#include "demo.hpp"

namespace {

constexpr std::size_t tasks = 64;

double sum_values(std::vector<double> slice) { return std::accumulate(slice.begin(), slice.end(), 0.0); }

double sum_shared(cfutures::shared_buffer<double> array, std::size_t from, std::size_t to) {
  return std::accumulate(array.begin() + from, array.begin() + to, 0.0);
}

std::size_t bound(std::size_t n, std::size_t i) { return n * i / tasks; }

}  // namespace

int main(int argc, char** argv) {
  cfutures::serve_if_worker(argc, argv);
  demo::parse_args(argc, argv);
  const auto bytes = static_cast<std::size_t>(demo::config.scale * double(std::size_t{512} << 20));
  const std::size_t n = std::max<std::size_t>(bytes / sizeof(double), tasks);
  demo::say("📦 An array of ", n, " doubles (", n * sizeof(double) >> 20, " MiB), ", tasks,
            " tasks each summing one slice, on 2 worker processes");

  cfutures::shared_buffer<double> array(n);  // zero-initialised, in shared memory
  for (std::size_t i = 0; i < n; ++i) array[i] = static_cast<double>(i % 1000);
  const double expected = std::accumulate(array.begin(), array.end(), 0.0);

  cfutures::process_pool_executor pool(2);
  (void)pool.submit(&sum_values, std::vector<double>{}).result();  // workers started

  demo::say("=== By value: each task gets a copy of its slice ===");
  const demo::stopwatch by_value_watch;
  std::vector<cfutures::future<double>> parts;
  for (std::size_t i = 0; i < tasks; ++i) {
    std::vector<double> slice(array.begin() + bound(n, i), array.begin() + bound(n, i + 1));
    parts.push_back(pool.submit(&sum_values, std::move(slice)));
  }
  double by_value = 0;
  for (auto& f : parts) by_value += f.result();
  const double value_time = by_value_watch.seconds();
  demo::say("⏱️  By value: ", demo::secs(value_time), " (", n * sizeof(double) >> 20,
            " MiB copied to the workers)");

  double shared_times[2] = {0, 0};
  double by_shared = 0;
  for (int pass = 0; pass < 2; ++pass) {
    demo::say("=== By shared_buffer, pass ", pass + 1,
              pass == 0 ? ": the workers map the array" : ": the mappings are kept", " ===");
    const demo::stopwatch watch;
    parts.clear();
    for (std::size_t i = 0; i < tasks; ++i) {
      parts.push_back(pool.submit(&sum_shared, array, bound(n, i), bound(n, i + 1)));
    }
    by_shared = 0;
    for (auto& f : parts) by_shared += f.result();
    shared_times[pass] = watch.seconds();
    demo::say("⏱️  By shared_buffer: ", demo::secs(shared_times[pass]), " (nothing copied)");
  }

  const double best_shared = std::min(shared_times[0], shared_times[1]);
  demo::say("📊 shared_buffer is ", demo::fixed(value_time / best_shared, 1),
            "x as fast as sending the slices by value");
  demo::expect(std::abs(by_value - expected) < 1e-6 * expected, "by value summed ", by_value,
               ", expected ", expected);
  demo::expect(std::abs(by_shared - expected) < 1e-6 * expected, "by shared_buffer summed ",
               by_shared, ", expected ", expected);
  return demo::finish(n * sizeof(double) >> 20, " MiB over ", tasks, " tasks: by value ",
                      demo::secs(value_time), ", by shared_buffer ", demo::secs(shared_times[0]),
                      " then ", demo::secs(shared_times[1]), " (",
                      demo::fixed(value_time / best_shared, 1), "x)");
}
