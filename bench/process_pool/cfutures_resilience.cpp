// The resilient process pool's costs (issue 16), cfutures side; python_resilience.py prints
// CPython's counterparts (a pool breaks there: its "replacement" is a new pool).
//   replace_fork_ms        a call kills its worker (SIGKILL) under worker_death::fail_call;
//                          median time from that crash (the dying call's clock, written to
//                          a pipe just before its kill) to the start of the next call on the
//                          replacement (that call's clock; CLOCK_MONOTONIC is one clock for
//                          every process of the machine); 1 worker, fork
//   replace_forkserver_ms  the same with forkserver (its spare: forkserver_serve.cpp)
//   replace_spawn_ms       the same with spawn
//   round_trip_ms          one trivial call's round trip, the floor of the rows above
//   batch_per_s            trivial calls per second, 20 000 on 2 workers, fail_call, fork
//   batch_1pct_crash_per_s the same batch with 1 % of the calls killing their worker
//   crash_batch_ratio      the second over the first (the target: at least 0.5)
//   *_forkserver           the batch rows with forkserver
//   *_100us                the batch rows (fork) with 4 000 calls of 100 µs of work each
//                          (still shorter than one CPython round trip): a trivial call is
//                          ~3 µs, so 1 % of them crashing asks for a new process every
//                          ~0.3 ms of work, more than process creation on 2 vCPUs can give
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cfutures/cfutures.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

int identity(int x) { return x; }
int identity_or_die(int x, bool die) {
  if (die) ::kill(::getpid(), SIGKILL);
  return x;
}
int work_100us_or_die(int x, bool die) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(100);
  while (std::chrono::steady_clock::now() < until) {
  }
  return identity_or_die(x, die);
}

std::int64_t monotonic_ns() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return std::int64_t{t.tv_sec} * 1000000000 + t.tv_nsec;
}

// `fd`: the write end of a pipe made before any pool, which every worker inherits (fork,
// the forkserver's forks and spawn alike keep a descriptor without close-on-exec).
int die_noting_the_time(int fd, int x) {
  const std::int64_t now = monotonic_ns();
  if (::write(fd, &now, sizeof now) == sizeof now) ::kill(::getpid(), SIGKILL);
  return x;
}

std::int64_t started_at(int) { return monotonic_ns(); }

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

double replace_ms(cfutures::start_method method, const int (&crash_clock)[2]) {
  cfutures::process_pool_executor pool({.max_workers = 1,
                                        .method = method,
                                        .on_worker_death = cfutures::worker_death::fail_call});
  pool.submit(identity, 0).result();
  std::vector<double> samples;
  for (int i = 0; i < 30; ++i) {
    auto crash = pool.submit(die_noting_the_time, crash_clock[1], i);
    const std::int64_t next_started = pool.submit(started_at, i).result();
    std::int64_t crashed = 0;
    if (::read(crash_clock[0], &crashed, sizeof crashed) != sizeof crashed) return -1;
    samples.push_back(static_cast<double>(next_started - crashed) / 1e6);
    (void)crash.exception();
  }
  std::nth_element(samples.begin(), samples.begin() + samples.size() / 2, samples.end());
  return samples[samples.size() / 2];
}

double round_trip_ms() {
  cfutures::process_pool_executor pool({.max_workers = 1});
  pool.submit(identity, 0).result();
  constexpr int n = 2000;
  const auto start = clock_type::now();
  for (int i = 0; i < n; ++i) pool.submit(identity, i).result();
  return seconds_since(start) * 1e3 / n;
}

double batch_per_s(int crash_every, cfutures::start_method method, bool work = false) {
  cfutures::process_pool_executor pool(
      {.max_workers = 2, .method = method, .on_worker_death = cfutures::worker_death::fail_call});
  pool.submit(identity, 0).result();
  const int n = work ? 4000 : 20000;
  const auto start = clock_type::now();
  std::vector<cfutures::future<int>> fs;
  fs.reserve(n);
  for (int i = 0; i < n; ++i) {
    const bool die = crash_every > 0 && i % crash_every == 7;
    fs.push_back(work ? pool.submit(work_100us_or_die, i, die)
                      : pool.submit(identity_or_die, i, die));
  }
  for (auto& f : fs) (void)f.exception();
  return n / seconds_since(start);
}

}  // namespace

int main(int argc, char** argv) {
  cfutures::serve_if_worker(argc, argv);
  int crash_clock[2];
  if (::pipe(crash_clock) != 0) return 1;
  using cfutures::start_method;
  std::printf("replace_fork_ms %.4f ms\n", replace_ms(start_method::fork, crash_clock));
  std::printf("replace_forkserver_ms %.4f ms\n",
              replace_ms(start_method::forkserver, crash_clock));
  std::printf("replace_spawn_ms %.4f ms\n", replace_ms(start_method::spawn, crash_clock));
  std::printf("round_trip_ms %.4f ms\n", round_trip_ms());
  for (const auto method : {start_method::fork, start_method::forkserver}) {
    const char* suffix = method == start_method::fork ? "" : "_forkserver";
    const double clean = batch_per_s(0, method);
    const double crashing = batch_per_s(100, method);
    std::printf("batch_per_s%s %.1f calls/s\n", suffix, clean);
    std::printf("batch_1pct_crash_per_s%s %.1f calls/s\n", suffix, crashing);
    std::printf("crash_batch_ratio%s %.3f x\n", suffix, crashing / clean);
  }
  const double clean = batch_per_s(0, start_method::fork, true);
  const double crashing = batch_per_s(100, start_method::fork, true);
  std::printf("batch_per_s_100us %.1f calls/s\n", clean);
  std::printf("batch_1pct_crash_per_s_100us %.1f calls/s\n", crashing);
  std::printf("crash_batch_ratio_100us %.3f x\n", crashing / clean);
}
