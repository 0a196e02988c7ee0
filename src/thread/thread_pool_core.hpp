// The thread pool's shared core: owned by the executor and by every worker thread, so a
// worker that outlives the executor object (shutdown from inside the pool) stays valid.
//
// Data flow:
//   submit ──enqueue──▶ FIFO of tasks (intrusive, under mutex_) ──▶ worker_main: pop, run
//     │  spawns a worker when more tasks wait than workers are idle or finishing
//     └─ blocks on space_cv_ while max_pending tasks wait (not from the pool's own workers)
//   shutdown: closes the queue; cancel_futures drains it (futures cancelled) and requests a
//   stop of running stop_token tasks; workers finish the queue, then exit; wait joins them.
//   A failing initializer breaks the pool: the queue is drained into broken_thread_pool.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "cfutures/detail/shared_state.hpp"
#include "cfutures/thread_pool_executor.hpp"

namespace cfutures::detail {

class thread_pool_core : public std::enable_shared_from_this<thread_pool_core> {
 public:
  explicit thread_pool_core(thread_pool_options options);

  std::size_t max_workers() const noexcept { return max_workers_; }
  void enqueue(state_base* task);
  void shutdown(bool wait, bool cancel_futures) noexcept;
  // Detaches the calling worker's own thread, if any (the executor dies on a worker).
  void detach_current_worker() noexcept;

 private:
  void worker_main(std::size_t index);
  void spawn_worker_locked();
  state_base* pop_locked() noexcept;
  state_base* drain_locked() noexcept;  // the whole queue as a list
  void fail_initializer(std::exception_ptr error) noexcept;
  static void abandon_all(state_base* list, const std::exception_ptr& reason) noexcept;
  bool on_own_worker() const noexcept;

  const std::size_t max_workers_;
  const std::string name_prefix_;
  const std::function<void()> initializer_;
  const std::size_t max_pending_;

  std::mutex mutex_;
  std::condition_variable work_cv_;   // workers wait for tasks
  std::condition_variable space_cv_;  // submitters wait for room (max_pending)
  state_base* head_ = nullptr;
  state_base* tail_ = nullptr;
  std::size_t queued_ = 0;
  std::size_t idle_ = 0;
  std::atomic<std::size_t> finishing_{0};  // see run_context::finishing
  std::vector<std::thread> threads_;
  bool shutdown_ = false;
  std::optional<std::string> broken_;
  std::stop_source stop_;

  std::mutex join_mutex_;  // serializes joiners
};

}  // namespace cfutures::detail
