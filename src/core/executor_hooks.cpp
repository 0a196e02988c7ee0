// The core's hooks for executors and the one waiting routine (detail/executor_hooks.hpp).
#include "cfutures/detail/executor_hooks.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <utility>
#include <vector>

#include "cfutures/detail/futex.hpp"

namespace cfutures::detail {
namespace {

struct thread_helper {
  wait_helper* helper = nullptr;
  const void* origin = nullptr;
};
thread_local thread_helper current_helper;

// Executors registered as shared_wait_helper. `count` lets waiters skip the lock while none
// is registered (relaxed: a helper registered concurrently with a wait may be missed by it,
// which only costs that wait its help). Never destroyed: waits may happen during exit.
struct shared_helper_registry {
  std::mutex mutex;
  std::vector<std::pair<const void*, std::weak_ptr<shared_wait_helper>>> entries;
  std::atomic<std::size_t> count{0};
};

std::atomic<shared_helper_registry*> current_registry{nullptr};

// In a forked child: the parent's registry is forgotten (left alone: another thread may have
// held its lock at the fork, and its helpers' threads are not in the child). The core's own
// handler: executors have nothing to call around fork.
void forget_in_child() noexcept { current_registry.store(nullptr, std::memory_order_relaxed); }

shared_helper_registry& shared_helpers() {
  // A flag, not a guarded static: a child forked meanwhile must not find a guard taken.
  static std::atomic<bool> hooked{false};
  if (!hooked.exchange(true)) pthread_atfork(nullptr, nullptr, &forget_in_child);
  shared_helper_registry* r = current_registry.load(std::memory_order_acquire);
  if (r) return *r;
  auto* fresh = new shared_helper_registry;
  // acq_rel: publishes the new registry; on failure, acquires the one another thread put.
  if (current_registry.compare_exchange_strong(r, fresh, std::memory_order_acq_rel)) {
    return *fresh;
  }
  delete fresh;
  return *r;
}

std::shared_ptr<shared_wait_helper> shared_wait_helper_for(const void* origin) noexcept {
  shared_helper_registry* r = current_registry.load(std::memory_order_acquire);
  if (!origin || !r || r->count.load(std::memory_order_relaxed) == 0) return nullptr;
  std::lock_guard lock(r->mutex);
  for (const auto& [key, helper] : r->entries) {
    if (key == origin) return helper.lock();
  }
  return nullptr;
}

}  // namespace

bool stop_through_origin(const void* origin, state_base& state) noexcept {
  const auto helper = shared_wait_helper_for(origin);
  return helper && helper->stop_running(state);
}

void register_shared_wait_helper(const void* origin, std::weak_ptr<shared_wait_helper> helper) {
  auto& r = shared_helpers();
  std::lock_guard lock(r.mutex);
  r.entries.emplace_back(origin, std::move(helper));
  r.count.store(r.entries.size(), std::memory_order_relaxed);
}

void unregister_shared_wait_helper(const void* origin) noexcept {
  auto& r = shared_helpers();
  std::lock_guard lock(r.mutex);
  std::erase_if(r.entries, [origin](const auto& entry) { return entry.first == origin; });
  r.count.store(r.entries.size(), std::memory_order_relaxed);
}

void set_thread_wait_helper(wait_helper* helper, const void* origin) noexcept {
  current_helper = {helper, origin};
}

bool thread_helps_with(const void* origin) noexcept {
  return origin && origin == current_helper.origin && current_helper.helper;
}

const void* thread_wait_origin() noexcept { return current_helper.origin; }

wait_step wait_before_sleeping(help_target& target, const void* thread_origin,
                               const void* shared_origin, const deadline& until) noexcept {
  if (thread_helps_with(thread_origin)) {
    return current_helper.helper->help_until(target, until) ? wait_step::ready : wait_step::passed;
  }
  if (const auto shared = shared_wait_helper_for(shared_origin)) {
    // The helper spun already: what is left is sleeping.
    return shared->help_briefly(target, until) ? wait_step::ready : wait_step::sleep;
  }
  // A wake-up per completion would preempt a worker each time (as_completed over a
  // fan-out), while a spinning waiter yields its CPU and collects several at once.
  const spin_wait spin(waiter_spin_window);
  do {
    if (target.ready()) return wait_step::ready;
    if (until.passed()) return wait_step::passed;
  } while (spin.next());
  return wait_step::sleep;
}

}  // namespace cfutures::detail
