// Internal: detail::completion_order<F>, the futures of map(..., {.ordered = false}) handed
// out as they finish — the engine of an unordered map_range (detail/map_range.hpp), for
// single calls (future<R>) and chunks alike, on every executor.
//
// Data flow: map() submits its first calls and gives them here with, when buffered, a way
// to submit one more.
//   - Everything submitted at once (no `more`): an as_completed_range over them: O(n) in
//     all, one waiter per future, no polling.
//   - Buffered (`more`): a window of at most `buffersize` futures. next() hands out the
//     first finished one of the window (waiting with wait(first_completed) while none is),
//     then submits one more to keep the window full: O(window) per result.
// The futures handed out are done; cancel_rest() cancels those not yet handed out.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "cfutures/detail/deadline.hpp"
#include "cfutures/errors.hpp"
#include "cfutures/wait.hpp"

namespace cfutures::detail {

template <class F>
class completion_order {
 public:
  // Submits one more call (or chunk), or returns nullopt once the inputs are exhausted.
  using submit_more = std::function<std::optional<F>()>;

  completion_order(std::deque<F> started, submit_more more, deadline until)
      : more_(std::move(more)), until_(until) {
    if (more_) {
      window_.assign(std::make_move_iterator(started.begin()),
                     std::make_move_iterator(started.end()));
    } else {
      all_.assign(started.begin(), started.end());
      left_ = all_.size();
      finished_.emplace(handle_vector<F>(std::make_move_iterator(started.begin()),
                                         std::make_move_iterator(started.end())),
                        until_);
    }
  }

  // True once every future has been handed out (or after cancel_rest()).
  bool empty() const noexcept { return finished_ ? left_ == 0 : window_.empty(); }

  // The next finished future; blocks while none is; timeout_error past the deadline.
  // Precondition: !empty().
  F next() { return finished_ ? next_finished() : next_in_window(); }

  // Cancels every future not yet handed out and submits no more. Never throws.
  void cancel_rest() noexcept {
    more_ = nullptr;
    for (F& f : window_) f.cancel();
    window_.clear();
    for (F& f : all_) f.cancel();  // those handed out are done: cancel() leaves them alone
    all_.clear();
    left_ = 0;
  }

 private:
  F next_finished() {
    if (!started_) {
      started_ = true;
      at_ = finished_->begin();
    } else {
      ++at_;
    }
    --left_;
    return *at_;
  }

  F next_in_window() {
    auto done = first_done();
    if (done == window_.end()) {
      std::vector<state_base*> states;
      states.reserve(window_.size());
      for (const F& f : window_) states.push_back(future_access::state(f));
      wait_states(states, until_, return_when::first_completed);
      done = first_done();
      if (done == window_.end()) {
        throw timeout_error(unfinished_message(window_.size(), window_.size()));
      }
    }
    F out = std::move(*done);
    window_.erase(done);
    if (more_) {
      if (auto f = more_()) {
        window_.push_back(std::move(*f));
      } else {
        more_ = nullptr;
      }
    }
    return out;
  }

  typename std::vector<F>::iterator first_done() {
    for (auto it = window_.begin(); it != window_.end(); ++it) {
      if (it->done()) return it;
    }
    return window_.end();
  }

  submit_more more_;
  deadline until_;
  std::vector<F> window_;                             // buffered: the futures submitted
  std::vector<F> all_;                                // at once: every future, to cancel
  std::optional<as_completed_range<F>> finished_;     // at once: them, as they finish
  typename as_completed_range<F>::iterator at_;
  std::size_t left_ = 0;
  bool started_ = false;
};

}  // namespace cfutures::detail
