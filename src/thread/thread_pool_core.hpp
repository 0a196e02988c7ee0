// The thread pool's shared core: owned by the executor and by every worker thread, so a
// worker that outlives the executor object (shutdown from inside the pool) stays valid.
// One class, implemented in one file per idea (each file draws its own part):
//
//   thread_pool_core_admission.cpp   submit, the injection queue, max_pending back-pressure
//   thread_pool_core_scheduling.cpp  finding work (own ring, injection queue, stealing),
//                                    running it, work-helping while a worker waits for a
//                                    future of its own pool
//   thread_pool_core_parking.cpp     idle workers spinning then sleeping; waking one
//   thread_pool_core_lifecycle.cpp   workers started on demand, initializer, naming,
//                                    shutdown and joining, the broken pool
//
// Data flow:
//
//   submit from outside ──▶ injection queue (lock-free    ─┐ a worker takes a batch:
//   map() ── 256 at a time ─▶ FIFO; one push, one wake-up) │ one to run, the rest into
//                                                           ▼ its own ring
//   submit from a worker ─────────────────────────▶ worker's ring (task_ring, lock-free)
//                                                           │
//   find_work(): own ring ─▶ injection queue ─▶ other workers' rings (stealing)
//
// Memory orders, in one place (the Dekker pairs are also marked where they are):
//  - Tasks are published by the queues: task_ring (tail_ release / acquire) and
//    injection_queue (exchange acq_rel, link release / acquire).
//  - slots_[i] and started_ are stored with release once the worker object is built and
//    loaded with acquire before it is used.
//  - No lost wake-up, no lost task, by seq_cst pairs: notify_work()'s fence with park()'s
//    fence (queues against parked_count_ / searching_); push_injected()'s entered_
//    increment with shutdown()'s closed_ store and the workers' exit check;
//    count_taken()'s decrement with reserve_space()'s space_waiters_ increment.
//  - Counters that only steer decisions (idle_tokens_, all_started_, waiting_, the
//    decrements of parked_count_) are relaxed: no data is published through them, and what
//    they steer is re-checked where it matters (park() re-checks the queues, reserve_space()
//    re-checks under space_mutex_).
//  - wake_word: release store by the waker, acquire load by the parked worker.
//  - closed_ / broken_: release stores (broken_message_ is written first, under its mutex),
//    acquire loads. spinning_ is a token (at most one spinner) and orders nothing.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "cfutures/detail/futex.hpp"
#include "cfutures/detail/shared_state.hpp"
#include "cfutures/stats.hpp"
#include "cfutures/thread_pool_executor.hpp"
#include "home_cpu.hpp"
#include "injection_queue.hpp"
#include "task_ring.hpp"

