// The thread pool's parking and wake-up: an idle worker spins briefly, then sleeps on its
// own futex word; a submit wakes one sleeping worker when nobody else will take the task.
// All lock-free on the submit path.
//
// Sleeping and waking:
//   worker, nothing found ─▶ spin up to spin_window if no other worker spins (spinning_),
//                            else, or after the window: park on its own futex word, pinned
//                            to its home CPU and SCHED_BATCH while asleep (home_cpu.hpp; a
//                            new worker also moves there when it starts)
//   submit ─▶ push; fence; if a worker is parked and none is searching while work is still
//            queued, or if the shared queue was not empty (work piles up): wake one
//   a worker about to spin on the CPU of the last outside submitter, twice in a row, moves
//   to the next CPU (leave_submitters_cpu): sharing one CPU, a submit → result loop hands
//   over by sched_yield (~8 µs a round trip) until the kernel separates them (15-25 ms)
//   "searching" (searching_) = about to look for work: counted just before a worker
//   publishes a result with its ring empty, and by a waker for the worker it wakes; uncounted
//   when that worker takes a task or parks. It lets a round trip (submit, result, submit…)
//   run on one spinning worker without waking another. park() re-checks every queue after
//   announcing itself (seq_cst, Dekker with the submitter's fence), so no wake-up is lost.
//
// A worker's parking states (its list links, parked and woken_searching under park_mutex_):
//
//   running ──park()──▶ parked: linked at parked_head_, counted in parked_count_
//      ▲                 │                                   │
//      │                 │ wake_one / wake_all: unlinked     │ the re-check finds work (or
//      │                 │ by the waker, wake_word set;      │ closing, or the awaited future
//      │                 │ wake_one also counts it in        │ ready), the futex wait times
//      │                 │ searching_ (woken_searching)      │ out, or the awaited future's
//      │                 ▼                                   ▼ notify() sets wake_word
//      ├───── woken (searching if woken_searching)   still linked: unlinks itself
//      └─────────────────────────────────────────────────────┘
#include <sched.h>

#include <chrono>
#include <mutex>

#include "cfutures/detail/futex.hpp"
#include "home_cpu.hpp"
#include "thread_pool_core.hpp"

