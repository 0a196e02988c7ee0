// Internal: cfutures::map_range<R>, the input range every executor's map() returns
// (sized_map_range<R> when every input range is sized), and detail::chunk_values, the value
// of one chunk of map() on an executor that batches its calls. The contract of map_range is
// in <cfutures/executor.hpp>; how map() fills it is in detail/executor_map.hpp; an unordered
// map hands its futures out through detail/completion_order.hpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "cfutures/detail/completion_order.hpp"
#include "cfutures/detail/deadline.hpp"
#include "cfutures/future.hpp"

namespace cfutures {

namespace detail {

// The outcome of one chunk of map(): the values of its calls in order, up to the first one
// that threw, whose exception is `error` (null if none threw).
template <class V>
struct chunk_values {
  std::vector<V> values;
  std::exception_ptr error;
};

}  // namespace detail

// cfutures::map_range<R>: what every executor's map() returns. Its contract is in
// <cfutures/executor.hpp>; users name it only as a type (auto r = pool.map(...)).
template <class R>
class map_range {
 public:
  // What the range yields: R, or std::monostate for a void function.
  using value_type = std::conditional_t<std::is_void_v<R>, std::monostate, R>;
  // Submits the next call, or returns nullopt once the inputs are exhausted.
  using submit_next = std::function<std::optional<future<R>>()>;
  // The same, a chunk of calls at a time (executors that batch map's calls).
  using chunk_future = future<detail::chunk_values<value_type>>;
  using submit_next_chunk = std::function<std::optional<chunk_future>()>;

  // An input iterator: dereferencing or stepping blocks until that call is done.
  class iterator {
   public:
    using value_type = map_range::value_type;
    using difference_type = std::ptrdiff_t;
    using iterator_concept = std::input_iterator_tag;

    iterator() = default;
    // The value at this position; blocks for it, rethrows its call's exception.
    value_type& operator*() const { return range_->reach(); }
    // Steps past this position (blocking for it and rethrowing as operator* does).
    iterator& operator++() {
      range_->step();
      return *this;
    }
    void operator++(int) { ++*this; }
    // True once every result has been handed out (or after an exception or a timeout).
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
      return it.at_end();
    }

   private:
    friend class map_range;
    bool at_end() const noexcept { return range_->at_end(); }
    explicit iterator(map_range* range) : range_(range) {}
    map_range* range_ = nullptr;
  };

  // Made by the executors' map(): the calls submitted so far, how to submit more, the
  // timeout; `ordered` false yields the results as they complete; `total`: the number of
  // calls, when known (sized inputs).
  map_range(std::deque<future<R>> in_flight, submit_next next, detail::deadline until,
            bool ordered = true, std::optional<std::size_t> total = {})
      : total_(total), until_(until) {
    if (ordered) {
      in_flight_ = std::move(in_flight);
      next_ = std::move(next);
    } else {
      any_call_ = std::make_unique<detail::completion_order<future<R>>>(std::move(in_flight),
                                                                        std::move(next), until);
    }
  }
  map_range(std::deque<chunk_future> chunks, submit_next_chunk next, detail::deadline until,
            bool ordered = true, std::optional<std::size_t> total = {})
      : total_(total), until_(until) {
    if (ordered) {
      chunks_ = std::move(chunks);
      next_chunk_ = std::move(next);
    } else {
      any_chunk_ = std::make_unique<detail::completion_order<chunk_future>>(
          std::move(chunks), std::move(next), until);
    }
  }
  map_range(map_range&&) noexcept = default;  // movable (returned by map), not assignable
  map_range& operator=(map_range&&) = delete;
  map_range(const map_range&) = delete;
  ~map_range() { cancel_rest(); }  // cancels the calls not yet started

  // The first position (does not block: the iterator blocks when dereferenced or stepped).
  iterator begin() { return iterator(this); }
  // The end of the range.
  std::default_sentinel_t end() const noexcept { return {}; }

  // Python's list(executor.map(...)).
  std::vector<value_type> to_vector() && {
    std::vector<value_type> out;
    out.reserve(total_.value_or(in_flight_.size()));
    for (auto& v : *this) out.push_back(std::move(v));
    return out;
  }

 protected:
  // The number of calls, when every input range is sized (sized_map_range::size()).
  std::optional<std::size_t> total_;

 private:
  bool at_end() const noexcept {
    return !current_ && in_flight_.empty() && chunks_.empty() && (!any_call_ || any_call_->empty()) &&
           (!any_chunk_ || any_chunk_->empty()) && chunk_pos_ == chunk_.values.size() &&
           !chunk_.error;
  }

