// Internal: keeps chains of continuations from growing the stack without bound.
//
// A continuation that completes its own future runs the next continuation's callback from
// inside its own (publish_locked runs callbacks in the completing thread), so a chain of n
// continuations completed at once would nest n frames: 10^5 of them overflow a thread's
// stack. Past max_depth nested callbacks in one thread, a deferrable_node is queued instead
// (it keeps its source alive meanwhile), and the outermost one runs the queue when it
// returns: same thread, bounded depth. A node invoked by add_callback itself (the source
// was done already) always runs at once, so "at once if done" still holds.
#pragma once

#include <cstddef>

#include "cfutures/detail/shared_state.hpp"

namespace cfutures::detail {

class deferrable_node : public callback_node {
 public:
  static constexpr int max_depth = 64;

  void invoke(state_base& source) noexcept final {
    if (depth_ >= max_depth && attaching_ != this) {
      source.add_ref();  // released once run
      source_ = &source;
      next = nullptr;
      if (tail_) {
        tail_->next = this;
      } else {
        head_ = this;
      }
      tail_ = this;
      return;
    }
    ++depth_;
    run(source);
    if (depth_ == 1) drain();
    --depth_;
  }

 protected:
  ~deferrable_node() = default;
  virtual void run(state_base& source) noexcept = 0;

  // Adds this node to source's callbacks, running it here and now if source is done.
  void add_to(state_base& source) noexcept {
    deferrable_node* const outer = attaching_;
    attaching_ = this;
    source.add_callback(this);
    attaching_ = outer;
  }

 private:
  static void drain() noexcept {
    while (head_) {
      deferrable_node* node = head_;
      head_ = static_cast<deferrable_node*>(node->next);
      if (!head_) tail_ = nullptr;
      state_base* source = node->source_;
      node->run(*source);  // may dispose of node
      source->release();
    }
  }

  state_base* source_ = nullptr;
  static inline thread_local int depth_ = 0;
  static inline thread_local deferrable_node* head_ = nullptr;
  static inline thread_local deferrable_node* tail_ = nullptr;
  static inline thread_local deferrable_node* attaching_ = nullptr;
};

}  // namespace cfutures::detail
