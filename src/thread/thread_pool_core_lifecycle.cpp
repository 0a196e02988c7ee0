// The thread pool's worker lifecycle: workers started on demand, the initializer, thread
// names, shutdown and joining, and the broken pool (a failed initializer).
//
// Workers start on demand as in Python: every submit takes an "idle token" or starts a
// worker (up to max_workers); a worker leaves a token just before it publishes a result.
//
//   start_worker_if_needed(): a new thread, placed on the worker's home CPU
//     ─▶ worker_main(): named <prefix>_<index>, then the initializer
//          ├─ throws ──▶ fail_initializer(): the pool is broken, every queue drained
//          └─ returns ─▶ work_loop() (thread_pool_core_scheduling.cpp) until closed and empty
//     ─▶ worker_left() ─▶ joined by shutdown(wait), or by detach_current_worker() when the
//        executor dies on one of its workers
//
//   the pool: open ──shutdown()──────────▶ closed (a submit throws shutdown_error)
//               └────initializer throws──▶ broken (a submit throws broken_thread_pool)
//
// shutdown: closes the pool to submits (closed_; a submit that passed the check before is
// counted in entered_ - left_ until its push is done); cancel_futures drains every queue
// (futures cancelled) and requests a stop of running stop_token tasks; workers run what is
// left, then exit once they find nothing; wait joins them. A failing initializer breaks the
// pool: every queue is drained into broken_thread_pool. A shutdown(wait) called on one of
// the pool's workers (by a task or a done-callback) joins nobody: it waits until every other
// worker has left worker_main or waits likewise, and leaves the joins to the destructor.
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "cfutures/errors.hpp"
#include "home_cpu.hpp"
#include "thread_pool_core.hpp"

namespace cfutures::detail {
namespace {

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

}  // namespace

thread_local const thread_pool_core* thread_pool_core::this_pool_ = nullptr;
thread_local thread_pool_core::worker* thread_pool_core::this_worker_ = nullptr;

thread_pool_core::worker::worker(thread_pool_core& p, std::size_t i)
    : pool(p),
      index(i),
      context{p.stop_.get_token(), &thread_pool_core::before_publish, this},
      helping_context{p.stop_.get_token(), &thread_pool_core::count_outcome, this} {}

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

// ── starting ─────────────────────────────────────────────────────────────────────────────

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
  work_loop(self);
  set_thread_wait_helper(nullptr, nullptr);
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
    // A failure is counted before it is published, and taken back if the future was
    // cancelled first (then count_cancelled_task counted it). Cancelling counts itself.
    auto* pool = static_cast<const thread_pool_core*>(task->origin);
    auto* counted = reason && pool && !task->done()
                        ? &const_cast<thread_pool_core*>(pool)->abandoned_failed_
                        : nullptr;
    if (counted) counted->fetch_add(1, std::memory_order_relaxed);
    task->abandon(reason);
    if (counted && !task->finished_with_exception()) {
      counted->fetch_sub(1, std::memory_order_relaxed);
    }
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

}  // namespace cfutures::detail
