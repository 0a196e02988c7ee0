// cfutures/wait.hpp — wait() and as_completed() over many futures.
//
// What: Python's concurrent.futures.wait and as_completed.
//   auto [done, not_done] = wait(futures [, timeout] [, return_when]);
//   for (auto f : as_completed(futures [, timeout])) { ... }
// `futures` is any range of future<T> or any_future, a braced list of any_future, or a
// map/unordered_map keyed by futures (Python's `future_to_url` dict: its keys are used).
// Duplicates are ignored: each distinct future appears once. wait_result and as_completed
// hold the input's element type: future<T> in, future<T> out.
// wait: returns when the condition holds or the timeout elapses, never throwing on timeout.
//   first_completed — any future done; first_exception — any future finished by raising, else
//   as all_completed; all_completed — every future done. Cancelled futures count as done.
//   Every distinct future is in exactly one of done / not_done (input order kept).
// as_completed: an input range yielding each distinct future once, those already done first,
//   then the others as they finish. The timeout is measured from the as_completed() call;
//   advancing past it with futures unfinished throws timeout_error("2 (of 5) futures
//   unfinished"). A yielded future is released when the iterator advances. size(): the
//   number of distinct futures (a std::ranges::sized_range; progress() reads it).
// Cost: O(n) for n futures, never polling (how it waits: docs/performance-notes.md).
//
// Thread safety: the functions may be called concurrently from any threads; one
//   as_completed range is consumed by one thread.
// Blocking: wait blocks; as_completed blocks in begin() and ++ (not in the call itself).
// Throws: std::invalid_argument for a default-constructed future in the input;
//   as_completed's begin() and ++: timeout_error past the timeout; wait never throws on
//   timeout.
// Python counterpart: concurrent.futures.wait, concurrent.futures.as_completed and the
//   FIRST_COMPLETED / FIRST_EXCEPTION / ALL_COMPLETED constants (return_when).
// Deviations: a cancelled future is seen as done at once (CPython's wait may miss one until
//   a worker notices it); a zero or negative timeout is a non-blocking poll.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <ranges>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "cfutures/any_future.hpp"
#include "cfutures/detail/bulk_allocator.hpp"
#include "cfutures/detail/deadline.hpp"
#include "cfutures/detail/multi_waiter.hpp"
#include "cfutures/detail/state_set.hpp"
#include "cfutures/errors.hpp"
#include "cfutures/future.hpp"

