#include "home_cpu.hpp"

#include <atomic>

namespace cfutures::detail {

namespace {

std::atomic<unsigned> homes_handed_out{0};

}  // namespace

int next_home_cpu() noexcept {
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return -1;
  const int count = CPU_COUNT(&allowed);
  if (count < 2) return -1;
  int wanted = static_cast<int>(homes_handed_out.fetch_add(1, std::memory_order_relaxed) %
                                static_cast<unsigned>(count));
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &allowed) && wanted-- == 0) return cpu;
  }
  return -1;
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

}  // namespace cfutures::detail
