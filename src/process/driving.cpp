// "Who drives" (process_pool_core.hpp): the thread holding driver_ — the manager, a
// submitter handing its calls to an idle worker, or a thread waiting for one of the pool's
// futures (help_briefly) — reads the workers' replies and dispatches queued calls.
#include <sched.h>

#include <algorithm>

#include "process/process_pool_core.hpp"

namespace cfutures::detail {
namespace {

// The core whose driver_ this thread holds, if any.
thread_local const process_pool_core* driven_by_this_thread = nullptr;

}  // namespace

bool process_pool_core::driving() const noexcept { return driven_by_this_thread == this; }

bool process_pool_core::others_receive() const noexcept {
  return helpers_.load() > 0 ||
         clock::now().time_since_epoch().count() < lease_until_.load(std::memory_order_relaxed);
}

bool process_pool_core::try_drive() noexcept {
  if (driving() || !driver_.try_lock()) return false;
  driven_by_this_thread = this;
  return true;
}

void process_pool_core::drive() noexcept {
  driver_.lock();
  driven_by_this_thread = this;
}

void process_pool_core::stop_driving() noexcept {
  driven_by_this_thread = nullptr;
  driver_.unlock();
}

// With driver_ held by a thread other than the manager: dispatches (after reading the busy
// workers' replies, with `receive`); a failure there breaks the pool, as in the manager.
void process_pool_core::run_driven(bool receive) noexcept {
  try {
    if (receive) {
      receive_replies();
    } else {
      dispatch();
    }
  } catch (const std::exception& e) {
    try {
      break_executor(std::string("the process pool failed to reach its workers: ") + e.what());
    } catch (...) {
      // Out of memory while failing the pool: the manager will find the workers gone.
    }
  }
}

// Reads what the busy workers have sent (but those whose replies are the manager's:
// large_in_flight), then hands queued calls to the workers that became idle. With driver_
// held; only help_briefly calls it.
void process_pool_core::receive_replies() {
  for (auto& w : workers_) {
    if (w.link.fd() >= 0 && !w.slot.held.empty() && !w.large_in_flight) handle_input(w);
  }
  dispatch();
}

bool process_pool_core::help_briefly(help_target& target, const deadline& until) noexcept {
  if (driving()) return target.ready();  // a done-callback of this pool: the driver is us
  helpers_.fetch_add(1);
  lease_until_.store(0, std::memory_order_relaxed);  // whoever dispatched is now waiting
  auto give_up = clock::now() + help_window;
  if (until.time_point()) give_up = std::min(give_up, *until.time_point());
  while (!target.ready()) {
    // Only while the manager sleeps: an awake manager receives as fast, and taking driver_
    // from it would only make the two hand it back and forth (relaxed: a hint).
    if (sleeping_.load(std::memory_order_relaxed) && try_drive()) {
      run_driven(true);
      // Once shut down, the manager sleeps until nothing is in flight: if this thread read
      // the last reply, only it knows.
      const bool manager_can_finish = !calls_held() && closed();
      stop_driving();
      if (manager_can_finish) wake_manager();
      if (target.ready()) break;
    }
    // Every round: on a busy machine one sched_yield may last a whole time slice.
    if (clock::now() >= give_up) break;
    sched_yield();
  }
  // seq_cst, with the manager's store to blind_ then load of helpers_ (Dekker): either the
  // manager sees this helper gone, or this thread sees it blind — and then wakes it if calls
  // are in flight that nobody watches any more.
  helpers_.fetch_sub(1);
  if (blind_.load()) {
    bool unwatched = true;
    if (try_drive()) {
      unwatched = calls_held();
      stop_driving();
    }
    if (unwatched) wake_manager();
  }
  return target.ready();
}

}  // namespace cfutures::detail
