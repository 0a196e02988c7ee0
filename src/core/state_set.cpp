// detail::state_set and detail::duplicate_finder (detail/state_set.hpp): finding duplicate
// states with a flat table, or with two bitmaps and a table for their collisions only.
#include "cfutures/detail/state_set.hpp"

#include <bit>
#include <cstdint>
#include <cstring>

#include "cfutures/detail/bulk_allocator.hpp"

namespace cfutures::detail {
namespace {

// Fibonacci hashing of the address (states are at least 16-byte aligned: the low bits carry
// nothing).
std::size_t slot_of(const state_base* s, std::size_t mask) {
  const auto bits = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(s));
  return static_cast<std::size_t>(((bits >> 4) * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

std::uint64_t* zeroed_words(std::size_t words) {
  auto* p = static_cast<std::uint64_t*>(bulk_allocate(words * sizeof(std::uint64_t)));
  std::memset(p, 0, words * sizeof(std::uint64_t));
  return p;
}

}  // namespace

state_set::state_set(std::size_t expected) {
  const std::size_t slots = std::bit_ceil(expected < 8 ? std::size_t{16} : 2 * expected);
  allocate(slots);
}

state_set::~state_set() { bulk_free(slots_, (mask_ + 1) * sizeof *slots_); }

void state_set::allocate(std::size_t slots) {
  slots_ = static_cast<const state_base**>(bulk_allocate(slots * sizeof *slots_));
  std::memset(static_cast<void*>(slots_), 0, slots * sizeof *slots_);
  mask_ = slots - 1;
}

bool state_set::insert(const state_base* s) {
  if (2 * (size_ + 1) > mask_ + 1) grow();
  for (std::size_t i = slot_of(s, mask_);; i = (i + 1) & mask_) {
    if (slots_[i] == s) return false;
    if (slots_[i] == nullptr) {
      slots_[i] = s;
      ++size_;
      return true;
    }
  }
}

void state_set::grow() {
  const std::size_t old_slots = mask_ + 1;
  const state_base** old = slots_;
  allocate(2 * old_slots);
  size_ = 0;
  for (std::size_t i = 0; i < old_slots; ++i) {
    if (old[i] != nullptr) insert(old[i]);
  }
  bulk_free(old, old_slots * sizeof *old);
}

duplicate_finder::duplicate_finder(std::size_t n)
    : words_(std::bit_ceil(n < 64 ? std::size_t{64} : 16 * n) / 64),
      seen_(zeroed_words(words_)),
      twice_(zeroed_words(words_)),
      mask_(words_ * 64 - 1) {}

duplicate_finder::~duplicate_finder() {
  bulk_free(seen_, words_ * sizeof(std::uint64_t));
  bulk_free(twice_, words_ * sizeof(std::uint64_t));
}

void duplicate_finder::note(const state_base* s) noexcept {
  const std::size_t bit = slot_of(s, mask_);
  const std::uint64_t b = std::uint64_t{1} << (bit % 64);
  if (seen_[bit / 64] & b) {
    twice_[bit / 64] |= b;
  } else {
    seen_[bit / 64] |= b;
  }
}

bool duplicate_finder::first_time(const state_base* s) {
  const std::size_t bit = slot_of(s, mask_);
  if (!(twice_[bit / 64] & (std::uint64_t{1} << (bit % 64)))) return true;  // its bit: alone
  return exact_.insert(s);
}

}  // namespace cfutures::detail
