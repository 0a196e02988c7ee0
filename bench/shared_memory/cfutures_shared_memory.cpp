// shared_buffer workloads (issue 18), cfutures side. Prints one "metric value unit" line per
// workload, each bound measured in the same run:
//   memcpy_16mib             one 16 MiB memcpy between warm buffers (median of 20), MB/s
//   trivial_round_trip_us    submit(noop).result() on a pool of 1 (median of 2000)
//   shared_256mib_round_trip_us  a call taking and returning a 256 MiB shared_buffer whose
//                            task touches one byte (median of 50, after 3 warm-up calls)
//   shared_vs_trivial_x      the two above: the cost of a 256 MiB buffer, in trivial calls
//   reduce_1gib_threads_ms   two plain threads summing the halves of a 1 GiB array of
//                            doubles in this process (median of 7): the compute bound
//   reduce_1gib_pool_ms      64 process-pool tasks on 2 workers each summing a slice of the
//                            same array as a shared_buffer<double> (median of 7, interleaved
//                            with the threads', after warm-up calls in which each worker
//                            reads the whole array once: see reduce_1gib)
//   reduce_pool_vs_threads_x threads' time / the pool's (1 = the compute bound)
//   echo_16mib               a 16 MiB std::vector<char> echoed by value (median of 10 after
//                            one warm-up), MB/s of argument + result
//   echo_vs_memcpy_x         echo_16mib / memcpy_16mib (four copies are the floor by value)
#include <algorithm>
#include <cfutures/cfutures.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

double since_us(clock_type::time_point t0) {
  return std::chrono::duration<double, std::micro>(clock_type::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int noop(int x) { return x; }

cfutures::shared_buffer<char> touch(cfutures::shared_buffer<char> b) {
  b[0] = static_cast<char>(b[0] + 1);
  return b;
}

double sum_slice(cfutures::shared_buffer<double> b, std::size_t from, std::size_t to) {
  return std::accumulate(b.begin() + from, b.begin() + to, 0.0);
}

std::vector<char> echo(std::vector<char> v) { return v; }

constexpr std::size_t mib = std::size_t{1} << 20;

double memcpy_mb_s() {
  std::vector<char> a(16 * mib, 1);
  std::vector<char> b(16 * mib, 2);
  std::vector<double> us;
  for (int i = 0; i < 20; ++i) {
    const auto t0 = clock_type::now();
    std::memcpy(b.data(), a.data(), a.size());
    us.push_back(since_us(t0));
    std::swap(a, b);
  }
  return static_cast<double>(16 * mib) / median(us);
}

double trivial_round_trip_us(cfutures::process_pool_executor& pool) {
  for (int i = 0; i < 200; ++i) (void)pool.submit(&noop, i).result();
  std::vector<double> us;
  for (int i = 0; i < 2000; ++i) {
    const auto t0 = clock_type::now();
    (void)pool.submit(&noop, i).result();
    us.push_back(since_us(t0));
  }
  return median(us);
}

double shared_round_trip_us(cfutures::process_pool_executor& pool) {
  cfutures::shared_buffer<char> b(256 * mib);
  std::memset(b.data(), 0, b.size());
  for (int i = 0; i < 3; ++i) b = pool.submit(&touch, b).result();
  std::vector<double> us;
  for (int i = 0; i < 50; ++i) {
    const auto t0 = clock_type::now();
    b = pool.submit(&touch, b).result();
    us.push_back(since_us(t0));
  }
  if (b[0] != 53) std::fprintf(stderr, "touch: wrong count %d\n", b[0]);
  return median(us);
}

struct reduction {
  double threads_ms;
  double pool_ms;
};

// Both sides over the same memory, interleaved (threads, pool, threads, pool...), after the
// workers' warm-up passes: a worker maps the array, and faults its pages in, the first time
// it reads them (~1.6 s per GiB and worker on this VM), and keeps that mapping between calls
// while this process holds the buffer; the in-process threads read pages this process
// faulted in when it filled the array.
reduction reduce_1gib() {
  const std::size_t n = 1024 * mib / sizeof(double);
  cfutures::shared_buffer<double> array(n);
  for (std::size_t i = 0; i < n; ++i) array[i] = static_cast<double>(i & 1023);
  const double expected = std::accumulate(array.begin(), array.end(), 0.0);
  cfutures::process_pool_executor pool(2);
  constexpr std::size_t tasks = 64;
  const auto pool_pass = [&] {
    const auto t0 = clock_type::now();
    std::vector<cfutures::future<double>> parts;
    for (std::size_t i = 0; i < tasks; ++i) {
      parts.push_back(pool.submit(&sum_slice, array, n * i / tasks, n * (i + 1) / tasks));
    }
    double total = 0;
    for (auto& f : parts) total += f.result();
    if (total != expected) std::fprintf(stderr, "pool: wrong sum\n");
    return since_us(t0) / 1000;
  };
  const auto threads_pass = [&] {
    const auto t0 = clock_type::now();
    double halves[2] = {0, 0};
    std::thread other([&] { halves[1] = sum_slice(array, n / 2, n); });
    halves[0] = sum_slice(array, 0, n / 2);
    other.join();
    if (halves[0] + halves[1] != expected) std::fprintf(stderr, "threads: wrong sum\n");
    return since_us(t0) / 1000;
  };
  // Each worker reads every page once (two tasks summing it all, at once: one per worker).
  for (int i = 0; i < 2; ++i) {
    auto a = pool.submit(&sum_slice, array, std::size_t{0}, n);
    auto b = pool.submit(&sum_slice, array, std::size_t{0}, n);
    (void)a.result();
    (void)b.result();
  }
  std::vector<double> threads_ms;
  std::vector<double> pool_ms;
  for (int run = 0; run < 7; ++run) {
    threads_ms.push_back(threads_pass());
    pool_ms.push_back(pool_pass());
  }
  return {median(threads_ms), median(pool_ms)};
}

double echo_mb_s(cfutures::process_pool_executor& pool) {
  std::vector<char> v(16 * mib, 'x');
  v = pool.submit(&echo, v).result();
  std::vector<double> us;
  for (int i = 0; i < 10; ++i) {
    const auto t0 = clock_type::now();
    v = pool.submit(&echo, v).result();
    us.push_back(since_us(t0));
  }
  return 2.0 * static_cast<double>(16 * mib) / median(us);
}

}  // namespace

int main(int argc, char** argv) {
  cfutures::serve_if_worker(argc, argv);
  const double memcpy_rate = memcpy_mb_s();
  std::printf("memcpy_16mib %.0f MB/s\n", memcpy_rate);
  {
    cfutures::process_pool_executor pool(1);
    const double trivial = trivial_round_trip_us(pool);
    const double shared = shared_round_trip_us(pool);
    std::printf("trivial_round_trip_us %.2f us\n", trivial);
    std::printf("shared_256mib_round_trip_us %.2f us\n", shared);
    std::printf("shared_vs_trivial_x %.2f x\n", shared / trivial);
    const double echo = echo_mb_s(pool);
    std::printf("echo_16mib %.0f MB/s\n", echo);
    std::printf("echo_vs_memcpy_x %.3f x\n", echo / memcpy_rate);
  }
  const reduction r = reduce_1gib();
  std::printf("reduce_1gib_threads_ms %.1f ms\n", r.threads_ms);
  std::printf("reduce_1gib_pool_ms %.1f ms\n", r.pool_ms);
  std::printf("reduce_pool_vs_threads_x %.3f x\n", r.threads_ms / r.pool_ms);
  return 0;
}
