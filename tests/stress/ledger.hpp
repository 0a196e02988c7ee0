// The futures a stress test submitted, shared by the threads that drive an executor: what
// each one ran, what it should return, and how many done-callbacks were added to it and ran.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <vector>

#include <cfutures/future.hpp>

namespace stress {

// What a tracked future ran.
enum class task_kind { doubled, sleeps, throws, stoppable, nested, dies_now, arms_death };

struct tracked {
  cfutures::future<int> future;
  task_kind what = task_kind::doubled;
  int expected = 0;
  std::atomic<int> callbacks_added{0};
  std::atomic<int> callbacks{0};  // runs of those callbacks
  std::atomic<bool> callback_saw_not_done{false};
  std::atomic<bool> cancel_succeeded{false};  // some cancel() on it returned true
};

// Adds to `t` a done-callback that counts its runs.
inline void add_counting_callback(tracked& t) {
  ++t.callbacks_added;  // first: the callback runs at once if the future is done
  t.future.add_done_callback([&t](const cfutures::future<int>& f) {
    if (!f.done()) t.callback_saw_not_done = true;
    ++t.callbacks;
  });
}

class ledger {
 public:
  // Records `future`, with one counting done-callback.
  tracked& track(cfutures::future<int> future, task_kind what, int expected) {
    auto t = std::make_unique<tracked>();
    t->future = std::move(future);
    t->what = what;
    t->expected = expected;
    tracked& entry = *t;
    {
      std::lock_guard lock(mutex_);
      entries_.push_back(std::move(t));
    }
    add_counting_callback(entry);
    return entry;
  }
  // One recorded future picked at random, or null if there is none yet.
  tracked* pick(std::mt19937& rng) {
    std::lock_guard lock(mutex_);
    if (entries_.empty()) return nullptr;
    return entries_[std::uniform_int_distribution<std::size_t>(0, entries_.size() - 1)(rng)].get();
  }
  // Up to `n` futures picked at random (none if nothing was recorded yet).
  std::vector<cfutures::future<int>> sample(std::mt19937& rng, std::size_t n) {
    std::vector<cfutures::future<int>> out;
    for (std::size_t i = 0; i < n; ++i) {
      if (tracked* t = pick(rng)) out.push_back(t->future);
    }
    return out;
  }
  // Only once the threads that record are done.
  const std::deque<std::unique_ptr<tracked>>& all() const { return entries_; }

 private:
  std::mutex mutex_;
  std::deque<std::unique_ptr<tracked>> entries_;
};

}  // namespace stress
