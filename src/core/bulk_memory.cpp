// detail::bulk_allocate / bulk_free (detail/bulk_allocator.hpp): large arrays mapped in
// huge pages populated at once, small ones from operator new; and advise_huge_pages and
// keep_large_buffers_in_heap (detail/huge_pages.hpp), which they and the large values'
// buffers use.
#include <malloc.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "cfutures/detail/bulk_allocator.hpp"
#include "cfutures/detail/huge_pages.hpp"

namespace cfutures::detail {
namespace {

// From this size on, a mapping of its own (glibc's malloc maps these too, unpopulated).
constexpr std::size_t large = std::size_t{128} << 10;

std::uintptr_t huge_page_up(std::uintptr_t at) { return (at + huge_page - 1) & ~(huge_page - 1); }
std::uintptr_t huge_page_down(std::uintptr_t at) { return at & ~(huge_page - 1); }
std::size_t rounded(std::size_t bytes) { return huge_page_up(bytes); }

// keep_large_buffers_in_heap: glibc accepts at most half its 64 MiB heap size as threshold.
constexpr int heap_buffer_limit = 32 << 20;
constexpr int kept_free_heap = 64 << 20;

}  // namespace

void keep_large_buffers_in_heap() noexcept {
#ifdef __GLIBC__
  // A flag rather than a guarded static: a child forked while another thread is here must
  // not find a guard locked forever (it merely keeps glibc's defaults).
  static std::atomic<bool> asked{false};
  if (asked.exchange(true)) return;
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") || std::getenv("MALLOC_TRIM_THRESHOLD_") ||
      (tunables && std::strstr(tunables, "glibc.malloc."))) {
    return;  // the user chose
  }
  mallopt(M_MMAP_THRESHOLD, heap_buffer_limit);
  mallopt(M_TRIM_THRESHOLD, kept_free_heap);
#endif
}

void advise_huge_pages(void* p, std::size_t n) noexcept {
  if (n < huge_page) return;
  const std::uintptr_t first = huge_page_up(reinterpret_cast<std::uintptr_t>(p));
  const std::uintptr_t last = huge_page_down(reinterpret_cast<std::uintptr_t>(p) + n);
  if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
}

// A large array takes whole 2 MiB pages: mapped 2 MiB-aligned, rounded up to 2 MiB, advised
// as transparent huge pages, then populated. Populating 4 KiB pages costs about 10 µs each on
// a virtual machine like CI's (as a fault does: 100 000 futures' arrays took 4 ms), a huge
// page one zeroing of 2 MiB (bench/README.md, "as_completed at scale"). Where THP is off the
// advice does nothing and the pages are populated one by one, as before.
void* bulk_allocate(std::size_t bytes) {
  if (bytes < large) return ::operator new(bytes);
  const std::size_t size = rounded(bytes);
  void* p = mmap(nullptr, size + huge_page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  auto* begin = static_cast<char*>(p);
  auto* aligned = reinterpret_cast<char*>(huge_page_up(reinterpret_cast<std::uintptr_t>(begin)));
  if (aligned > begin) munmap(begin, static_cast<std::size_t>(aligned - begin));
  char* end = begin + size + huge_page;
  if (end > aligned + size) munmap(aligned + size, static_cast<std::size_t>(end - (aligned + size)));
  advise_huge_pages(aligned, size);
  if (madvise(aligned, size, MADV_POPULATE_WRITE) != 0) {
    for (std::size_t at = 0; at < size; at += 4096) aligned[at] = 0;
  }
  return aligned;
}

void bulk_free(void* p, std::size_t bytes) noexcept {
  if (p == nullptr) return;
  if (bytes < large) {
    ::operator delete(p);
  } else {
    munmap(p, rounded(bytes));
  }
}

}  // namespace cfutures::detail
