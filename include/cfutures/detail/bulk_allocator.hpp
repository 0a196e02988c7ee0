// Internal: detail::bulk_allocator<T>, the allocator of the per-call arrays of wait() and
// as_completed() (the futures, the set of their states, the waiter's nodes): n futures need
// a few arrays of n entries, which in a fresh process are fresh pages. Touched one at a time,
// each page costs a page fault (tens of microseconds on a virtual machine: most of what
// as_completed over 100 000 futures cost); this allocator maps a large array with its pages
// populated in one system call instead (src/core/bulk_memory.cpp). Small arrays come from
// operator new.
#pragma once

#include <cstddef>
#include <new>

namespace cfutures::detail {

// `bytes` of memory, populated when large; throws std::bad_alloc.
void* bulk_allocate(std::size_t bytes);
// Frees what bulk_allocate(bytes) returned.
void bulk_free(void* p, std::size_t bytes) noexcept;

template <class T>
struct bulk_allocator {
  using value_type = T;
  bulk_allocator() noexcept = default;
  template <class U>
  bulk_allocator(const bulk_allocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(bulk_allocate(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept { bulk_free(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const bulk_allocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace cfutures::detail
