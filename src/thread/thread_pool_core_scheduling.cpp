// The thread pool's scheduling: where a worker finds its next task, running it, and
// work-helping (a worker waiting for a future of its own pool runs queued tasks meanwhile).
//
//   work_loop(): closing_now = closed, and no submit mid-push (read before looking)
//      │
//      ▼
//   find_work(): own ring ─▶ injection queue ─────────▶ other workers' rings (stealing,
//      │                     (take_injected: one to run,  starting after this worker)
//      │                      a batch into the own ring)
//      ├── found ─▶ took_task(), run_task() ─────────────────────▶ back to the top
//      └── none ──▶ closing_now ? exit : idle() (spin, then park) ─▶ back to the top
//
// Waiting inside the pool (wait_helper): a worker whose task waits for futures of its own
// pool (result(), wait(), as_completed()) runs queued tasks meanwhile (own ring first), and
// parks subscribed to what it waits for when there is nothing to run; a new task or the
// awaited completion wakes it.
#include <algorithm>
#include <chrono>

#include "thread_pool_core.hpp"

namespace cfutures::detail {
namespace {

// How long a worker waiting inside the pool spins before it parks.
constexpr auto helper_spin_window = std::chrono::microseconds(50);
// The most tasks a worker moves from the injection queue at once.
constexpr std::size_t max_batch = 32;

}  // namespace

void thread_pool_core::work_loop(worker& self) noexcept {
  for (;;) {
    // Read before looking: once closed and no submit is mid-push, everything queued is
    // visible to find_work.
    const bool closing_now = closing() && no_submit_in_flight();
    if (state_base* task = find_work(&self)) {
      took_task(self, *task);
      run_task(task, self.context);
      continue;
    }
    if (closing_now) break;
    idle(self);
  }
  stop_searching(self);
}

state_base* thread_pool_core::find_work(worker* self) noexcept {
  if (self) {
    if (state_base* task = self->ring.pop()) return task;
  }
  if (state_base* task = take_injected(self)) return task;
  const std::size_t n = started_.load(std::memory_order_acquire);
  const std::size_t first = self ? self->index + 1 : 0;
  for (std::size_t k = 0; k < n; ++k) {
    worker* victim = slots_[(first + k) % n].load(std::memory_order_acquire);
    if (victim == nullptr || victim == self) continue;
    if (state_base* task = victim->ring.pop()) return task;
  }
  return nullptr;
}

// Takes one task from the injection queue to run and, for a worker, up to max_batch - 1
// more into its ring (one turn of the consumer lock for the lot). Null if another thread
// holds the consumer lock: the caller steals or retries.
state_base* thread_pool_core::take_injected(worker* self) noexcept {
  if (!injected_.non_empty() || !injected_.try_lock()) return nullptr;
  state_base* first = injected_.pop();
  if (first && self) {
    const std::uint64_t room = std::min<std::uint64_t>(max_batch - 1, self->ring.room());
    for (std::uint64_t i = 0; i < room; ++i) {
      state_base* task = injected_.pop();
      if (!task) break;
      self->ring.push(task);  // room checked above; only this thread pushes to it
    }
  }
  injected_.unlock();
  return first;
}

bool thread_pool_core::has_work() const noexcept {
  if (injected_.non_empty()) return true;
  const std::size_t n = started_.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < n; ++i) {
    worker* w = slots_[i].load(std::memory_order_acquire);
    if (w && !w->ring.empty()) return true;
  }
  return false;
}

void thread_pool_core::took_task(worker& self, const state_base& task) noexcept {
  // A task cancelled while queued was counted then: it is not taken (count_outcome).
  self.counters.counted_take = !task.done();
  if (self.counters.counted_take) worker_counters::bump(self.counters.taken);
  count_taken(1);
  if (!self.searching) return;
  stop_searching(self);
  // More work than this worker can take: make sure someone else looks (chain wake-up).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (has_work()) notify_work(false);
}

void thread_pool_core::run_task(state_base* task, const run_context& context) noexcept {
  task->run(context);
  task->release();
}

// Called by a task just before it publishes its result, in the worker's thread: leaves an
// idle token (thread_pool_core_lifecycle.cpp) and counts the worker as searching if its ring
// is empty (thread_pool_core_parking.cpp).
void thread_pool_core::before_publish(void* arg, run_outcome outcome) noexcept {
  count_outcome(arg, outcome);
  auto& self = *static_cast<worker*>(arg);
  thread_pool_core& pool = self.pool;
  if (!pool.all_started_.load(std::memory_order_relaxed)) {
    pool.idle_tokens_.fetch_add(1, std::memory_order_relaxed);
  }
  if (!self.searching && self.ring.empty()) {
    self.searching = true;
    pool.searching_.fetch_add(1, std::memory_order_seq_cst);
  }
}

bool thread_pool_core::help_until(help_target& awaited, const deadline& until) noexcept {
  worker& self = *own_worker();  // installed on this pool's workers only
  // A queued task runs to its end even if the deadline passes meanwhile.
  while (!awaited.ready() && !until.passed()) {
    if (state_base* task = find_work(&self)) {
      took_task(self, *task);
      run_task(task, self.helping_context);
      continue;
    }
    if (spin_until([&] { return awaited.ready() || has_work(); }, helper_spin_window)) continue;
    park(self, &awaited, until);
  }
  stop_searching(self);
  return awaited.ready();
}

}  // namespace cfutures::detail
