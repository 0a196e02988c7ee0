// cfutures/progress.hpp — progress(range, progress_options): a tqdm-like progress line over
// any range (as_completed, map, a vector...).
//
// What: for (auto f : progress(as_completed(fs), {.description = "pages"})) ...
//   progress() yields exactly what the wrapped range yields (same values, same references,
//   same exceptions) and draws one line on `out` (stderr by default), like tqdm's:
//     pages:  42%|█████▉        | 42/100 [00:01<00:02, 35.21 it/s]
//   description, items done and the total with a percentage and a bar when the total is
//   known (`total`, else the range's size(): as_completed's and a sized map's have one), the
//   rate, the elapsed time and the estimate of what is left. With no total it says only
//   what it knows: "pages: 42 [00:01, 35.21 it/s]".
//   On a terminal (isatty(out)) the line is redrawn in place at most 10 times a second,
//   as wide as the terminal (TIOCGWINSZ; 80 columns when it does not say), and once at the
//   end, followed by a newline. Elsewhere (a pipe, a file) it writes a plain line when the
//   iteration starts, then at most one a second, and one at the end.
//   An item counts as done when the iteration moves past it. The line is drawn by the
//   consuming thread, as it steps: while it waits for the next item nothing is redrawn.
//   When the wrapped range throws (map rethrowing a call's exception, as_completed's
//   timeout), the last line shows where it stopped, "... stopped: <what()>", and the same
//   exception propagates unchanged. Leaving the loop early draws the last line when the
//   progress range is destroyed.
// An lvalue range is wrapped by reference (it must outlive the progress range); an rvalue
// one is moved in.
//
// Thread safety: one progress range is consumed by one thread; ranges on different
//   threads may share `out` (each line is one write, but lines of both will interleave).
// Blocking: only where the wrapped range blocks; drawing is a write to `out`.
// Throws: what the wrapped range throws, unchanged; drawing never throws.
// Python counterpart: tqdm(iterable, desc=..., total=...) — tqdm(as_completed(fs),
//   total=len(fs)) — and Dask's progress().
// Deviations: the total is taken from the range's size() without being asked for; no
//   background refresh (tqdm's monitor thread), no nested bars, no unit options.
#pragma once

#include <cstddef>
#include <cstdio>
#include <exception>
#include <iterator>
#include <optional>
#include <ranges>
#include <string>
#include <type_traits>
#include <utility>

#include "cfutures/detail/progress_bar.hpp"

namespace cfutures {

// The options of progress(range, progress_options): an aggregate.
struct progress_options {
  std::string description;           // shown first ("pages: ..."); empty: none
  std::optional<std::size_t> total;  // unset: the range's size() if it has one, else unknown
  std::FILE* out = stderr;           // where the line is drawn; null: nowhere
};

// What progress() returns: an input range over the wrapped range's elements. Neither
// copyable nor movable (use it where it is made: in a range-for, or `auto p = progress(...)`).
template <class R>
class progress_range {
  using base_range = std::remove_reference_t<R>;
  using base_iterator = std::ranges::iterator_t<base_range>;

 public:
  // An input iterator: the wrapped range's, counting and drawing as it steps.
  class iterator {
   public:
    using value_type = std::ranges::range_value_t<base_range>;
    using reference = std::ranges::range_reference_t<base_range>;
    using difference_type = std::ptrdiff_t;
    using iterator_concept = std::input_iterator_tag;

    iterator() = default;
    // The wrapped iterator's element (its exception, if it throws, after the last line).
    reference operator*() const {
      return range_->guarded([&]() -> reference { return **it_; });
    }
    // Counts the item just passed and steps the wrapped iterator.
    iterator& operator++() {
      range_->bar_.step();
      range_->guarded([&] { ++*it_; });
      return *this;
    }
    void operator++(int) { ++*this; }
    // True at the wrapped range's end (which draws the last line).
    friend bool operator==(const iterator& it, std::default_sentinel_t) {
      return it.at_end();
    }

   private:
    friend class progress_range;
    bool at_end() const { return range_->at_end(*it_); }
    iterator(progress_range* range, base_iterator* it) : range_(range), it_(it) {}
    progress_range* range_ = nullptr;
    base_iterator* it_ = nullptr;
  };

  // Made by progress(): the range (or a reference to it) and the options.
  progress_range(R&& range, progress_options options)
      : range_(std::forward<R>(range)),
        bar_(std::move(options.description), options.total, options.out) {
    if constexpr (std::ranges::sized_range<base_range>) {
      if (!options.total) bar_.set_total(static_cast<std::size_t>(std::ranges::size(range_)));
    }
  }
  progress_range(const progress_range&) = delete;
  progress_range& operator=(const progress_range&) = delete;
  ~progress_range() { bar_.close(); }  // a loop left early: the last line now

  // Draws the first line, then begins the wrapped range (which may block or throw).
  iterator begin() {
    bar_.start();
    guarded([&] { it_.emplace(std::ranges::begin(range_)); });
    return iterator(this, &*it_);
  }
  // The end of the range.
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  bool at_end(const base_iterator& it) {
    const bool end = guarded([&] { return it == std::ranges::end(range_); });
    if (end) bar_.close();
    return end;
  }

  // Runs `f`; if it throws, draws the last line with what stopped it and rethrows.
  template <class F>
  decltype(auto) guarded(F&& f) {
    try {
      return std::forward<F>(f)();
    } catch (const std::exception& e) {
      bar_.close(e.what());
      throw;
    } catch (...) {
      bar_.close("an exception");
      throw;
    }
  }

  R range_;
  detail::progress_bar bar_;
  std::optional<base_iterator> it_;
};

// Wraps `range` (by reference if an lvalue, moved in if an rvalue) and draws its progress.
template <std::ranges::input_range R>
progress_range<R> progress(R&& range, progress_options options = {}) {
  return progress_range<R>(std::forward<R>(range), std::move(options));
}

}  // namespace cfutures