namespace cfutures::detail {

class thread_pool_core final : public std::enable_shared_from_this<thread_pool_core>,
                               public wait_helper {
 public:
  explicit thread_pool_core(thread_pool_options options);

  std::size_t max_workers() const noexcept { return max_workers_; }
  // Takes over the tasks' queue references; on failure abandons them and throws.
  void enqueue(state_base* task);
  void enqueue_list(state_base* first, state_base* last, std::size_t count);
  // Whether submits from this thread may be batched (no max_pending back-pressure).
  bool batches_submits() const noexcept { return max_pending_ == 0; }
  void shutdown(bool wait, bool cancel_futures) noexcept;
  // Detaches the calling worker's own thread, if any (the executor dies on a worker).
  void detach_current_worker() noexcept;

  bool help_until(help_target& target, const deadline& until) noexcept override;

  // Stats (thread_pool_core_stats.cpp): the counters below, summed.
  executor_stats stats() noexcept;
  void count_cancelled(int delta) noexcept {
    cancelled_.fetch_add(static_cast<std::size_t>(delta), std::memory_order_relaxed);
  }

 private:
  // A worker's counters (executor_stats): written by its own thread only (a load and a
  // store, no read-modify-write on the hot path), read by stats() with relaxed loads.
  struct alignas(64) worker_counters {
    std::atomic<std::size_t> submitted{0};  // into its own ring
    std::atomic<std::size_t> taken{0};      // tasks it took from a queue
    std::atomic<std::size_t> completed{0};
    std::atomic<std::size_t> failed{0};
    std::atomic<std::size_t> dropped{0};  // taken, then found cancelled (a race)
    bool counted_take = false;            // the task being run was counted in taken
    static void bump(std::atomic<std::size_t>& c) noexcept {
      c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
  };

  struct worker final : waiter_sink {
    worker(thread_pool_core& p, std::size_t i);
    void notify(std::uint32_t, bool) noexcept override;  // the awaited future is done

    thread_pool_core& pool;
    const std::size_t index;
    int home_cpu = -1;            // where it sleeps (home_cpu.hpp); set by the thread starting it
    start_placement placement;    // where its thread first runs (home_cpu.hpp)
    run_context context;          // for the tasks it takes from the queues
    run_context helping_context;  // for the tasks it runs while waiting (counting only)
    worker_counters counters;
    task_ring ring;
    std::atomic<std::uint32_t> wake_word{0};  // futex: 1 once woken
    waiter_node awaited_node;                 // subscribed while parked in help_until
    // Guarded by park_mutex_:
    worker* parked_prev = nullptr;
    worker* parked_next = nullptr;
    bool parked = false;
    bool woken_searching = false;  // the waker counted this worker in searching_
    // Only the worker's own thread:
    bool searching = false;         // counted in searching_
    int idle_beside_submitter = 0;  // consecutive idle() entries on the submitter's CPU
  };

  // Admission (thread_pool_core_admission.cpp).
  // Appends to the injection queue; throws (after abandoning the tasks) once closed.
  // Returns whether the queue held tasks already.
  bool push_injected(state_base* first, state_base* last, std::size_t count);
  [[noreturn]] void reject(state_base* first, std::size_t count);
  bool reserve_space();  // false once closed
  void count_taken(std::size_t count) noexcept;

  // Scheduling (thread_pool_core_scheduling.cpp).
  void work_loop(worker& self) noexcept;  // runs tasks until the pool closes and is empty
  state_base* find_work(worker* self) noexcept;
  state_base* take_injected(worker* self) noexcept;
  bool has_work() const noexcept;
  bool no_submit_in_flight() const noexcept;
  void took_task(worker& self, const state_base& task) noexcept;
  void run_task(state_base* task, const run_context& context) noexcept;
  static void before_publish(void* self, run_outcome outcome) noexcept;
  static void count_outcome(void* self, run_outcome outcome) noexcept;

  // Parking and waking (thread_pool_core_parking.cpp).
  void idle(worker& self) noexcept;
  void stop_searching(worker& self) noexcept;
  void note_submitter_cpu() noexcept;
  void leave_submitters_cpu(worker& self) noexcept;
  void park(worker& self, help_target* awaited, const deadline& until) noexcept;
  void notify_work(bool piling_up) noexcept;
  void wake_one(bool near_waker) noexcept;
  void wake_all() noexcept;
  void unlink_parked_locked(worker& w) noexcept;

  // Worker lifecycle (thread_pool_core_lifecycle.cpp).
  void start_workers(std::size_t submitted);
  void start_worker_if_needed();  // throws only if no worker exists and none could start
  void worker_main(worker& self);
  void worker_started() noexcept;  // counts a worker in running_workers_ until worker_left()
  void worker_left() noexcept;
  bool closing() const noexcept;
  worker* own_worker() const noexcept;
  state_base* drain_all() noexcept;  // every queue, as a list
  void fail_initializer(std::exception_ptr error) noexcept;
  static void abandon_all(state_base* list, const std::exception_ptr& reason) noexcept;

  // Spins until `ready()` or `window` has passed; returns whether ready() was seen: an idle
  // worker (idle()) and a worker waiting inside the pool (help_until()) before they park.
  template <class Ready>
  static bool spin_until(Ready ready, std::chrono::microseconds window) noexcept {
    const spin_wait spin(window);
    do {
      if (ready()) return true;
    } while (spin.next());
    return ready();
  }

  static thread_local const thread_pool_core* this_pool_;
  static thread_local worker* this_worker_;

  const std::size_t max_workers_;
  const std::size_t max_threads_;  // max_workers_, capped by what an array of slots holds
  const std::string name_prefix_;
  const std::function<void()> initializer_;
  const std::size_t max_pending_;
  const int origin_cpu_;  // where the pool was created: homes start after it (home_cpu.hpp)
  std::stop_source stop_;

  // The injection queue and the pool's flags. Words written at every submit or by every
  // task sit on cache lines of their own (alignas(64)), apart from the words that the other
  // side only reads: sharing a line made each submit wait for a transfer of that line.
  injection_queue injected_;
  // Submits between the closed_ check and a push: entered_ - left_ (in tasks; entered_ is
  // also how many tasks came from outside, for the stats).
  alignas(64) std::atomic<std::size_t> entered_{0};
  std::atomic<std::size_t> left_{0};
  std::atomic<int> submitter_cpu_{-1};           // CPU of the last submit from outside the pool
  alignas(64) std::atomic<bool> closed_{false};  // shutdown() was called
  std::atomic<bool> broken_{false};
  std::mutex message_mutex_;
  std::string broken_message_;  // guarded by message_mutex_

  // Workers: slots [0, started_) are set; worker objects live as long as the core.
  std::unique_ptr<std::atomic<worker*>[]> slots_;
  std::atomic<std::size_t> started_{0};
  std::atomic<bool> all_started_{false};
  std::atomic<std::size_t> idle_tokens_{0};
  std::mutex threads_mutex_;  // guards workers_, threads_ (growth)
  std::vector<std::unique_ptr<worker>> workers_;
  std::vector<std::thread> threads_;
  std::mutex join_mutex_;  // serializes joiners and detachers
  // Workers that have not left worker_main yet, and how many of them wait inside a
  // shutdown(wait) of their own: such a worker waits for the others here instead of joining
  // them, since another thread may hold join_mutex_ while it joins this very worker.
  std::mutex exit_mutex_;
  std::condition_variable exit_cv_;
  std::size_t running_workers_ = 0;      // guarded by exit_mutex_
  std::size_t workers_in_shutdown_ = 0;  // guarded by exit_mutex_

  // Sleeping workers.
  std::mutex park_mutex_;
  worker* parked_head_ = nullptr;
  alignas(64) std::atomic<std::size_t> parked_count_{0};  // read by every submit
  alignas(64) std::atomic<std::size_t> searching_{0};     // written around every task
  std::atomic<std::uint32_t> spinning_{0};

  // max_pending back-pressure (only when max_pending_ != 0).
  std::atomic<std::size_t> waiting_{0};  // queued tasks not yet taken

  // Stats of rare events (the hot ones are in worker_counters).
  alignas(64) std::atomic<std::size_t> rejected_{0};  // entered_ but rejected (closed)
  std::atomic<std::size_t> cancelled_{0};             // cancelled while queued
  std::atomic<std::size_t> abandoned_failed_{0};      // failed without running (broken)
  std::atomic<std::size_t> space_waiters_{0};
  std::mutex space_mutex_;
  std::condition_variable space_cv_;
};

}  // namespace cfutures::detail
