// Internal: the engine of progress() (<cfutures/progress.hpp>): when to draw and where
// (progress_bar, src/core/progress_bar.cpp), and what one line says (progress_line,
// src/core/progress_line.cpp).
//
// Data flow: the consuming thread calls start() once, step() after each item and close()
// once at the end (or with what stopped it). On a terminal, a draw rewrites one line in
// place ("\r" + line + erase-to-end) at most every 100 ms, and close() draws it a last time
// and ends it with "\n". Elsewhere (a pipe, a file) a draw is a plain line, at most one a
// second, and close() writes the last one. Nothing runs in the background.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace cfutures::detail {

// What a line shows.
struct progress_snapshot {
  std::string_view description;         // empty: none
  std::size_t n = 0;                    // items done
  std::optional<std::size_t> total;     // known: a percentage and a bar
  std::chrono::duration<double> elapsed{};
  std::string_view stopped;             // non-empty: what stopped the iteration
};

// One line like tqdm's, at most `width` columns:
//   "pages:  42%|█████▉        | 42/100 [00:01<00:02, 35.21 it/s]"   (total known)
//   "pages: 42 [00:01, 35.21 it/s]"                                  (total unknown)
// then " stopped: <what>" after an exception.
std::string progress_line(const progress_snapshot& s, std::size_t width);

class progress_bar {
 public:
  progress_bar(std::string description, std::optional<std::size_t> total, std::FILE* out);
  progress_bar(const progress_bar&) = delete;
  progress_bar& operator=(const progress_bar&) = delete;

  void start();                                  // draws 0 (the first line)
  void step();                                   // one more item done; draws if it is time
  void close(std::string_view stopped = {}) noexcept;  // the last line; idempotent
  bool closed() const noexcept { return closed_; }
  void set_total(std::optional<std::size_t> total) noexcept { total_ = total; }

 private:
  using clock = std::chrono::steady_clock;
  void draw(bool last, std::string_view stopped);

  std::string description_;
  std::optional<std::size_t> total_;
  std::FILE* out_;
  bool terminal_;
  clock::duration interval_;  // the least time between two draws
  clock::time_point started_;
  clock::time_point drawn_;
  std::size_t n_ = 0;
  bool closed_ = false;
};

}  // namespace cfutures::detail
