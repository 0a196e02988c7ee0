// Internal: the building blocks of every composition (then, when_all, when_any, dataflow):
// a state that the library completes from the outcome of other futures, through callback
// nodes that live inside it, so that a continuation costs one allocation.
//
//   source future ──done──▶ owner_link::invoke ──▶ owner.on_done(tag, source, index)
//                                                   │
//   relay_state<R>::relay_from(inner future) ───────┘ takes inner's value (moved out),
//                                                     exception or cancellation
// Every registered owner_link holds one reference to its owner, released once it has run
// (or was discarded by a source that died without completing). Links are deferrable nodes
// (trampoline.hpp): a long chain completing at once does not nest one frame per link.
// Included by future.hpp once future<T> is complete (never on its own: this header builds on
// future<T>, which includes it).
#pragma once

#include <atomic>
#include <cstddef>
#include <exception>
#include <type_traits>
#include <utility>

#include "cfutures/detail/ref_ptr.hpp"
#include "cfutures/detail/shared_state.hpp"
#include "cfutures/detail/trampoline.hpp"
#include "cfutures/errors.hpp"

namespace cfutures::detail {

template <class X>
struct unwrap_future {
  using type = X;
  static constexpr bool is_future = false;
};
template <class V>
struct unwrap_future<future<V>> {
  using type = V;
  static constexpr bool is_future = true;
};
// future<V> -> V; anything else unchanged (one level: what then and dataflow unwrap).
template <class X>
using unwrapped_t = typename unwrap_future<X>::type;
template <class X>
inline constexpr bool is_future_v = unwrap_future<X>::is_future;

// The origin of a composed state (which pool a waiting worker helps; shared_state.hpp): the
// pool of the creating thread if it is one of its workers, else that of the inputs.
inline const void* composed_origin(const void* inputs_origin) noexcept {
  const void* own = thread_wait_origin();
  return own ? own : inputs_origin;
}

// A callback node inside Owner: once the state it watches is done, calls
// owner->on_done(Tag{}, state, index). attach() takes one of the owner's references for it;
// watch() takes none (for a node watching its own owner, which would otherwise never die).
template <class Owner, class Tag>
class owner_link final : public deferrable_node {
 public:
  void attach(Owner* owner, state_base& source, std::size_t index = 0) noexcept {
    owner_ = owner;
    index_ = index;
    counted_ = true;
    owner->add_ref();
    add_to(source);
  }
  void watch(Owner* owner) noexcept {
    owner_ = owner;
    add_to(*owner);
  }
  void discard() noexcept override {
    if (counted_) owner_->release();
  }

 private:
  void run(state_base& source) noexcept override {
    Owner* owner = owner_;
    const bool counted = counted_;
    owner->on_done(Tag{}, source, index_);
    if (counted) owner->release();  // may destroy this node with its owner
  }

  Owner* owner_ = nullptr;
  std::size_t index_ = 0;
  bool counted_ = false;
};

struct relay_tag {};
struct nested_relay_tag {};

// A state that can take the outcome of another future: relay_from(inner) completes it with
// inner's value (moved out of inner's state), exception or cancellation; given a
// future<future<R>>, with the outcome of the future that one holds.
template <class R>
class relay_state : public shared_state<R> {
 public:
  using value_type = R;

  template <class X>
  void relay_from(const future<X>& inner) noexcept {
    static_assert(std::is_same_v<X, R> || std::is_same_v<X, future<R>>);
    state_base* s = future_access::state(inner);
    if (!s) {
      this->try_set_exception(std::make_exception_ptr(
          invalid_state_error("cfutures: the continuation returned a future without state")));
    } else if constexpr (std::is_same_v<X, R>) {
      relay_.attach(this, *s);
    } else {
      nested_.attach(this, *s);
    }
  }

  // Takes src's failure (exception or cancellation), if it has one; true if it had.
  bool pass_failure(const state_base& src) noexcept {
    if (src.get_status() == status::cancelled) {
      this->cancel_open();
      return true;
    }
    if (src.finished_with_exception()) {
      this->try_set_exception(src.exception_of_done());
      return true;
    }
    return false;
  }

  void on_done(relay_tag, state_base& src, std::size_t) noexcept {
    if (pass_failure(src)) return;
    if constexpr (std::is_void_v<R>) {
      this->try_set_result();
    } else {
      try {
        this->try_set_result(std::move(static_cast<shared_state<R>&>(src).value()));
      } catch (...) {
        this->try_set_exception(std::current_exception());
      }
    }
  }
  void on_done(nested_relay_tag, state_base& src, std::size_t) noexcept {
    if (!pass_failure(src)) relay_from(static_cast<shared_state<future<R>>&>(src).value());
  }

 protected:
  relay_state() noexcept : shared_state<R>(1) {}

  // A function run by the library threw: this state fails with the exception.
  void fail_with_current() noexcept { this->try_set_exception(std::current_exception()); }

 private:
  owner_link<relay_state, relay_tag> relay_;
  owner_link<relay_state, nested_relay_tag> nested_;
};

struct cancel_tag {};

// A relay_state whose outcome comes from a call submitted to an executor (then(ex, fn),
// dataflow). It stays PENDING until that call's outcome arrives; cancelling it cancels the
// call if it has not started.
template <class R>
class submitted_state : public relay_state<R> {
 public:
  using relay_state<R>::on_done;

  template <class X>
  void relay_submitted(const future<X>& call) noexcept {
    call_ = ref_ptr<state_base>::share(future_access::state(call));
    // Dekker with on_done(cancel_tag): either the canceller sees call_, or this thread sees
    // the cancellation (fences: the other side's store is a CAS on the state's word).
    call_known_.store(true, std::memory_order_release);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (call_ && this->get_status() == status::cancelled) call_->cancel();
    this->relay_from(call);
  }

  void on_done(cancel_tag, state_base&, std::size_t) noexcept {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    // acquire: pairs with the release store in relay_submitted (call_ is written).
    if (this->get_status() == status::cancelled && call_known_.load(std::memory_order_acquire) &&
        call_) {
      call_->cancel();
    }
  }

 protected:
  submitted_state() noexcept { cancel_link_.watch(this); }

 private:
  owner_link<submitted_state, cancel_tag> cancel_link_;
  ref_ptr<state_base> call_;
  std::atomic<bool> call_known_{false};
};

}  // namespace cfutures::detail