namespace cfutures {

// When wait() returns. first_completed: any future done. first_exception: any finished by
// raising, else as all_completed. all_completed: every future done (the default).
enum class return_when { first_completed, first_exception, all_completed };

// What wait() returns: every distinct input future in exactly one of the two, input order.
template <class Future>
struct wait_result {
  std::vector<Future> done;      // done (finished or cancelled) when wait returned
  std::vector<Future> not_done;  // the others
};

namespace detail {

template <class X>
inline constexpr bool is_handle_v = false;
template <class T>
inline constexpr bool is_handle_v<future<T>> = true;
template <>
inline constexpr bool is_handle_v<any_future> = true;

template <class E>
struct handle_of {};
template <class E>
requires is_handle_v<std::remove_cv_t<E>>
struct handle_of<E> {
  using type = std::remove_cv_t<E>;
  static const type& get(const E& e) noexcept { return e; }
};
template <class K, class V>
requires is_handle_v<std::remove_cv_t<K>>
struct handle_of<std::pair<K, V>> {
  using type = std::remove_cv_t<K>;
  static const type& get(const std::pair<K, V>& e) noexcept { return e.first; }
};

template <class R>
using range_handle_t = typename handle_of<std::ranges::range_value_t<const R>>::type;

template <class R>
concept future_range = std::ranges::input_range<const R> && requires {
  typename range_handle_t<R>;
};

// The handles wait() and as_completed() hold: one array of them (its pages populated at once).
template <class H>
using handle_vector = std::vector<H, bulk_allocator<H>>;

// The distinct handles of `fs`, in input order.
template <class R>
handle_vector<range_handle_t<R>> distinct(const R& fs) {
  using access = handle_of<std::ranges::range_value_t<const R>>;
  handle_vector<range_handle_t<R>> out;
  const auto state_of = [](const auto& element) {
    const state_base* s = future_access::state(access::get(element));
    if (!s) throw std::invalid_argument("wait/as_completed: a future has no state");
    return s;
  };
  if constexpr (std::ranges::forward_range<const R>) {  // two passes: bitmaps, no table
    std::size_t n = 0;
    for (const auto& element : fs) {
      (void)state_of(element);
      ++n;
    }
    out.reserve(n);
    duplicate_finder seen(n);
    for (const auto& element : fs) seen.note(future_access::state(access::get(element)));
    for (const auto& element : fs) {
      const auto& handle = access::get(element);
      if (seen.first_time(future_access::state(handle))) out.push_back(handle);
    }
  } else {
    state_set seen(0);
    for (const auto& element : fs) {
      if (seen.insert(state_of(element))) out.push_back(access::get(element));
    }
  }
  return out;
}

// The non-template part of wait(): blocks until the states satisfy `when` or `until`.
void wait_states(const std::vector<state_base*>& states, const deadline& until, return_when when);

std::string unfinished_message(std::size_t unfinished, std::size_t total);

template <class H>
wait_result<H> wait_impl(handle_vector<H> items, const deadline& until, return_when when) {
  std::vector<state_base*> states;
  states.reserve(items.size());
  for (const H& h : items) states.push_back(future_access::state(h));
  wait_states(states, until, when);
  wait_result<H> result;
  for (H& h : items) (h.done() ? result.done : result.not_done).push_back(std::move(h));
  return result;
}

}  // namespace detail

// Blocks until `when` holds for the futures of `fs`.
template <class Range>
requires detail::future_range<Range> wait_result<detail::range_handle_t<Range>> wait(
    const Range& fs, return_when when = return_when::all_completed) {
  return detail::wait_impl(detail::distinct(fs), detail::deadline::never(), when);
}

// The same, returning what is done so far once `timeout` elapses.
template <class Range, class Rep, class Period>
requires detail::future_range<Range> wait_result<detail::range_handle_t<Range>> wait(
    const Range& fs, std::chrono::duration<Rep, Period> timeout,
    return_when when = return_when::all_completed) {
  return detail::wait_impl(detail::distinct(fs), detail::deadline::after(timeout), when);
}

// wait({f1, f2}) over futures of different types.
inline wait_result<any_future> wait(std::initializer_list<any_future> fs,
                                    return_when when = return_when::all_completed) {
  return wait<std::initializer_list<any_future>>(fs, when);
}

// wait({f1, f2}, timeout) over futures of different types.
template <class Rep, class Period>
wait_result<any_future> wait(std::initializer_list<any_future> fs,
                             std::chrono::duration<Rep, Period> timeout,
                             return_when when = return_when::all_completed) {
  return wait<std::initializer_list<any_future>>(fs, timeout, when);
}

// The range returned by as_completed(): movable, not copyable; an input range.
template <class H>
class as_completed_range {
 public:
  // An input iterator over the futures as they finish.
  class iterator {
   public:
    using value_type = H;
    using difference_type = std::ptrdiff_t;
    using reference = const H&;
    using iterator_concept = std::input_iterator_tag;

    iterator() = default;
    // The future just yielded (done).
    const H& operator*() const { return range_->current_; }
    const H* operator->() const { return &range_->current_; }
    // Releases the current future and blocks for the next one (timeout_error past the
    // deadline).
    iterator& operator++() {
      range_->advance();
      return *this;
    }
    void operator++(int) { ++*this; }
    // True once every distinct future has been yielded.
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
      return it.at_end();
    }

