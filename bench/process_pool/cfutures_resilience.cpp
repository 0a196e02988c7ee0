// The resilient process pool's costs (issue 16), cfutures side; python_resilience.py prints
// CPython's counterparts (a pool breaks there: its "replacement" is a new pool).
//   replace_fork_ms        a call kills its worker (SIGKILL) under worker_death::fail_call;
//                          median time from submitting it to the result of the next call,
//                          which runs on the replacement (1 worker, fork)
//   replace_spawn_ms       the same with spawn
//   batch_per_s            trivial calls per second, 20 000 on 2 workers, fail_call
//   batch_1pct_crash_per_s the same batch with 1 % of the calls killing their worker
//   crash_batch_ratio      the second over the first (the target: at least 0.5)
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cfutures/cfutures.hpp>
#include <chrono>
#include <cstdio>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

int identity(int x) { return x; }
int identity_or_die(int x, bool die) {
  if (die) ::kill(::getpid(), SIGKILL);
  return x;
}

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

double replace_ms(cfutures::start_method method) {
  cfutures::process_pool_executor pool({.max_workers = 1,
                                        .method = method,
                                        .on_worker_death = cfutures::worker_death::fail_call});
  pool.submit(identity, 0).result();
  std::vector<double> samples;
  for (int i = 0; i < 30; ++i) {
    const auto start = clock_type::now();
    auto crash = pool.submit(identity_or_die, i, true);
    pool.submit(identity, i).result();
    samples.push_back(seconds_since(start) * 1e3);
    (void)crash.exception();
  }
  std::nth_element(samples.begin(), samples.begin() + samples.size() / 2, samples.end());
  return samples[samples.size() / 2];
}

double batch_per_s(int crash_every) {
  cfutures::process_pool_executor pool(
      {.max_workers = 2, .on_worker_death = cfutures::worker_death::fail_call});
  pool.submit(identity, 0).result();
  constexpr int n = 20000;
  const auto start = clock_type::now();
  std::vector<cfutures::future<int>> fs;
  fs.reserve(n);
  for (int i = 0; i < n; ++i) {
    fs.push_back(pool.submit(identity_or_die, i, crash_every > 0 && i % crash_every == 7));
  }
  for (auto& f : fs) (void)f.exception();
  return n / seconds_since(start);
}

}  // namespace

int main(int argc, char** argv) {
  cfutures::serve_if_worker(argc, argv);
  std::printf("replace_fork_ms %.4f ms\n", replace_ms(cfutures::start_method::fork));
  std::printf("replace_spawn_ms %.4f ms\n", replace_ms(cfutures::start_method::spawn));
  const double clean = batch_per_s(0);
  const double crashing = batch_per_s(100);
  std::printf("batch_per_s %.1f calls/s\n", clean);
  std::printf("batch_1pct_crash_per_s %.1f calls/s\n", crashing);
  std::printf("crash_batch_ratio %.3f x\n", crashing / clean);
}
