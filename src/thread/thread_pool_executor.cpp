#include "cfutures/thread_pool_executor.hpp"

#include <pthread.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "cfutures/errors.hpp"
#include "thread_pool_core.hpp"

namespace cfutures {
namespace detail {
namespace {

// The pool whose worker the current thread is, if any.
thread_local const thread_pool_core* current_pool = nullptr;

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

thread_pool_core::thread_pool_core(thread_pool_options options)
    : max_workers_(checked_max_workers(options.max_workers)),
      name_prefix_(options.thread_name_prefix.empty() ? "cfutures"
                                                      : std::move(options.thread_name_prefix)),
      initializer_(std::move(options.initializer)),
      max_pending_(options.max_pending) {}

bool thread_pool_core::on_own_worker() const noexcept { return current_pool == this; }

void thread_pool_core::enqueue(state_base* task) {
  std::unique_lock lock(mutex_);
  if (max_pending_ != 0 && !on_own_worker()) {
    space_cv_.wait(lock, [&] { return queued_ < max_pending_ || shutdown_ || broken_; });
  }
  if (broken_ || shutdown_) {
    const std::exception_ptr reason = broken_
                                          ? std::make_exception_ptr(broken_thread_pool(*broken_))
                                          : std::make_exception_ptr(shutdown_error());
    lock.unlock();
    task->abandon(nullptr);
    task->release();
    std::rethrow_exception(reason);
  }
  task->next_in_queue = nullptr;
  if (tail_) {
    tail_->next_in_queue = task;
  } else {
    head_ = task;
  }
  tail_ = task;
  ++queued_;
  // A worker that has returned from its call but not yet come back for more counts as
  // available: sequential submit-then-result reuses one thread, as in Python.
  const std::size_t available = idle_ + finishing_.load(std::memory_order_relaxed);
  if (queued_ > available && threads_.size() < max_workers_) {
    try {
      spawn_worker_locked();
    } catch (...) {
      if (threads_.empty()) {  // nobody would ever run it
        head_ = tail_ = nullptr;
        queued_ = 0;
        lock.unlock();
        task->abandon(nullptr);
        task->release();
        throw;
      }
    }
  }
  if (idle_ > 0) work_cv_.notify_one();
}

void thread_pool_core::spawn_worker_locked() {
  const std::size_t index = threads_.size();
  threads_.emplace_back([self = shared_from_this(), index] { self->worker_main(index); });
}

state_base* thread_pool_core::pop_locked() noexcept {
  state_base* task = head_;
  head_ = task->next_in_queue;
  if (!head_) tail_ = nullptr;
  --queued_;
  return task;
}

state_base* thread_pool_core::drain_locked() noexcept {
  state_base* list = head_;
  head_ = tail_ = nullptr;
  queued_ = 0;
  return list;
}

void thread_pool_core::abandon_all(state_base* list, const std::exception_ptr& reason) noexcept {
  while (list) {
    state_base* task = std::exchange(list, list->next_in_queue);
    task->abandon(reason);
    task->release();
  }
}

void thread_pool_core::worker_main(std::size_t index) {
  current_pool = this;
  name_this_thread(name_prefix_, index);
  if (initializer_) {
    try {
      initializer_();
    } catch (...) {
      fail_initializer(std::current_exception());
      return;
    }
  }
  const run_context context{stop_.get_token(), &finishing_};
  std::unique_lock lock(mutex_);
  for (;;) {
    while (!head_ && !shutdown_ && !broken_) {
      ++idle_;
      work_cv_.wait(lock);
      --idle_;
    }
    if (!head_) break;
    state_base* task = pop_locked();
    if (max_pending_ != 0) space_cv_.notify_one();
    lock.unlock();
    task->run(context);
    task->release();
    lock.lock();
    finishing_.fetch_sub(1, std::memory_order_relaxed);
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
  state_base* dropped = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (!broken_) broken_ = message;
    dropped = drain_locked();
  }
  work_cv_.notify_all();
  space_cv_.notify_all();
  abandon_all(dropped, std::make_exception_ptr(broken_thread_pool(message)));
}

void thread_pool_core::shutdown(bool wait, bool cancel_futures) noexcept {
  state_base* dropped = nullptr;
  {
    std::lock_guard lock(mutex_);
    shutdown_ = true;
    if (cancel_futures) dropped = drain_locked();
  }
  work_cv_.notify_all();
  space_cv_.notify_all();
  if (cancel_futures) {
    abandon_all(dropped, nullptr);
    stop_.request_stop();
  }
  if (!wait) return;
  std::lock_guard joining(join_mutex_);
  // No thread is added once shutdown_ is set, so threads_ can be read without mutex_.
  for (std::thread& t : threads_) {
    if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
  }
}

void thread_pool_core::detach_current_worker() noexcept {
  std::lock_guard joining(join_mutex_);
  for (std::thread& t : threads_) {
    if (t.joinable() && t.get_id() == std::this_thread::get_id()) t.detach();
  }
}

}  // namespace detail

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

void thread_pool_executor::enqueue(detail::state_base* task) { core_->enqueue(task); }

void thread_pool_executor::shutdown(shutdown_options options) noexcept {
  core_->shutdown(options.wait, options.cancel_futures);
}

}  // namespace cfutures
