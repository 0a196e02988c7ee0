// Internal: Python's Executor.map written once for every executor. executor_map() splits
// map(f, ranges..., [map_options]) into its parts, zips the ranges, submits the calls (all at
// once, or `buffersize` ahead; in chunks for executors that batch calls) and returns the
// map_range (detail/map_range.hpp). <cfutures/executor.hpp> includes this at its end, after
// map_options.
#pragma once

#include <algorithm>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "cfutures/detail/deadline.hpp"
#include "cfutures/detail/map_range.hpp"
#include "cfutures/executor.hpp"

namespace cfutures {
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
// shortest), submits everything at once or `buffersize` ahead, and returns the map_range
// (a sized_map_range when every range is sized), in input order or, with ordered = false,
// in completion order.
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
  // Sized inputs: the range knows its number of calls (size(), what progress() shows).
  constexpr bool sized = (std::ranges::sized_range<Ranges> && ...);
  using range_type =
      std::conditional_t<sized, sized_map_range<result_type>, map_range<result_type>>;
  std::optional<std::size_t> total;
  if constexpr (sized) {
    total = std::min({static_cast<std::size_t>(std::ranges::size(ranges))...});
  }

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
      return range_type(std::move(chunks), std::move(more), until, options.ordered, total);
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
  return range_type(std::move(in_flight), std::move(more), until, options.ordered, total);
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
