// Internal: a sequence that holds a single element in place and more in a std::vector.
//
// The remote core queues one job per submit(), and most jobs hold one call; a reply most
// often answers one call. Holding that one element inside the object, not in a vector of its
// own, saves a heap allocation on the submitting thread and its free on the manager thread
// per call (a free from another thread than the allocating one takes glibc's arena lock).
//
//   one element:     [ one_ = e0 ]  many_ = {}            (one_used_)
//   none, or 2 up:   [ one_ unused ] many_ = {e0, e1, ...}
//
// Iterators are pointers, invalidated by any change of size (as std::vector's by growth).
// T must be nothrow-move-constructible.
#pragma once

#include <cstddef>
#include <iterator>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace cfutures::detail {

template <class T>
class one_or_many {
  static_assert(std::is_nothrow_move_constructible_v<T>);

 public:
  one_or_many() noexcept {}
  one_or_many(one_or_many&& other) noexcept : many_(std::move(other.many_)) {
    take_one(other);
  }
  one_or_many& operator=(one_or_many&& other) noexcept {
    if (this != &other) {
      clear();
      many_ = std::move(other.many_);
      take_one(other);
    }
    return *this;
  }
  // Copies only where std::vector would (a container of these growing without a noexcept
  // move, e.g. a std::deque inside a std::vector's element).
  one_or_many(const one_or_many& other) : many_(other.many_) {
    if (other.one_used_) {
      ::new (static_cast<void*>(&one_)) T(other.one_);
      one_used_ = true;
    }
  }
  one_or_many& operator=(const one_or_many& other) {
    if (this != &other) *this = one_or_many(other);
    return *this;
  }
  ~one_or_many() { drop_one(); }

  std::size_t size() const noexcept { return one_used_ ? 1 : many_.size(); }
  bool empty() const noexcept { return size() == 0; }
  T* begin() noexcept { return one_used_ ? &one_ : many_.data(); }
  T* end() noexcept { return begin() + size(); }
  const T* begin() const noexcept { return one_used_ ? &one_ : many_.data(); }
  const T* end() const noexcept { return begin() + size(); }
  T& operator[](std::size_t i) noexcept { return begin()[i]; }
  const T& operator[](std::size_t i) const noexcept { return begin()[i]; }

  void reserve(std::size_t n) {
    if (n > 1) spill(n);
  }

  void push_back(T&& value) {
    if (!one_used_ && many_.empty()) {
      ::new (static_cast<void*>(&one_)) T(std::move(value));
      one_used_ = true;
      return;
    }
    spill(2);
    many_.push_back(std::move(value));
  }

  // Keeps the first n elements (n <= size()).
  void truncate(std::size_t n) noexcept {
    if (one_used_) {
      if (n == 0) drop_one();
    } else {
      many_.erase(many_.begin() + static_cast<std::ptrdiff_t>(n), many_.end());
    }
  }

  // Removes the elements for which pred is true, keeping the others' order; returns how
  // many it removed.
  template <class Pred>
  std::size_t erase_if(Pred pred) {
    if (one_used_) {
      if (!pred(one_)) return 0;
      drop_one();
      return 1;
    }
    return std::erase_if(many_, pred);
  }

  void clear() noexcept {
    drop_one();
    many_.clear();
  }

 private:
  // Moves the element held in place into many_ (with room for n).
  void spill(std::size_t n) {
    many_.reserve(n);
    if (!one_used_) return;
    many_.push_back(std::move(one_));
    drop_one();
  }
  void take_one(one_or_many& other) noexcept {
    if (!other.one_used_) return;
    ::new (static_cast<void*>(&one_)) T(std::move(other.one_));
    one_used_ = true;
    other.drop_one();
  }
  void drop_one() noexcept {
    if (!one_used_) return;
    one_.~T();
    one_used_ = false;
  }

  union {
    T one_;
  };
  bool one_used_ = false;
  std::vector<T> many_;
};

}  // namespace cfutures::detail
