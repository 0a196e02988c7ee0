// cfutures/executor.hpp — what every executor shares: its options and map()'s result range.
//
// What: Python's Executor interface, as each cfutures executor implements it:
//   submit(f, args...) -> future<R>     schedule f(args...) (arguments decay-copied now)
//   map(f, ranges... [, map_options])   -> map_range<R>, results in input order
//   shutdown(shutdown_options = {})     stop accepting work; optionally cancel queued work
//   destructor                          shutdown({.wait = true}) — Python's `with` block
// Executors are neither copyable nor movable.
//
// map_range<R>: an input range over the results of map(), in input order, by value
// (std::monostate for a void f). Reaching a position (dereferencing or stepping over it)
// blocks until that call is done and rethrows its exception there; the timeout is measured
// from the map() call (timeout_error). After an exception or a timeout the range ends and the
// calls not yet started are cancelled; destroying the range early cancels them too. With
// `buffersize`, at most that many calls run ahead of the consumer (Python 3.14): the inputs
// are then read lazily, so ranges passed as lvalues must outlive the map_range. The
// map_range must not outlive its executor.
// With chunksize > 1 on an executor that batches calls (process pool), each chunk is one
// remote call with one future for its values, as in Python: its calls run in order in one
// worker and stop at the first exception, which the range rethrows at that position;
// cancelling concerns whole chunks. `buffersize` still counts calls: chunks are then at most
// buffersize calls, and the next one is submitted once a whole chunk has been consumed.
// Thread safety: a map_range is consumed by one thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "cfutures/detail/deadline.hpp"
#include "cfutures/errors.hpp"
#include "cfutures/future.hpp"

namespace cfutures {

struct map_options {
  std::optional<std::chrono::nanoseconds> timeout{};  // unset: no limit
  std::size_t chunksize = 1;                          // calls per message (process/MPI); 0: invalid
  std::optional<std::size_t> buffersize{};  // unset: submit everything at once; 0: invalid
};

struct shutdown_options {
  bool wait = true;
  bool cancel_futures = false;
};

namespace detail {

// The outcome of one chunk of map(): the values of its calls in order, up to the first one
// that threw, whose exception is `error` (null if none threw).
template <class V>
struct chunk_values {
  std::vector<V> values;
  std::exception_ptr error;
};

}  // namespace detail

template <class R>
class map_range {
 public:
  using value_type = std::conditional_t<std::is_void_v<R>, std::monostate, R>;
  // Submits the next call, or returns nullopt once the inputs are exhausted.
  using submit_next = std::function<std::optional<future<R>>()>;
  // The same, a chunk of calls at a time (executors that batch map's calls).
  using chunk_future = future<detail::chunk_values<value_type>>;
  using submit_next_chunk = std::function<std::optional<chunk_future>()>;

  class iterator {
   public:
    using value_type = map_range::value_type;
    using difference_type = std::ptrdiff_t;
    using iterator_concept = std::input_iterator_tag;

    iterator() = default;
    value_type& operator*() const { return range_->reach(); }
    iterator& operator++() {
      range_->step();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
      return it.at_end();
    }

   private:
    friend class map_range;
    bool at_end() const noexcept { return range_->at_end(); }
    explicit iterator(map_range* range) : range_(range) {}
    map_range* range_ = nullptr;
  };

  map_range(std::deque<future<R>> in_flight, submit_next next, detail::deadline until)
      : in_flight_(std::move(in_flight)), next_(std::move(next)), until_(until) {}
  map_range(std::deque<chunk_future> chunks, submit_next_chunk next, detail::deadline until)
      : chunks_(std::move(chunks)), next_chunk_(std::move(next)), until_(until) {}
  map_range(map_range&&) noexcept = default;
  map_range& operator=(map_range&&) = delete;
  map_range(const map_range&) = delete;
  ~map_range() { cancel_rest(); }

  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() const noexcept { return {}; }

  // Python's list(executor.map(...)).
  std::vector<value_type> to_vector() && {
    std::vector<value_type> out;
    out.reserve(in_flight_.size());
    for (auto& v : *this) out.push_back(std::move(v));
    return out;
  }

