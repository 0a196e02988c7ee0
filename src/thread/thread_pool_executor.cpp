#include "cfutures/thread_pool_executor.hpp"

#include <utility>

#include "thread_pool_core.hpp"

namespace cfutures {

thread_local thread_pool_executor::submit_batch* thread_pool_executor::current_batch_ = nullptr;

thread_pool_executor::thread_pool_executor() : thread_pool_executor(thread_pool_options{}) {}

thread_pool_executor::thread_pool_executor(std::size_t max_workers)
    : thread_pool_executor(thread_pool_options{.max_workers = max_workers}) {}

thread_pool_executor::thread_pool_executor(thread_pool_options options)
    : core_(std::make_shared<detail::thread_pool_core>(std::move(options))) {}

thread_pool_executor::~thread_pool_executor() {
  core_->shutdown(true, false);
  core_->detach_current_worker();
}

std::size_t thread_pool_executor::max_workers() const noexcept { return core_->max_workers(); }

void thread_pool_executor::enqueue(detail::state_base* task) {
  submit_batch* batch = current_batch_;
  if (batch && batch->pool_ == this && core_->batches_submits()) {
    task->next_in_queue.store(nullptr, std::memory_order_relaxed);
    if (batch->last_) {
      batch->last_->next_in_queue.store(task, std::memory_order_relaxed);
    } else {
      batch->first_ = task;
    }
    batch->last_ = task;
    if (++batch->count_ == submit_batch::size) batch->flush();
    return;
  }
  core_->enqueue(task);
}

void thread_pool_executor::shutdown(shutdown_options options) noexcept {
  core_->shutdown(options.wait, options.cancel_futures);
}

executor_stats thread_pool_executor::stats() const noexcept { return core_->stats(); }

thread_pool_executor::submit_batch::submit_batch(thread_pool_executor& pool)
    : pool_(&pool), outer_(current_batch_) {
  current_batch_ = this;
}

thread_pool_executor::submit_batch::~submit_batch() {
  current_batch_ = outer_;
  // Not flushed (map() is unwinding): what was submitted still runs, as in Python, unless the
  // pool has closed meanwhile, which cancels it.
  try {
    flush();
  } catch (...) {
  }
}

void thread_pool_executor::submit_batch::flush() {
  if (count_ == 0) return;
  detail::state_base* first = std::exchange(first_, nullptr);
  detail::state_base* last = std::exchange(last_, nullptr);
  pool_->core_->enqueue_list(first, last, std::exchange(count_, 0));
}

}  // namespace cfutures
