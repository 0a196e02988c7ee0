#include "cfutures/detail/multi_waiter.hpp"

#include "cfutures/detail/futex.hpp"

namespace cfutures::detail {

multi_waiter::multi_waiter(std::size_t capacity) : nodes_(capacity) {
  watched_.reserve(capacity);
  ready_.reserve(capacity);
}

multi_waiter::~multi_waiter() { detach(); }

class multi_waiter::count_reached final : public help_target {
 public:
  explicit count_reached(multi_waiter& waiter) noexcept : waiter_(waiter) {}
  bool ready() const noexcept override {
    return waiter_.reached(waiter_.ready_count(), waiter_.exception_seen());
  }
  bool subscribe(waiter_sink& sink, waiter_node&) noexcept override {
    std::lock_guard lock(waiter_.mutex_);
    if (ready()) return false;
    waiter_.helper_sink_ = &sink;
    return true;
  }
  void unsubscribe(waiter_node&) noexcept override {
    std::lock_guard lock(waiter_.mutex_);
    waiter_.helper_sink_ = nullptr;
  }

 private:
  multi_waiter& waiter_;
};

void multi_waiter::watch(state_base& state, std::uint32_t index) {
  if (!help_origin_ && thread_helps_with(state.origin)) help_origin_ = state.origin;
  if (!any_origin_) any_origin_ = state.origin;
  waiter_node& node = nodes_[index];
  node.owner = this;
  node.index = index;
  if (state.add_waiter(node)) {
    watched_.emplace_back(&state, index);
  } else {
    notify(index, state.finished_with_exception());
  }
}

void multi_waiter::detach() noexcept {
  for (const auto& [state, index] : watched_) {
    if (nodes_[index].owner) state->remove_waiter(nodes_[index]);
  }
  watched_.clear();
}

void multi_waiter::notify(std::uint32_t index, bool with_exception) noexcept {
  // Everything happens under mutex_: once take_ready() has seen this index, this call no
  // longer touches the waiter, which may then be destroyed (see retire()).
  std::lock_guard lock(mutex_);
  ready_.push_back(index);
  if (with_exception) exception_seen_.store(true, std::memory_order_release);
  // seq_cst with the consumer's store to sleeping_ then load of ready_total_ (Dekker):
  // either the consumer sees the new count, or this thread sees it sleeping.
  const std::size_t total = ready_total_.fetch_add(1, std::memory_order_seq_cst) + 1;
  ticks_.fetch_add(1, std::memory_order_release);
  // The consumer stores what it waits for before sleeping_ (seq_cst), so it is read here.
  if (!reached(total, with_exception)) return;
  if (sleeping_.load(std::memory_order_seq_cst)) futex_wake_all(ticks_);
  if (helper_sink_) helper_sink_->notify(index, with_exception);
}

bool multi_waiter::reached(std::size_t ready_total, bool exception) const noexcept {
  return ready_total >= wake_count_.load(std::memory_order_seq_cst) ||
         (exception && wake_on_exception_.load(std::memory_order_seq_cst));
}

void multi_waiter::retire(std::uint32_t index) noexcept { nodes_[index].owner = nullptr; }

void multi_waiter::take_ready(std::vector<std::uint32_t, bulk_allocator<std::uint32_t>>& out) {
  std::lock_guard lock(mutex_);
  out.insert(out.end(), ready_.begin(), ready_.end());
  ready_.clear();
}

bool multi_waiter::wait_for_count(std::size_t count, bool or_exception,
                                  const deadline& until) noexcept {
  wake_count_.store(count, std::memory_order_seq_cst);
  wake_on_exception_.store(or_exception, std::memory_order_seq_cst);
  const auto done = [&] { return reached(ready_count(), exception_seen()); };
  count_reached target(*this);
  const wait_step step = wait_before_sleeping(target, help_origin_, any_origin_, until);
  if (step != wait_step::sleep) return step == wait_step::ready;
  for (;;) {
    const std::uint32_t t = ticks_.load(std::memory_order_acquire);
    if (done()) return true;
    if (until.passed()) return false;
    sleeping_.store(true, std::memory_order_seq_cst);
    if (done()) {
      sleeping_.store(false, std::memory_order_relaxed);
      return true;
    }
    const bool in_time = futex_wait(ticks_, t, until.time_point());
    sleeping_.store(false, std::memory_order_relaxed);
    if (!in_time) return done();
  }
}

}  // namespace cfutures::detail
