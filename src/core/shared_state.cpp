#include "cfutures/detail/shared_state.hpp"

#include <thread>

#include "cfutures/detail/futex.hpp"
#include "cfutures/detail/multi_waiter.hpp"
#include "cfutures/errors.hpp"

namespace cfutures::detail {
namespace {
constexpr int spin_before_sleep = 128;
}

state_base::~state_base() {
  // Callbacks of a state that never completed are dropped with it.
  while (callbacks_head_) delete std::exchange(callbacks_head_, callbacks_head_->next);
}

std::uint32_t state_base::lock() noexcept {
  std::uint32_t w = word_.load(std::memory_order_relaxed);
  for (int spins = 0;; ++spins) {
    // acquire: pairs with the release in unlock() / publish_locked().
    if (!(w & lock_bit) && word_.compare_exchange_weak(w, w | lock_bit, std::memory_order_acquire,
                                                       std::memory_order_relaxed)) {
      return w | lock_bit;
    }
    if (spins < 64) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
    w = word_.load(std::memory_order_relaxed);
  }
}

void state_base::unlock() noexcept { word_.fetch_and(~lock_bit, std::memory_order_release); }

bool state_base::publish_locked(status to, bool with_exception) noexcept {
  waiter_node* waiters = std::exchange(waiters_, nullptr);
  callback_node* callbacks = std::exchange(callbacks_head_, nullptr);
  callback_node* callbacks_tail = std::exchange(callbacks_tail_, nullptr);
  const std::uint32_t terminal =
      static_cast<std::uint32_t>(to) | (with_exception ? exception_bit : 0);
  // Only a pending state can be cancelled; a worker may move PENDING to RUNNING meanwhile.
  const auto may_leave = [to](std::uint32_t w) {
    return to == status::cancelled ? status_of(w) == status::pending : is_open(w);
  };
  std::uint32_t w = word_.load(std::memory_order_relaxed);
  for (;;) {
    if (!may_leave(w)) {
      waiters_ = waiters;
      callbacks_head_ = callbacks;
      callbacks_tail_ = callbacks_tail;
      unlock();
      return false;
    }
    // Without waiters, one CAS publishes and unlocks. With waiters, LOCK stays held while
    // they are notified. release: pairs with the acquire loads of readers.
    const std::uint32_t next = waiters ? (terminal | lock_bit | (w & sleepers_bit)) : terminal;
    if (word_.compare_exchange_weak(w, next, std::memory_order_acq_rel,
                                    std::memory_order_relaxed)) {
      break;
    }
  }
  bool wake = (w & sleepers_bit) != 0;
  if (waiters) {
    while (waiters) {
      waiter_node* node = std::exchange(waiters, waiters->next);
      node->linked = false;
      node->prev = node->next = nullptr;
      node->owner->notify(node->index, with_exception);
    }
    wake = (word_.fetch_and(~(lock_bit | sleepers_bit), std::memory_order_release) &
            sleepers_bit) != 0;
  }
  if (wake) futex_wake_all(word_);
  while (callbacks) {
    std::unique_ptr<callback_node> node(std::exchange(callbacks, callbacks->next));
    node->invoke(*this);
  }
  return true;
}

bool state_base::cancel() noexcept {
  const std::uint32_t w = lock();
  if (status_of(w) == status::cancelled) {
    unlock();
    return true;
  }
  if (status_of(w) != status::pending) {
    unlock();
    return false;
  }
  return publish_locked(status::cancelled, false);
}

bool state_base::try_start() noexcept {
  std::uint32_t w = word_.load(std::memory_order_relaxed);
  while (status_of(w) == status::pending) {
    // acquire: the runner sees everything written before the task was queued.
    if (word_.compare_exchange_weak(w, (w & ~status_mask) | std::uint32_t(status::running),
                                    std::memory_order_acquire, std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

bool state_base::set_running_or_notify_cancel() {
  if (try_start()) return true;
  if (get_status() == status::cancelled) return false;
  throw invalid_state_error(
      "set_running_or_notify_cancel: the future is already running or finished");
}

bool state_base::try_set_exception(std::exception_ptr error) noexcept {
  const std::uint32_t w = lock();
  if (!is_open(w)) {
    unlock();
    return false;
  }
  error_ = std::move(error);
  return publish_locked(status::finished, true);
}

void state_base::set_exception(std::exception_ptr error) {
  if (!error) throw std::invalid_argument("set_exception: null exception_ptr");
  if (!try_set_exception(std::move(error))) {
    throw invalid_state_error("set_exception: the future is already done or cancelled");
  }
}

bool state_base::wait_until(const deadline& until) const noexcept {
  for (int i = 0; i < spin_before_sleep; ++i) {
    if (is_done(word_.load(std::memory_order_acquire))) return true;
    if (until.passed()) return false;
    cpu_relax();
  }
  for (;;) {
    std::uint32_t w = word_.load(std::memory_order_acquire);
    if (is_done(w)) return true;
    if (!(w & sleepers_bit)) {
      if (!word_.compare_exchange_weak(w, w | sleepers_bit, std::memory_order_relaxed)) continue;
      w |= sleepers_bit;
    }
    if (!futex_wait(word_, w, until.time_point())) return done();
  }
}

std::exception_ptr state_base::exception_of_done() const {
  const std::uint32_t w = word();
  if (status_of(w) == status::cancelled) throw cancelled_error();
  return (w & exception_bit) ? error_ : nullptr;
}

void state_base::throw_if_failed() const {
  if (auto e = exception_of_done()) std::rethrow_exception(e);
}

void state_base::add_callback(std::unique_ptr<callback_node> node) {
  const std::uint32_t w = lock();
  if (is_done(w)) {
    unlock();
    node->invoke(*this);
    return;
  }
  callback_node* raw = node.release();
  if (callbacks_tail_) {
    callbacks_tail_->next = raw;
  } else {
    callbacks_head_ = raw;
  }
  callbacks_tail_ = raw;
  unlock();
}

bool state_base::add_waiter(waiter_node& node) noexcept {
  const std::uint32_t w = lock();
  if (is_done(w)) {
    unlock();
    return false;
  }
  node.prev = nullptr;
  node.next = waiters_;
  if (waiters_) waiters_->prev = &node;
  waiters_ = &node;
  node.linked = true;
  unlock();
  return true;
}

void state_base::remove_waiter(waiter_node& node) noexcept {
  lock();
  if (node.linked) {
    if (node.prev) {
      node.prev->next = node.next;
    } else {
      waiters_ = node.next;
    }
    if (node.next) node.next->prev = node.prev;
    node.linked = false;
  }
  unlock();
}

void state_base::run(const run_context& context) noexcept {
  if (context.finishing) context.finishing->fetch_add(1, std::memory_order_relaxed);
}

void state_base::abandon(std::exception_ptr reason) noexcept {
  if (reason) {
    try_set_exception(std::move(reason));
  } else {
    cancel();
  }
}

}  // namespace cfutures::detail
