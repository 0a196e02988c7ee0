#include "cfutures/detail/shared_state.hpp"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "cfutures/detail/futex.hpp"
#include "cfutures/errors.hpp"

namespace cfutures::detail {
namespace {

// Reverses a callback list (newest first -> oldest first).
callback_node* reversed(callback_node* list) noexcept {
  callback_node* out = nullptr;
  while (list) {
    callback_node* node = std::exchange(list, list->next);
    node->next = out;
    out = node;
  }
  return out;
}

// A future's state as a help_target.
class state_target final : public help_target {
 public:
  explicit state_target(state_base& state) noexcept : state_(state) {}
  bool ready() const noexcept override { return state_.done(); }
  bool subscribe(waiter_sink& sink, waiter_node& node) noexcept override {
    node.owner = &sink;
    return state_.add_waiter(node);
  }
  void unsubscribe(waiter_node& node) noexcept override { state_.remove_waiter(node); }

 private:
  state_base& state_;
};

}  // namespace

state_base::~state_base() {
  // Callbacks of a state that never completed are dropped with it.
  while (callbacks_) std::exchange(callbacks_, callbacks_->next)->discard();
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

bool state_base::cancel_open() noexcept {
  lock();
  return publish_locked(status::cancelled, false, true);
}

bool state_base::publish_locked(status to, bool with_exception, bool from_running) noexcept {
  waiter_node* waiters = std::exchange(waiters_, nullptr);
  callback_node* callbacks = std::exchange(callbacks_, nullptr);
  const std::uint32_t terminal =
      static_cast<std::uint32_t>(to) | (with_exception ? exception_bit : 0);
  // Only a pending state can be cancelled; a worker may move PENDING to RUNNING meanwhile.
  const auto may_leave = [to, from_running](std::uint32_t w) {
    return to == status::cancelled && !from_running ? status_of(w) == status::pending
                                                    : is_open(w);
  };
  std::uint32_t w = word_.load(std::memory_order_relaxed);
  for (;;) {
    if (!may_leave(w)) {
      waiters_ = waiters;
      callbacks_ = callbacks;
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
  callbacks = reversed(callbacks);
  while (callbacks) {
    std::exchange(callbacks, callbacks->next)->invoke(*this);  // disposes of the node
  }
  return true;
}

bool state_base::cancel() noexcept {
  const std::uint32_t w = lock();
  if (status_of(w) == status::cancelled) {
    unlock();
    return true;
  }
  if (status_of(w) == status::running) return cancel_running_locked();
  if (status_of(w) != status::pending) {
    unlock();
    return false;
  }
  // Counted before it is published (a waiter that sees it cancelled finds it counted);
  // taken back if a worker started the call meanwhile.
  cancelling(+1);
  if (publish_locked(status::cancelled, false)) return true;
  cancelling(-1);
  return false;
}

bool state_base::cancel_running_locked() noexcept {
  unlock();
  return false;
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
  if (is_done(word_.load(std::memory_order_acquire))) return true;
  // Waiting is not a mutation; a helper links a waiter node, as wait() does.
  state_target target(const_cast<state_base&>(*this));
  const wait_step step = wait_before_sleeping(target, origin, origin, until);
  if (step != wait_step::sleep) return step == wait_step::ready;
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

void state_base::add_callback(callback_node* node) noexcept {
  const std::uint32_t w = lock();
  if (is_done(w)) {
    unlock();
    node->invoke(*this);
    return;
  }
  node->next = callbacks_;
  callbacks_ = node;
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
  context.finishing(run_outcome::dropped);
}

void state_base::abandon(std::exception_ptr reason) noexcept {
  if (reason) {
    try_set_exception(std::move(reason));
  } else {
    cancel();
  }
}

}  // namespace cfutures::detail