   private:
    friend class as_completed_range;
    bool at_end() const noexcept { return range_->finished_; }
    explicit iterator(as_completed_range* range) : range_(range) {}
    as_completed_range* range_ = nullptr;
  };

  // Made by as_completed(): the distinct futures and the deadline.
  as_completed_range(detail::handle_vector<H> items, detail::deadline until)
      : items_(std::move(items)), until_(until) {
    // Those done now are yielded first, in input order; the others as they finish (one
    // that finishes between the two passes is recorded as ready by watch()).
    ready_.reserve(items_.size());
    for (std::uint32_t i = 0; i < items_.size(); ++i) {
      if (items_[i].done()) ready_.push_back(i);
    }
    if (ready_.size() < items_.size()) {
      const std::size_t done_now = ready_.size();
      waiter_ = std::make_unique<detail::multi_waiter>(items_.size());
      for (std::uint32_t i = 0, next_done = 0; i < items_.size(); ++i) {
        if (next_done < done_now && ready_[next_done] == i) {
          ++next_done;
        } else {
          waiter_->watch(*detail::future_access::state(items_[i]), i);
        }
      }
    }
  }

  // Blocks until the first future is done (timeout_error past the deadline).
  iterator begin() {
    if (!started_) {
      started_ = true;
      advance();
    }
    return iterator(this);
  }
  // The end of the range.
  std::default_sentinel_t end() const noexcept { return {}; }
  // The number of distinct futures (all it yields, from the first to the last).
  std::size_t size() const noexcept { return items_.size(); }

 private:
  void advance() {
    current_ = H();
    if (yielded_ == items_.size()) {
      finished_ = true;
      return;
    }
    while (next_ready_ == ready_.size()) {
      // Counts what was taken, not ready_count(): a future that finishes between the two
      // would be counted without being taken, and the wait below would miss it.
      const std::size_t before = ready_.size();
      waiter_->take_ready(ready_);
      taken_from_waiter_ += ready_.size() - before;
      if (next_ready_ < ready_.size()) break;
      if (!waiter_->wait_for_count(taken_from_waiter_ + 1, false, until_)) {
        throw timeout_error(detail::unfinished_message(items_.size() - yielded_, items_.size()));
      }
    }
    const std::uint32_t index = ready_[next_ready_++];
    if (waiter_) waiter_->retire(index);
    current_ = std::move(items_[index]);
    ++yielded_;
  }

  detail::handle_vector<H> items_;
  detail::deadline until_;
  std::vector<std::uint32_t, detail::bulk_allocator<std::uint32_t>> ready_;  // yield order
  std::size_t next_ready_ = 0;
  std::size_t taken_from_waiter_ = 0;
  std::size_t yielded_ = 0;
  std::unique_ptr<detail::multi_waiter> waiter_;
  H current_;
  bool started_ = false;
  bool finished_ = false;
};

// The futures of `fs` as they finish, those already done first.
template <class Range>
requires detail::future_range<Range> as_completed_range<detail::range_handle_t<Range>> as_completed(
    const Range& fs) {
  return {detail::distinct(fs), detail::deadline::never()};
}

// The same; advancing past `timeout` (from now) with futures unfinished: timeout_error.
template <class Range, class Rep, class Period>
requires detail::future_range<Range> as_completed_range<detail::range_handle_t<Range>> as_completed(
    const Range& fs, std::chrono::duration<Rep, Period> timeout) {
  return {detail::distinct(fs), detail::deadline::after(timeout)};
}

// as_completed({f1, f2}) over futures of different types.
inline as_completed_range<any_future> as_completed(std::initializer_list<any_future> fs) {
  return as_completed<std::initializer_list<any_future>>(fs);
}

// as_completed({f1, f2}, timeout) over futures of different types.
template <class Rep, class Period>
as_completed_range<any_future> as_completed(std::initializer_list<any_future> fs,
                                            std::chrono::duration<Rep, Period> timeout) {
  return as_completed<std::initializer_list<any_future>>(fs, timeout);
}

}  // namespace cfutures
