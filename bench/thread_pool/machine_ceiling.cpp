// The fan-out's ceiling on this machine, not a pool: what two threads reach with no queue, no
// future and no wake-up. Each of two threads, pinned to CPUs of their own and both already
// running when the clock starts, takes tasks from one atomic counter until the 64 are done.
// Whatever a pool scores below this is its own cost; what this scores below 2× is the
// machine's (two vCPUs computing at once run slower than one alone on the hosts seen so far).
// Prints both fan-out metrics of cfutures_thread_pool.cpp, each its own measurement:
//   fanout_primes_x        serial time / two-thread time of 64 × count-primes(< 10000)
//   fanout_as_completed_x  the same, measured again (a pool's two ways of collecting are one
//                          here)
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

#include "common.hpp"

using bench::clock_type;
using bench::seconds_since;

namespace {

// The first two CPUs this process may run on (the same CPU twice on a one-CPU machine).
std::vector<int> two_cpus() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  sched_getaffinity(0, sizeof allowed, &allowed);
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE && cpus.size() < 2; ++cpu) {
    if (CPU_ISSET(cpu, &allowed)) cpus.push_back(cpu);
  }
  if (cpus.size() == 1) cpus.push_back(cpus[0]);
  return cpus;
}

void pin_this_thread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

void print_ceiling(const char* metric) {
  long serial_sum = 0;
  const double serial = bench::serial_fanout_seconds(serial_sum);

  const std::vector<int> cpus = two_cpus();
  cpu_set_t was;
  pthread_getaffinity_np(pthread_self(), sizeof was, &was);
  pin_this_thread(cpus[0]);
  std::atomic<int> next{0};
  std::atomic<long> sum{0};
  std::atomic<bool> helper_running{false}, go{false};
  const auto take_tasks = [&] {
    long own = 0;
    for (int i; (i = next.fetch_add(1)) < bench::fanout_tasks;) own += bench::count_primes(10000);
    sum += own;
  };
  std::thread helper([&] {
    pin_this_thread(cpus[1]);
    helper_running = true;
    while (!go.load(std::memory_order_acquire)) {
    }
    take_tasks();
  });
  while (!helper_running) std::this_thread::yield();

  const auto start = clock_type::now();
  go.store(true, std::memory_order_release);
  take_tasks();
  helper.join();
  const double parallel = seconds_since(start);
  pthread_setaffinity_np(pthread_self(), sizeof was, &was);

  if (serial_sum != sum) std::fprintf(stderr, "fan-out: wrong sum\n");
  std::printf("%s %.6g x\n", metric, serial / parallel);
}

}  // namespace

int main() {
  print_ceiling("fanout_primes_x");
  print_ceiling("fanout_as_completed_x");
}
