// The fan-out's ceiling on this machine, not a pool: what two threads reach with no queue and
// no future. Each of two threads, pinned to CPUs of their own, takes tasks from one atomic
// counter until the 64 are done. Whatever a pool scores below this is its own cost; what this
// scores below 2× is the machine's (two vCPUs computing at once run slower than one alone on
// the hosts seen so far).
//   (no argument)  both threads are already running when the clock starts: no wake-up at all
//   --woken        the helper thread sleeps (a futex) through the serial phase, as the idle
//                  workers of any pool that stops spinning do, and is woken when the clock
//                  starts: the bound for such a pool, waking a halted vCPU included
// Prints both fan-out metrics of cfutures_thread_pool.cpp, each its own measurement:
//   fanout_primes_x        serial time / two-thread time of 64 × count-primes(< 10000)
//   fanout_as_completed_x  the same, measured again (a pool's two ways of collecting are one
//                          here)
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstdio>
#include <string_view>
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

void print_ceiling(const char* metric, bool woken) {
  const std::vector<int> cpus = two_cpus();
  cpu_set_t was;
  pthread_getaffinity_np(pthread_self(), sizeof was, &was);
  std::atomic<int> next{0};
  std::atomic<long> sum{0};
  std::atomic<bool> helper_ready{false}, go{false};
  const auto take_tasks = [&] {
    long own = 0;
    for (int i; (i = next.fetch_add(1)) < bench::fanout_tasks;) own += bench::count_primes(10000);
    sum += own;
  };
  const auto start_helper = [&] {
    return std::thread([&] {
      pin_this_thread(cpus[1]);
      helper_ready = true;
      if (woken) {
        go.wait(false, std::memory_order_acquire);
      } else {
        while (!go.load(std::memory_order_acquire)) {
        }
      }
      take_tasks();
    });
  };

  std::thread helper;
  if (woken) helper = start_helper();  // asleep through the serial phase
  long serial_sum = 0;
  const double serial = bench::serial_fanout_seconds(serial_sum);
  if (!woken) helper = start_helper();  // spinning from now on
  pin_this_thread(cpus[0]);
  while (!helper_ready) std::this_thread::yield();

  const auto start = clock_type::now();
  go.store(true, std::memory_order_release);
  if (woken) go.notify_one();
  take_tasks();
  helper.join();
  const double parallel = seconds_since(start);
  pthread_setaffinity_np(pthread_self(), sizeof was, &was);

  if (serial_sum != sum) std::fprintf(stderr, "fan-out: wrong sum\n");
  std::printf("%s %.6g x\n", metric, serial / parallel);
}

}  // namespace

int main(int argc, char** argv) {
  const bool woken = argc > 1 && std::string_view(argv[1]) == "--woken";
  print_ceiling("fanout_primes_x", woken);
  print_ceiling("fanout_as_completed_x", woken);
}
