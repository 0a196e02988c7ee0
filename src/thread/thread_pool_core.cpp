#include "thread_pool_core.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <utility>

#include "cfutures/detail/futex.hpp"
#include "cfutures/errors.hpp"
#include "home_cpu.hpp"

// Memory orders, in one place (the Dekker pairs are also marked where they are):
//  - Tasks are published by the queues: task_ring (tail_ release / acquire) and
//    injection_queue (exchange acq_rel, link release / acquire).
//  - slots_[i] and started_ are stored with release once the worker object is built and
//    loaded with acquire before it is used.
//  - No lost wake-up, no lost task, by seq_cst pairs: notify_work()'s fence with park()'s
//    fence (queues against parked_count_ / searching_); push_injected()'s submitters_
//    increment with shutdown()'s closed_ store and the workers' exit check;
//    count_taken()'s decrement with reserve_space()'s space_waiters_ increment.
//  - Counters that only steer decisions (idle_tokens_, all_started_, waiting_, the
//    decrements of parked_count_) are relaxed: no data is published through them, and what
//    they steer is re-checked where it matters (park() re-checks the queues, reserve_space()
//    re-checks under space_mutex_).
//  - wake_word: release store by the waker, acquire load by the parked worker.
//  - closed_ / broken_: release stores (broken_message_ is written first, under its mutex),
//    acquire loads. spinning_ is a token (at most one spinner) and orders nothing.
namespace cfutures::detail {
namespace {

// How long an idle worker spins before it parks: long enough to catch the next call of a
// submit → result loop, short enough that an idle pool costs no CPU.
constexpr auto worker_spin_window = std::chrono::microseconds(100);
// How long a worker waiting inside the pool spins before it parks.
constexpr auto helper_spin_window = std::chrono::microseconds(50);
// The most tasks a worker moves from the injection queue at once.
constexpr std::size_t max_batch = 32;
// Worker slots are one array; more threads than this are never started.
constexpr std::size_t max_slots = std::size_t{1} << 16;

std::size_t default_max_workers() {
  const std::size_t cpus = std::max(1u, std::thread::hardware_concurrency());
  return std::min<std::size_t>(32, cpus + 4);
}

std::size_t checked_max_workers(const std::optional<std::size_t>& requested) {
  if (!requested) return default_max_workers();
  if (*requested == 0) throw std::invalid_argument("max_workers must be greater than 0");
  return *requested;
}

void name_this_thread(const std::string& prefix, std::size_t index) {
  std::string name = prefix + "_" + std::to_string(index);
  name.resize(std::min<std::size_t>(name.size(), 15));  // Linux's limit, without the NUL
  pthread_setname_np(pthread_self(), name.c_str());
}

// Spins until `ready()` or `window` has passed; returns whether ready() was seen.
template <class Ready>
bool spin_until(Ready ready, std::chrono::microseconds window) noexcept {
  const spin_wait spin(window);
  do {
    if (ready()) return true;
  } while (spin.next());
  return ready();
}

}  // namespace

thread_local const thread_pool_core* thread_pool_core::this_pool_ = nullptr;
thread_local thread_pool_core::worker* thread_pool_core::this_worker_ = nullptr;

thread_pool_core::worker::worker(thread_pool_core& p, std::size_t i)
    : pool(p),
      index(i),
      context{p.stop_.get_token(), &thread_pool_core::before_publish, this},
      helping_context{p.stop_.get_token()} {}

void thread_pool_core::worker::notify(std::uint32_t, bool) noexcept {
  wake_word.store(1, std::memory_order_release);
  futex_wake_one(wake_word);
}

thread_pool_core::thread_pool_core(thread_pool_options options)
    : max_workers_(checked_max_workers(options.max_workers)),
      max_threads_(std::min(max_workers_, max_slots)),
      name_prefix_(options.thread_name_prefix.empty() ? "cfutures"
                                                      : std::move(options.thread_name_prefix)),
      initializer_(std::move(options.initializer)),
      max_pending_(options.max_pending),
      origin_cpu_(sched_getcpu()),
      slots_(new std::atomic<worker*>[max_threads_]()) {}

thread_pool_core::worker* thread_pool_core::own_worker() const noexcept {
  return this_pool_ == this ? this_worker_ : nullptr;
}

bool thread_pool_core::closing() const noexcept {
  return closed_.load(std::memory_order_acquire) || broken_.load(std::memory_order_acquire);
}

// ── submitting ───────────────────────────────────────────────────────────────────────────

void thread_pool_core::enqueue(state_base* task) {
  task->origin = this;
  worker* self = own_worker();
  if (self) {
    // A worker's own submits never block on max_pending and go to its ring.
    if (closing()) reject(task, 0);
    if (max_pending_ != 0) waiting_.fetch_add(1, std::memory_order_relaxed);
    bool piling_up = false;
    if (!self->ring.push(task)) piling_up = push_injected(task, task, 1);
    start_workers(1);
    notify_work(piling_up);
    return;
  }
  if (max_pending_ != 0 && !reserve_space()) reject(task, 0);
  note_submitter_cpu();
  const bool piling_up = push_injected(task, task, 1);
  // Queued first, then a worker started, as in Python: a worker whose initializer fails
  // right away breaks the pool under this task's future, not under this submit.
  start_workers(1);
  notify_work(piling_up);
}

void thread_pool_core::enqueue_list(state_base* first, state_base* last, std::size_t count) {
  for (state_base* t = first; t; t = t->next_in_queue.load(std::memory_order_relaxed)) {
    t->origin = this;
  }
  if (max_pending_ != 0) waiting_.fetch_add(count, std::memory_order_relaxed);
  if (!own_worker()) note_submitter_cpu();
  const bool piling_up = push_injected(first, last, count) || count > 1;
  start_workers(count);
  notify_work(piling_up);
}

void thread_pool_core::start_workers(std::size_t submitted) {
  try {
    for (std::size_t i = 0; i < submitted && !all_started_.load(std::memory_order_relaxed); ++i) {
      start_worker_if_needed();
    }
  } catch (...) {
    // Not even one worker could be started: nobody would ever run what is queued.
    abandon_all(drain_all(), nullptr);
    throw;
  }
}

bool thread_pool_core::push_injected(state_base* first, state_base* last, std::size_t count) {
  // seq_cst: Dekker with shutdown()'s store to closed_ and a worker's exit check, which
  // reads closed_ then submitters_: either this push is rejected, or the worker waits for it.
  submitters_.fetch_add(1, std::memory_order_seq_cst);
  if (closing()) {
    submitters_.fetch_sub(1, std::memory_order_release);
    reject(first, count);
  }
  const bool piling_up = injected_.push(first, last);
  submitters_.fetch_sub(1, std::memory_order_release);
  return piling_up;
}

void thread_pool_core::reject(state_base* first, std::size_t count) {
  std::exception_ptr reason;
  {
    std::lock_guard lock(message_mutex_);
    reason = broken_.load(std::memory_order_relaxed)
                 ? std::make_exception_ptr(broken_thread_pool(broken_message_))
                 : std::make_exception_ptr(shutdown_error());
  }
  if (max_pending_ != 0) count_taken(count);
  abandon_all(first, nullptr);
  std::rethrow_exception(reason);
}

// Python's _adjust_thread_count: an idle token, else a new worker (up to max_workers).
void thread_pool_core::start_worker_if_needed() {
  if (all_started_.load(std::memory_order_relaxed)) return;
  std::size_t tokens = idle_tokens_.load(std::memory_order_relaxed);
  while (tokens > 0) {
    if (idle_tokens_.compare_exchange_weak(tokens, tokens - 1, std::memory_order_relaxed)) return;
  }
  std::lock_guard lock(threads_mutex_);
  const std::size_t index = workers_.size();
  if (closing() || index >= max_threads_) return;
  workers_.push_back(std::make_unique<worker>(*this, index));
  worker* w = workers_.back().get();
  w->home_cpu = home_cpu(origin_cpu_, index);  // the new thread inherits this thread's CPUs
  worker_started();
  try {
    threads_.emplace_back([self = shared_from_this(), w] {
      self->worker_main(*w);
      self->worker_left();
    });
  } catch (...) {
    worker_left();
    workers_.pop_back();
    if (threads_.empty()) throw;  // nobody would ever run the work
    return;
  }
  w->placement.place(threads_.back().native_handle(), w->home_cpu);
  slots_[index].store(w, std::memory_order_release);
  started_.store(index + 1, std::memory_order_release);
  if (index + 1 == max_threads_) all_started_.store(true, std::memory_order_relaxed);
}

bool thread_pool_core::reserve_space() {
  for (;;) {
    std::size_t waiting = waiting_.load(std::memory_order_relaxed);
    while (waiting < max_pending_) {
      if (waiting_.compare_exchange_weak(waiting, waiting + 1, std::memory_order_relaxed)) {
        return true;
      }
    }
    std::unique_lock lock(space_mutex_);
    // seq_cst: Dekker with count_taken()'s decrement, then its load of space_waiters_.
    space_waiters_.fetch_add(1, std::memory_order_seq_cst);
    space_cv_.wait(
        lock, [&] { return waiting_.load(std::memory_order_seq_cst) < max_pending_ || closing(); });
    space_waiters_.fetch_sub(1, std::memory_order_relaxed);
    if (closing()) return false;
  }
}

void thread_pool_core::count_taken(std::size_t count) noexcept {
  if (max_pending_ == 0 || count == 0) return;
  waiting_.fetch_sub(count, std::memory_order_seq_cst);
  if (space_waiters_.load(std::memory_order_seq_cst) != 0) {
    std::lock_guard lock(space_mutex_);
    space_cv_.notify_all();
  }
}

// ── finding work ─────────────────────────────────────────────────────────────────────────

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

void thread_pool_core::took_task(worker& self) noexcept {
  count_taken(1);
  if (!self.searching) return;
  stop_searching(self);
  // More work than this worker can take: make sure someone else looks (chain wake-up).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (has_work()) notify_work(false);
}

void thread_pool_core::stop_searching(worker& self) noexcept {
  if (!self.searching) return;
  self.searching = false;
  searching_.fetch_sub(1, std::memory_order_seq_cst);
}

// ── running ──────────────────────────────────────────────────────────────────────────────

void thread_pool_core::worker_main(worker& self) {
  self.placement.settle();
  this_pool_ = this;
  this_worker_ = &self;
  name_this_thread(name_prefix_, self.index);
  if (initializer_) {
    try {
      initializer_();
    } catch (...) {
      fail_initializer(std::current_exception());
      return;
    }
    move_to_home_cpu(self.home_cpu);  // the initializer may have run anywhere
  }
  set_thread_wait_helper(this, this);
  for (;;) {
    // Read before looking: once closed and no submit is mid-push, everything queued is
    // visible to find_work.
    const bool closing_now = closing() && submitters_.load(std::memory_order_seq_cst) == 0;
    if (state_base* task = find_work(&self)) {
      took_task(self);
      run_task(task, self.context);
      continue;
    }
    if (closing_now) break;
    idle(self);
  }
  stop_searching(self);
  set_thread_wait_helper(nullptr, nullptr);
}

void thread_pool_core::run_task(state_base* task, const run_context& context) noexcept {
  task->run(context);
  task->release();
}

// Called by a task just before it publishes its result, in the worker's thread.
void thread_pool_core::before_publish(void* arg) noexcept {
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
      took_task(self);
      run_task(task, self.helping_context);
      continue;
    }
    if (spin_until([&] { return awaited.ready() || has_work(); }, helper_spin_window)) continue;
    park(self, &awaited, until);
  }
  stop_searching(self);
  return awaited.ready();
}