namespace cfutures::detail {
namespace {

// How long an idle worker spins before it parks: long enough to catch the next call of a
// submit → result loop, short enough that an idle pool costs no CPU.
constexpr auto worker_spin_window = std::chrono::microseconds(100);

}  // namespace

void thread_pool_core::worker::notify(std::uint32_t, bool) noexcept {
  wake_word.store(1, std::memory_order_release);
  futex_wake_one(wake_word);
}

void thread_pool_core::idle(worker& self) noexcept {
  if (spinning_.load(std::memory_order_relaxed) == 0 &&
      spinning_.exchange(1, std::memory_order_acquire) == 0) {
    if (!self.searching) {
      self.searching = true;
      searching_.fetch_add(1, std::memory_order_seq_cst);
    }
    leave_submitters_cpu(self);
    const bool found = spin_until([&] { return has_work() || closing(); }, worker_spin_window);
    spinning_.store(0, std::memory_order_release);
    if (found) return;
  }
  park(self, nullptr, deadline::never());
}

void thread_pool_core::stop_searching(worker& self) noexcept {
  if (!self.searching) return;
  self.searching = false;
  searching_.fetch_sub(1, std::memory_order_seq_cst);
}

// Relaxed: a hint for placement only. Written only when it changes (the line stays the
// submitter's).
void thread_pool_core::note_submitter_cpu() noexcept {
  const int cpu = sched_getcpu();
  if (submitter_cpu_.load(std::memory_order_relaxed) != cpu) {
    submitter_cpu_.store(cpu, std::memory_order_relaxed);
  }
}

// A single hand-over on the submitter's CPU is cheap (see wake_one), so a worker moves only
// the second time in a row that it is about to spin there.
void thread_pool_core::leave_submitters_cpu(worker& self) noexcept {
  const int submitter = submitter_cpu_.load(std::memory_order_relaxed);
  if (submitter < 0 || sched_getcpu() != submitter) {
    self.idle_beside_submitter = 0;
    return;
  }
  if (++self.idle_beside_submitter < 2) return;
  self.idle_beside_submitter = 0;
  move_to_home_cpu(home_cpu(submitter, 0));
}

// Sleeps until woken by a submit (wake_one / wake_all), by `awaited` becoming ready (if
// given), or until `until`. Returns at once if there is work, if the pool is closing (when
// idle), or if awaited is ready.
void thread_pool_core::park(worker& self, help_target* awaited, const deadline& until) noexcept {
  self.wake_word.store(0, std::memory_order_relaxed);
  if (awaited && !awaited->subscribe(self, self.awaited_node)) return;  // ready already
  {
    std::lock_guard lock(park_mutex_);
    self.parked_prev = nullptr;
    self.parked_next = parked_head_;
    if (parked_head_) parked_head_->parked_prev = &self;
    parked_head_ = &self;
    self.parked = true;
    self.woken_searching = false;
    parked_count_.fetch_add(1, std::memory_order_seq_cst);
  }
  stop_searching(self);
  // Dekker with notify_work(): either a submitter sees this worker parked, or the re-check
  // below sees its task.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const bool stay_awake = has_work() || (awaited ? awaited->ready() : closing());
  if (!stay_awake) {
    const home_cpu_pin pinned_while_asleep(self.home_cpu);
    const batch_while_asleep no_preemption_on_wake_up;
    while (self.wake_word.load(std::memory_order_acquire) == 0) {
      if (!futex_wait(self.wake_word, 0, until.time_point())) break;
    }
  }
  {
    std::lock_guard lock(park_mutex_);
    if (self.parked) {
      unlink_parked_locked(self);
    } else if (self.woken_searching) {
      self.searching = true;  // the waker counted this worker in searching_
    }
  }
  if (awaited) awaited->unsubscribe(self.awaited_node);
}

void thread_pool_core::unlink_parked_locked(worker& w) noexcept {
  if (w.parked_prev) {
    w.parked_prev->parked_next = w.parked_next;
  } else {
    parked_head_ = w.parked_next;
  }
  if (w.parked_next) w.parked_next->parked_prev = w.parked_prev;
  w.parked_prev = w.parked_next = nullptr;
  w.parked = false;
  parked_count_.fetch_sub(1, std::memory_order_relaxed);
}

// After queueing work: wakes one parked worker unless one is already searching, or if work
// is piling up (the shared queue was not empty). The submitter wakes them rather than
// leaving it to a chain of workers: a worker woken by a worker tends to be queued on the
// waker's CPU while another CPU idles.
// "Nobody searching" alone is not enough: a spinning worker often takes the task and stops
// searching before the submitter gets here. Waking a second worker for a task already taken
// made the two swap roles (and CPUs) on about 5 % of sequential round trips, each swap a
// 5-15 µs round trip. So the queues are checked too; if the task is gone, whoever took it is
// awake and looks again before it parks.
void thread_pool_core::notify_work(bool piling_up) noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (parked_count_.load(std::memory_order_relaxed) != 0 &&
      (piling_up || (searching_.load(std::memory_order_relaxed) == 0 && has_work()))) {
    // An outside submitter with nothing piling up is about to wait for this task: waking a
    // worker at home on the submitter's CPU hands the task over without waking an idle CPU
    // (15-70 µs here). When work piles up, or a worker wakes a helper, spread instead.
    wake_one(!piling_up && own_worker() == nullptr);
  }
}

void thread_pool_core::wake_one(bool near_waker) noexcept {
  worker* w = nullptr;
  {
    std::lock_guard lock(park_mutex_);
    w = parked_head_;
    if (!w) return;
    // Among the first few parked, prefer one whose home is (near_waker) or is not this CPU.
    const int here = sched_getcpu();
    worker* candidate = w;
    for (int looked = 0; candidate && looked < 4; ++looked, candidate = candidate->parked_next) {
      if ((candidate->home_cpu == here) == near_waker) {
        w = candidate;
        break;
      }
    }
    unlink_parked_locked(*w);
    w->woken_searching = true;
    searching_.fetch_add(1, std::memory_order_seq_cst);
  }
  w->notify(0, false);
}

void thread_pool_core::wake_all() noexcept {
  // Wakes under the lock: a woken worker may park again at once and reuse its links.
  std::lock_guard lock(park_mutex_);
  while (worker* w = parked_head_) {
    unlink_parked_locked(*w);
    w->notify(0, false);
  }
}

}  // namespace cfutures::detail
