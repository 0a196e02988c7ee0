// Internal: large buffers that are about to be filled ask the kernel for transparent huge
// pages (madvise(MADV_HUGEPAGE)), so that filling them costs a fault per 2 MiB instead of one
// per 4 KiB.
//
// Why: a large value received by a worker or a caller (a 16 MiB vector, an MPI message)
// lands in memory the process has never touched; every 4 KiB page of it is a page fault.
// On a virtual machine a fault is dear: on the project's CI machine 16 MiB of fresh memory
// took 42 ms to fill (390 MB/s, ~10 µs a fault) and 0.6 ms once advised (bench/README.md,
// "Large values and page faults"). Debian's default THP mode is "madvise": nothing is huge
// unless asked for. The advice is only a hint: where THP is off it changes nothing, and a
// failure is ignored.
//
// The transports that carry large values (the process pool, MPI) also ask glibc's malloc,
// with their first large value, to keep buffers of up to 32 MiB in its heap
// (keep_large_buffers_in_heap): the values decoded from them, freed and allocated again
// every call, then reuse warm memory instead of fresh pages that fault again every call.
//
// Thread safety: stateless (keep_large_buffers_in_heap: once per process, from any thread).
// Blocking: one madvise system call for a buffer of at least huge_page bytes, none below.
// Throws: nothing.
#pragma once

#include <cstddef>

namespace cfutures::detail {

inline constexpr std::size_t huge_page = std::size_t{2} << 20;

// Advises the whole 2 MiB pages inside [p, p + n) (none when n < huge_page). Defined in
// src/core/bulk_memory.cpp, so that this header does not bring <sys/mman.h> to its users.
void advise_huge_pages(void* p, std::size_t n) noexcept;

// glibc only (elsewhere nothing): allocations of up to 32 MiB come from the heap and up to
// 64 MiB of freed heap is kept (M_MMAP_THRESHOLD, M_TRIM_THRESHOLD), unless the user set
// either through the environment. Once per process; called with the first large value.
void keep_large_buffers_in_heap() noexcept;

// Makes `out` (empty afterwards) hold storage for `count` elements, advised when large, so
// that the assign() that follows fills huge pages. Works for std::string and std::vector.
template <class Container>
void reserve_for_fill(Container& out, std::size_t count) {
  const std::size_t bytes = count * sizeof(typename Container::value_type);
  if (bytes < huge_page) return;
  if (out.capacity() < count) {
    Container fresh(out.get_allocator());
    fresh.reserve(count);
    out.swap(fresh);
  }
  out.clear();
  advise_huge_pages(out.data(), bytes);
}

}  // namespace cfutures::detail
