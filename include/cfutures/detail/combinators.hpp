// Internal: the states of when_all and when_any. One object per call holds the inputs, one
// callback node per input (registered on that input's state, holding a reference to this
// one), and a count or a claim; nothing blocks, and n inputs cost O(n).
//
//   when_all: each input done ─▶ left_ - 1 ─▶ the last one moves the inputs into the value
//   when_any: the first input done claims the index (claimed_); the value is published by
//             whichever comes last of that claim and the end of registration (gate_), since
//             registration still reads the inputs
// Included by future.hpp once future<T> is complete (never on its own: this header builds on
// future<T>, which includes it).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>
#include <tuple>
#include <utility>
#include <vector>

#include "cfutures/detail/composed_state.hpp"

namespace cfutures {

// when_any's value: the position of the input that was done first, and every input.
template <class F>
struct when_any_result {
  std::size_t index;
  std::vector<F> futures;
};

}  // namespace cfutures

namespace cfutures::detail {

struct input_tag {};

// The first non-null origin of the inputs' states (see composed_origin).
template <class Range>
const void* inputs_origin(const Range& inputs) noexcept {
  for (const auto& f : inputs) {
    if (const void* o = future_access::state(f)->origin) return o;
  }
  return nullptr;
}

// when_all over the futures `Inputs` (a tuple or a vector of futures), which is its value.
template <class Inputs>
class when_all_state final : public shared_state<Inputs> {
 public:
  using value_type = Inputs;

  explicit when_all_state(Inputs inputs, std::size_t n)
      : shared_state<Inputs>(1), inputs_(std::move(inputs)), left_(n + 1), links_(n) {}

  // Registers one node per input state; the value is published once all are done.
  template <class States>
  void start(const States& states) noexcept {
    for (std::size_t i = 0; i < links_.size(); ++i) links_[i].attach(this, *states[i], i);
    on_done(input_tag{}, *this, 0);  // registration is over (left_ counted it)
  }

  void on_done(input_tag, state_base&, std::size_t) noexcept {
    // acq_rel: the last one sees every input's completion and the end of registration.
    if (left_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    try {
      this->try_set_result(std::move(inputs_));
    } catch (...) {
      this->try_set_exception(std::current_exception());
    }
  }

 private:
  Inputs inputs_;
  std::atomic<std::size_t> left_;
  std::vector<owner_link<when_all_state, input_tag>> links_;
};

template <class T>
class when_any_state final : public shared_state<when_any_result<future<T>>> {
  using value = when_any_result<future<T>>;

 public:
  using value_type = value;

  explicit when_any_state(std::vector<future<T>> inputs)
      : shared_state<value>(1), inputs_(std::move(inputs)), links_(inputs_.size()) {}

  // Returns at once if an input is done already (the lowest such index wins), else
  // registers one node per input.
  void start() noexcept {
    for (std::size_t i = 0; i < inputs_.size(); ++i) {
      if (future_access::state(inputs_[i])->done()) {
        claim(i);
        gate_.store(1, std::memory_order_relaxed);  // no registration: the claim is last
        return pass_gate();
      }
    }
    for (std::size_t i = 0; i < inputs_.size(); ++i) {
      links_[i].attach(this, *future_access::state(inputs_[i]), i);
    }
    pass_gate();
  }

  void on_done(input_tag, state_base&, std::size_t index) noexcept {
    if (claim(index)) pass_gate();
  }

 private:
  bool claim(std::size_t index) noexcept {
    if (claimed_.exchange(true, std::memory_order_relaxed)) return false;
    index_ = index;
    return true;
  }
  void pass_gate() noexcept {
    // acq_rel: the last one sees index_ and the end of registration.
    if (gate_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    try {
      this->try_set_result(value{index_, std::move(inputs_)});
    } catch (...) {
      this->try_set_exception(std::current_exception());
    }
  }

  std::vector<future<T>> inputs_;
  std::vector<owner_link<when_any_state, input_tag>> links_;
  std::atomic<bool> claimed_{false};
  std::atomic<int> gate_{2};  // the claim and the end of registration
  std::size_t index_ = 0;
};

template <class State, class... A>
auto make_combined(const void* origin, A&&... a) {
  auto* s = new State(std::forward<A>(a)...);
  s->origin = composed_origin(origin);
  using V = typename State::value_type;
  return std::pair{future_access::make<V>(ref_ptr<shared_state<V>>::adopt(s)), s};
}

}  // namespace cfutures::detail