 private:
  bool at_end() const noexcept {
    return !current_ && in_flight_.empty() && chunks_.empty() &&
           chunk_pos_ == chunk_.values.size() && !chunk_.error;
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
    if (!in_flight_.empty()) {
      fetch_call();
    } else {
      fetch_from_chunks();
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
  }

  std::deque<future<R>> in_flight_;
  submit_next next_;
  std::deque<chunk_future> chunks_;
  submit_next_chunk next_chunk_;
  detail::chunk_values<value_type> chunk_;  // the chunk being read
  std::size_t chunk_pos_ = 0;               // its next value
  detail::deadline until_;
  std::optional<value_type> current_;
};

namespace detail {

inline void validate(const map_options& options) {
  if (options.chunksize == 0) throw std::invalid_argument("map: chunksize must be >= 1");
  if (options.buffersize && *options.buffersize == 0) {
    throw std::invalid_argument("map: buffersize must be >= 1");
  }
}

// Splits map(f, ranges..., [map_options]) into its parts and calls
// build(f, options, ranges...).
template <class Build, class F, class... Args>
decltype(auto) split_map_args(Build&& build, F&& f, Args&&... args) {
  constexpr std::size_t n = sizeof...(Args);
  auto all = std::forward_as_tuple(std::forward<Args>(args)...);
  if constexpr (n > 0 &&
                std::is_same_v<std::remove_cvref_t<std::tuple_element_t<n - 1, decltype(all)>>,
                               map_options>) {
    return [&]<std::size_t... I>(std::index_sequence<I...>)->decltype(auto) {
      return build(std::forward<F>(f), map_options(std::get<n - 1>(all)),
                   std::get<I>(std::move(all))...);
    }
    (std::make_index_sequence<n - 1>{});
  } else {
    return build(std::forward<F>(f), map_options{}, std::forward<Args>(args)...);
  }
}

// Python's Executor.map over any executor with submit(): zips the ranges (stopping at the
// shortest), submits everything at once or `buffersize` ahead, and returns the map_range.
template <class Executor, class F, class... Ranges>
auto make_map_range(Executor& executor, F&& f, const map_options& options, Ranges&&... ranges) {
  static_assert(sizeof...(Ranges) > 0, "map: give at least one input range");
  static_assert((std::ranges::input_range<Ranges> && ...), "map: every input must be a range");
  validate(options);
  const deadline until = deadline::after(options.timeout);  // measured from the call
  using fn_type = std::decay_t<F>;
  using future_type = decltype(executor.submit(std::declval<fn_type&>(),
                                               *std::ranges::begin(std::declval<Ranges&>())...));
  using result_type = typename future_type::value_type;

  // Executors that send calls in batches (process, MPI) declare batches_map_calls and
  // provide submit_chunk(fn, vector of argument tuples) -> future<chunk_values<value_type>>,
  // one remote call per chunk.
  constexpr bool chunked = requires { Executor::batches_map_calls; };
  using range_type = map_range<result_type>;

  struct source {
    Executor* executor;
    fn_type fn;
    std::size_t chunksize;
    std::tuple<std::views::all_t<Ranges>...> ranges;
    std::tuple<std::ranges::iterator_t<std::views::all_t<Ranges>>...> its;

    source(Executor* e, F&& f, std::size_t chunk, Ranges&&... rs)
        : executor(e),
          fn(std::forward<F>(f)),
          chunksize(chunk),
          ranges(std::views::all(std::forward<Ranges>(rs))...),
          its(std::apply([](auto&... r) { return std::tuple(std::ranges::begin(r)...); }, ranges)) {
    }

    bool exhausted() {
      return std::apply(
          [&](auto&... it) {
            return std::apply([&](auto&... r) { return ((it == std::ranges::end(r)) || ...); },
                              ranges);
          },
          its);
    }

    std::optional<future_type> next() {
      if (exhausted()) return std::nullopt;
      return std::apply(
          [&](auto&... it) {
            future_type f = executor->submit(fn, *it...);
            (++it, ...);
            return f;
          },
          its);
    }

    std::optional<typename range_type::chunk_future> next_chunk() {
      if constexpr (chunked) {
        using call_args = std::tuple<std::decay_t<std::ranges::range_reference_t<Ranges>>...>;
        std::vector<call_args> calls;
        while (calls.size() < chunksize && !exhausted()) {
          std::apply(
              [&](auto&... it) {
                calls.emplace_back(*it...);
                (++it, ...);
              },
              its);
        }
        if (calls.empty()) return std::nullopt;
        return executor->submit_chunk(fn, std::move(calls));
      } else {
        return std::nullopt;
      }
    }
  };

  auto src = std::make_shared<source>(&executor, std::forward<F>(f), options.chunksize,
                                      std::forward<Ranges>(ranges)...);
  const std::size_t ahead = options.buffersize.value_or(static_cast<std::size_t>(-1));
  if constexpr (chunked) {
    if (options.chunksize > 1) {
      // buffersize bounds the calls running ahead: chunks of at most buffersize calls, as
      // many as fit.
      std::size_t chunks_ahead = ahead;
      if (options.buffersize) {
        src->chunksize = std::min(options.chunksize, *options.buffersize);
        chunks_ahead = *options.buffersize / src->chunksize;
      }
      std::deque<typename range_type::chunk_future> chunks;
      while (chunks.size() < chunks_ahead) {
        auto next = src->next_chunk();
        if (!next) break;
        chunks.push_back(std::move(*next));
      }
      typename range_type::submit_next_chunk more;
      if (options.buffersize) more = [src] { return src->next_chunk(); };
      return range_type(std::move(chunks), std::move(more), until);
    }
  }
  std::deque<future_type> in_flight;
  while (in_flight.size() < ahead) {
    auto next = src->next();
    if (!next) break;
    in_flight.push_back(std::move(*next));
  }
  typename range_type::submit_next more;
  if (options.buffersize) more = [src] { return src->next(); };
  return range_type(std::move(in_flight), std::move(more), until);
}
// Executor::map(f, ranges..., [map_options]) for every executor.
template <class Executor, class F, class... Args>
auto executor_map(Executor& executor, F&& f, Args&&... args) {
  return split_map_args(
      [&executor](auto&& fn, const map_options& options, auto&&... ranges) {
        return make_map_range(executor, std::forward<decltype(fn)>(fn), options,
                              std::forward<decltype(ranges)>(ranges)...);
      },
      std::forward<F>(f), std::forward<Args>(args)...);
}

}  // namespace detail
}  // namespace cfutures
