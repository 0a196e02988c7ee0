// Internal: one waiter for many futures — the engine of wait() and as_completed().
//
// Data flow: the waiter links one waiter_node per distinct unfinished future into that
// future's state (O(n) in all). A state that completes calls notify(index) while holding
// its LOCK; notify appends the index to `ready_` (capacity reserved up front, so it never
// allocates there) and wakes the consumer through the futex word `ticks_` — only once what
// the consumer waits for has happened (wait_for_count: a count reached, or an exception), so
// that wait(ALL_COMPLETED) over n futures sleeps once instead of waking n times. The consumer
// takes indices with take_ready(), and may retire() them. detach() unlinks every node still linked,
// under each state's LOCK, so no notification can arrive once it returns.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "cfutures/detail/bulk_allocator.hpp"
#include "cfutures/detail/deadline.hpp"
#include "cfutures/detail/shared_state.hpp"

namespace cfutures::detail {

class multi_waiter final : public waiter_sink {
 public:
  explicit multi_waiter(std::size_t capacity);
  ~multi_waiter();
  multi_waiter(const multi_waiter&) = delete;
  multi_waiter& operator=(const multi_waiter&) = delete;

  // Links node `index` to `state`; if the state is already done, records it as ready now.
  void watch(state_base& state, std::uint32_t index);
  // Unlinks every node still linked (retired ones are skipped). Idempotent.
  void detach() noexcept;
  // The consumer has taken `index` from take_ready() and may now release that future: its
  // node was unlinked before notify(), so detach() must not touch the state again.
  void retire(std::uint32_t index) noexcept;

  // Called by a completing state under its LOCK.
  void notify(std::uint32_t index, bool with_exception) noexcept override;

  // Moves the indices that became ready since the last call into `out` (appending).
  void take_ready(std::vector<std::uint32_t, bulk_allocator<std::uint32_t>>& out);
  // seq_cst: wait_for_count reads it after its seq_cst store to sleeping_ (Dekker with notify).
  std::size_t ready_count() const noexcept { return ready_total_.load(std::memory_order_seq_cst); }
  bool exception_seen() const noexcept { return exception_seen_.load(std::memory_order_acquire); }

  // Blocks until ready_count() >= count, or (with or_exception) a future finished with an
  // exception, or the deadline passes; false on timeout. Spins for waiter_spin_window before
  // it sleeps, as result() does. On a thread-pool worker watching
  // futures of its own pool, runs that pool's queued work meanwhile (wait_helper); watching
  // futures of a process pool, receives that pool's replies itself for a while first
  // (shared_wait_helper).
  bool wait_for_count(std::size_t count, bool or_exception, const deadline& until) noexcept;

 private:
  std::vector<waiter_node, bulk_allocator<waiter_node>> nodes_;
  // nodes that may be linked
  std::vector<std::pair<state_base*, std::uint32_t>,
              bulk_allocator<std::pair<state_base*, std::uint32_t>>>
      watched_;
  std::mutex mutex_;  // guards ready_
  std::vector<std::uint32_t, bulk_allocator<std::uint32_t>> ready_;
  std::atomic<std::size_t> ready_total_{0};
  std::atomic<bool> exception_seen_{false};
  std::atomic<std::uint32_t> ticks_{0};  // futex word: bumped on every notify
  std::atomic<bool> sleeping_{false};
  // What the consumer waits for (set before it sleeps or subscribes a helper).
  std::atomic<std::size_t> wake_count_{1};
  std::atomic<bool> wake_on_exception_{false};
  const void* help_origin_ = nullptr;   // a watched future's executor this thread helps
  const void* any_origin_ = nullptr;    // a watched future's executor, maybe a shared helper
  waiter_sink* helper_sink_ = nullptr;  // a waiting helper to notify; guarded by mutex_

  bool reached(std::size_t ready_total, bool exception) const noexcept;

  class count_reached;  // wait_for_count's condition as a help_target
};

}  // namespace cfutures::detail