  value_type& reach() {
    if (!current_) fetch();
    return *current_;
  }
  void step() {
    if (!current_) fetch();
    current_.reset();
  }

  // Python's result_iterator: submit one more (buffered), then wait for the head.
  void fetch() {
    if (any_call_ && !any_call_->empty()) {
      fetch_any_call();
    } else if (!in_flight_.empty()) {
      fetch_call();
    } else {
      fetch_from_chunks();
    }
  }

  // Unordered: the value of the next call to finish.
  void fetch_any_call() {
    try {
      future<R> done = any_call_->next();
      if constexpr (std::is_void_v<R>) {
        done.result();
        current_.emplace();
      } else {
        current_.emplace(std::move(done).result());
      }
    } catch (...) {
      cancel_rest();
      throw;
    }
  }

  void fetch_call() {
    try {
      if (next_) {
        if (auto f = next_()) {
          in_flight_.push_back(std::move(*f));
        } else {
          next_ = nullptr;
        }
      }
      future<R> head = std::move(in_flight_.front());
      in_flight_.pop_front();
      try {
        current_.emplace(take(head));
      } catch (...) {
        head.cancel();
        throw;
      }
    } catch (...) {
      cancel_rest();
      throw;
    }
  }

  // The next value of the current chunk; past its end, the chunk's exception or the next
  // chunk. When buffered, handing out the last value of a chunk submits one more chunk (the
  // calls running ahead of the consumer stay within buffersize).
  void fetch_from_chunks() {
    try {
      while (chunk_pos_ == chunk_.values.size()) {
        if (chunk_.error) std::rethrow_exception(std::exchange(chunk_.error, nullptr));
        if (any_chunk_) {  // unordered: the next chunk to finish (it submits the next one)
          chunk_ = any_chunk_->next().result();
          chunk_pos_ = 0;
          continue;
        }
        chunk_future head = std::move(chunks_.front());
        chunks_.pop_front();
        try {
          chunk_ = std::move(head).result(time_left());
        } catch (...) {
          head.cancel();
          throw;
        }
        chunk_pos_ = 0;
      }
      current_.emplace(std::move(chunk_.values[chunk_pos_++]));
      if (chunk_pos_ == chunk_.values.size() && !chunk_.error && next_chunk_) {
        if (auto f = next_chunk_()) {
          chunks_.push_back(std::move(*f));
        } else {
          next_chunk_ = nullptr;
        }
      }
    } catch (...) {
      cancel_rest();
      throw;
    }
  }

  std::chrono::nanoseconds time_left() const {
    return until_.is_never() ? std::chrono::nanoseconds::max()
                             : std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   *until_.time_point() - detail::clock::now());
  }

  value_type take(future<R>& head) {
    if (until_.is_never()) {  // no deadline to convert: no clock read per value
      if constexpr (std::is_void_v<R>) {
        head.result();
        return {};
      } else {
        return std::move(head).result();
      }
    }
    const auto left = time_left();
    if constexpr (std::is_void_v<R>) {
      head.result(left);
      return {};
    } else {
      return std::move(head).result(left);
    }
  }

  void cancel_rest() noexcept {
    next_ = nullptr;
    next_chunk_ = nullptr;
    for (auto& f : in_flight_) f.cancel();
    in_flight_.clear();
    for (auto& f : chunks_) f.cancel();
    chunks_.clear();
    chunk_.values.clear();
    chunk_.error = nullptr;
    chunk_pos_ = 0;
    if (any_call_) any_call_->cancel_rest();
    if (any_chunk_) any_chunk_->cancel_rest();
  }

  std::deque<future<R>> in_flight_;
  submit_next next_;
  std::deque<chunk_future> chunks_;
  submit_next_chunk next_chunk_;
  detail::chunk_values<value_type> chunk_;  // the chunk being read
  std::size_t chunk_pos_ = 0;               // its next value
  detail::deadline until_;
  std::unique_ptr<detail::completion_order<future<R>>> any_call_;       // unordered calls
  std::unique_ptr<detail::completion_order<chunk_future>> any_chunk_;   // unordered chunks
  std::optional<value_type> current_;
};

// What map() returns when every input range is sized: a map_range that knows how many
// calls it makes (a std::ranges::sized_range). It converts to map_range<R> by moving.
template <class R>
class sized_map_range : public map_range<R> {
 public:
  using map_range<R>::map_range;
  // The number of calls (the length of the shortest input range).
  std::size_t size() const noexcept { return *this->total_; }
};

}  // namespace cfutures
