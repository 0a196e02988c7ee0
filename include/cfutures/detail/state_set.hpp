// Internal: how wait() and as_completed() ignore duplicate futures without a hash node per
// future.
//   state_set: a flat open-addressing set of states (linear probing, at most half full):
//     one allocation; used for input ranges that can be read only once.
//   duplicate_finder: for ranges read twice. A first pass sets one bit per state in a
//     bitmap of 16 bits per state (and a second bit where a bit was already set); the
//     second pass needs the exact set only for the few states whose bit was set twice.
//     Two small bitmaps instead of a table of pointers: far fewer fresh pages and cache
//     misses (the cost of deduplicating 100 000 futures was mostly those).
#pragma once

#include <cstddef>
#include <cstdint>

namespace cfutures::detail {

class state_base;

class state_set {
 public:
  // Room for `expected` states without growing (0: grows as needed).
  explicit state_set(std::size_t expected);
  ~state_set();
  state_set(const state_set&) = delete;
  state_set& operator=(const state_set&) = delete;
  // Adds `s`; false if it was already there.
  bool insert(const state_base* s);

 private:
  void grow();
  void allocate(std::size_t slots);  // zeroed slots (bulk memory: populated when large)
  const state_base** slots_ = nullptr;
  std::size_t mask_ = 0;  // slot count - 1 (a power of two)
  std::size_t size_ = 0;
};

class duplicate_finder {
 public:
  // For exactly `n` states noted (pass 1), then offered (pass 2).
  explicit duplicate_finder(std::size_t n);
  ~duplicate_finder();
  duplicate_finder(const duplicate_finder&) = delete;
  duplicate_finder& operator=(const duplicate_finder&) = delete;

  // Pass 1: every state of the input, in any order.
  void note(const state_base* s) noexcept;
  // Pass 2: true the first time `s` is offered.
  bool first_time(const state_base* s);

 private:
  std::size_t words_;   // of each bitmap
  std::uint64_t* seen_;  // bit set: a state with that hash was noted
  std::uint64_t* twice_; // bit set: more than one was
  std::size_t mask_;    // bits - 1
  state_set exact_{0};  // the states whose bit was set twice
};

}  // namespace cfutures::detail