// ── sleeping and waking ──────────────────────────────────────────────────────────────────

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

// ── shutdown and failure ─────────────────────────────────────────────────────────────────

state_base* thread_pool_core::drain_all() noexcept {
  state_base* list = nullptr;
  std::size_t count = 0;
  const auto prepend = [&](state_base* task) {
    task->next_in_queue.store(list, std::memory_order_relaxed);
    list = task;
    ++count;
  };
  injected_.lock();
  while (state_base* task = injected_.pop()) prepend(task);
  injected_.unlock();
  const std::size_t n = started_.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < n; ++i) {
    worker* w = slots_[i].load(std::memory_order_acquire);
    while (state_base* task = w->ring.pop()) prepend(task);
  }
  count_taken(count);
  return list;  // newest first; abandoning order does not matter
}

void thread_pool_core::abandon_all(state_base* list, const std::exception_ptr& reason) noexcept {
  while (list) {
    state_base* task = std::exchange(list, list->next_in_queue.load(std::memory_order_relaxed));
    task->abandon(reason);
    task->release();
  }
}

void thread_pool_core::fail_initializer(std::exception_ptr error) noexcept {
  std::string message = "A thread initializer failed, the thread pool is not usable anymore";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    message += std::string(" (") + e.what() + ")";
  } catch (...) {
  }
  {
    std::lock_guard lock(message_mutex_);
    if (!broken_.load(std::memory_order_relaxed)) {
      broken_message_ = message;
      broken_.store(true, std::memory_order_release);
    }
  }
  state_base* dropped = drain_all();
  wake_all();
  {
    std::lock_guard lock(space_mutex_);
    space_cv_.notify_all();
  }
  abandon_all(dropped, std::make_exception_ptr(broken_thread_pool(message)));
}

