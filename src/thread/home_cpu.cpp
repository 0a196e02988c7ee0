#include "home_cpu.hpp"

#include "cfutures/detail/futex.hpp"

namespace cfutures::detail {

int home_cpu(int origin_cpu, std::size_t index) noexcept {
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return -1;
  const int count = CPU_COUNT(&allowed);
  if (count < 2) return -1;
  int cpus[CPU_SETSIZE];
  int position = -1;  // of origin_cpu among the allowed CPUs
  for (int cpu = 0, n = 0; cpu < CPU_SETSIZE && n < count; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    if (cpu == origin_cpu) position = n;
    cpus[n++] = cpu;
  }
  return cpus[(static_cast<std::size_t>(position + 1) + index) % static_cast<std::size_t>(count)];
}

home_cpu_pin::home_cpu_pin(int home) noexcept {
  if (home < 0 || sched_getaffinity(0, sizeof previous_, &previous_) != 0) return;
  if (!CPU_ISSET(home, &previous_) || CPU_COUNT(&previous_) < 2) return;
  cpu_set_t only_home;
  CPU_ZERO(&only_home);
  CPU_SET(home, &only_home);
  pinned_ = sched_setaffinity(0, sizeof only_home, &only_home) == 0;
}

home_cpu_pin::~home_cpu_pin() {
  if (pinned_) sched_setaffinity(0, sizeof previous_, &previous_);
}

batch_while_asleep::batch_while_asleep() noexcept {
  const sched_param no_priority{};
  switched_ = sched_getscheduler(0) == SCHED_OTHER &&
              sched_setscheduler(0, SCHED_BATCH, &no_priority) == 0;
}

batch_while_asleep::~batch_while_asleep() {
  const sched_param no_priority{};
  if (switched_) sched_setscheduler(0, SCHED_OTHER, &no_priority);
}

void start_placement::place(pthread_t thread, int home) noexcept {
  if (home >= 0 && pthread_getaffinity_np(thread, sizeof inherited_, &inherited_) == 0 &&
      CPU_ISSET(home, &inherited_) && CPU_COUNT(&inherited_) >= 2) {
    cpu_set_t only_home;
    CPU_ZERO(&only_home);
    CPU_SET(home, &only_home);
    pinned_ = pthread_setaffinity_np(thread, sizeof only_home, &only_home) == 0;
  }
  placed_.store(1, std::memory_order_release);
  futex_wake_all(placed_);
}

void start_placement::settle() noexcept {
  while (placed_.load(std::memory_order_acquire) == 0) futex_wait(placed_, 0, nullptr);
  if (pinned_) sched_setaffinity(0, sizeof inherited_, &inherited_);
}

}  // namespace cfutures::detail
