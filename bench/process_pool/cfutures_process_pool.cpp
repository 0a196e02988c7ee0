// Process-pool workloads, cfutures side. Prints one "metric value unit" line per workload;
// python_process_pool.py prints the same lines for CPython's ProcessPoolExecutor.
//   round_trip_us      median submit → result of a trivial call, one at a time (2 workers)
//   trivial_chunk1     trivial calls per second, all submitted then collected (2 workers)
//   map_chunk100       items per second through map(chunksize=100) over 100 000 items
//   echo_16mib         MB/s of a 16 MiB string sent to a worker and back (argument size / time)
//                      over 10 rounds, after one echo of the same size (fresh memory costs
//                      page faults, about 9 ms per 16 MiB on the project's VM, which is not
//                      transfer; the first timed round still pays the heaps' first growth)
//   echo_16mib_steady  the same transfer once memory is warm: median of the per-round rates
//                      of 20 rounds after 3 echoes (the heaps and shared blocks of both
//                      processes are then grown, so no round pays page faults)
//   echo_bytes_16mib   echo_16mib with a std::vector<std::byte> (CPython: bytes)
//   startup_fork_ms    pool start + first result + shutdown, 2 workers, fork
//   startup_spawn_ms   the same with spawn
//   startup_forkserver_ms  the same with forkserver (the server's start included)
#include <algorithm>
#include <cfutures/cfutures.hpp>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

int identity(int x) { return x; }
std::string echo(std::string s) { return s; }
std::vector<std::byte> echo_bytes(std::vector<std::byte> v) { return v; }

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

double round_trip_us() {
  cfutures::process_pool_executor pool(2);
  for (int i = 0; i < 200; ++i) pool.submit(identity, i).result();
  std::vector<double> samples;
  for (int i = 0; i < 2000; ++i) {
    const auto start = clock_type::now();
    pool.submit(identity, i).result();
    samples.push_back(seconds_since(start) * 1e6);
  }
  std::nth_element(samples.begin(), samples.begin() + samples.size() / 2, samples.end());
  return samples[samples.size() / 2];
}

double trivial_chunk1() {
  cfutures::process_pool_executor pool(2);
  pool.submit(identity, 0).result();
  constexpr int n = 20000;
  const auto start = clock_type::now();
  std::vector<cfutures::future<int>> fs;
  fs.reserve(n);
  for (int i = 0; i < n; ++i) fs.push_back(pool.submit(identity, i));
  for (auto& f : fs) f.result();
  return n / seconds_since(start);
}

double map_chunk100() {
  cfutures::process_pool_executor pool(2);
  pool.submit(identity, 0).result();
  std::vector<int> items(100000);
  for (int i = 0; i < static_cast<int>(items.size()); ++i) items[i] = i;
  const auto start = clock_type::now();
  long sum = 0;
  for (int v : pool.map(identity, items, cfutures::map_options{.chunksize = 100})) sum += v;
  const double t = seconds_since(start);
  return sum > 0 ? static_cast<double>(items.size()) / t : 0;
}

// MB/s of `big` echoed by `f` over 10 rounds, after one echo.
template <class F, class T>
double echo_rate(F f, const T& big) {
  cfutures::process_pool_executor pool(2);
  pool.submit(f, big).result();
  const auto start = clock_type::now();
  constexpr int rounds = 10;
  for (int i = 0; i < rounds; ++i) {
    if (pool.submit(f, big).result().size() != big.size()) return 0;
  }
  return rounds * static_cast<double>(big.size()) / 1e6 / seconds_since(start);
}

double echo_16mib() { return echo_rate(echo, std::string(16 << 20, 'x')); }

double echo_bytes_16mib() {
  return echo_rate(echo_bytes, std::vector<std::byte>(16 << 20, std::byte{'x'}));
}

double echo_16mib_steady() {
  cfutures::process_pool_executor pool(2);
  const std::string big(16 << 20, 'x');
  for (int i = 0; i < 3; ++i) pool.submit(echo, big).result();
  std::vector<double> rates;
  for (int i = 0; i < 20; ++i) {
    const auto start = clock_type::now();
    if (pool.submit(echo, big).result().size() != big.size()) return 0;
    rates.push_back(static_cast<double>(big.size()) / 1e6 / seconds_since(start));
  }
  std::nth_element(rates.begin(), rates.begin() + rates.size() / 2, rates.end());
  return rates[rates.size() / 2];
}

double startup_ms(cfutures::start_method method) {
  const auto start = clock_type::now();
  {
    cfutures::process_pool_executor pool({.max_workers = 2, .method = method});
    pool.submit(identity, 1).result();
  }
  return seconds_since(start) * 1e3;
}

}  // namespace

int main(int argc, char** argv) {
  cfutures::serve_if_worker(argc, argv);
  // Start-up first, while the heap is small: a fork copies the page tables of everything the
  // parent has touched, so after the 16 MiB echoes it costs ~1.5 ms more (in CPython too).
  std::printf("startup_fork_ms %.2f ms\n", startup_ms(cfutures::start_method::fork));
  std::printf("startup_spawn_ms %.2f ms\n", startup_ms(cfutures::start_method::spawn));
  std::printf("startup_forkserver_ms %.2f ms\n", startup_ms(cfutures::start_method::forkserver));
  std::printf("round_trip_us %.2f us\n", round_trip_us());
  std::printf("trivial_chunk1 %.0f tasks/s\n", trivial_chunk1());
  std::printf("map_chunk100 %.0f items/s\n", map_chunk100());
  std::printf("echo_16mib %.0f MB/s\n", echo_16mib());
  std::printf("echo_16mib_steady %.0f MB/s\n", echo_16mib_steady());
  std::printf("echo_bytes_16mib %.0f MB/s\n", echo_bytes_16mib());
}