void thread_pool_core::shutdown(bool wait, bool cancel_futures) noexcept {
  closed_.store(true, std::memory_order_seq_cst);
  {
    // A worker being started right now is in threads_ once this lock is ours; no other is.
    std::lock_guard lock(threads_mutex_);
  }
  state_base* dropped = cancel_futures ? drain_all() : nullptr;
  wake_all();
  {
    std::lock_guard lock(space_mutex_);
    space_cv_.notify_all();
  }
  if (cancel_futures) {
    abandon_all(dropped, nullptr);
    stop_.request_stop();
  }
  if (!wait) return;
  if (own_worker()) {
    // Joining here could deadlock: another thread's shutdown(wait) may hold join_mutex_
    // while it joins this worker. Wait for the other workers to leave instead (those that
    // wait likewise count as gone, or two of them would wait for each other).
    std::unique_lock lock(exit_mutex_);
    ++workers_in_shutdown_;
    exit_cv_.notify_all();
    exit_cv_.wait(lock, [&] { return running_workers_ <= workers_in_shutdown_; });
    --workers_in_shutdown_;
    return;
  }
  std::lock_guard joining(join_mutex_);
  for (std::thread& t : threads_) {
    if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
  }
}

void thread_pool_core::detach_current_worker() noexcept {
  // The executor dies on one of its workers: its shutdown(wait) joined nobody (see shutdown),
  // and the other workers have left worker_main, so joining them is quick.
  std::lock_guard joining(join_mutex_);
  for (std::thread& t : threads_) {
    if (!t.joinable()) continue;
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();
    } else {
      t.join();
    }
  }
}

void thread_pool_core::worker_started() noexcept {
  std::lock_guard lock(exit_mutex_);
  ++running_workers_;
}

void thread_pool_core::worker_left() noexcept {
  std::lock_guard lock(exit_mutex_);
  --running_workers_;
  exit_cv_.notify_all();
}

}  // namespace cfutures::detail
