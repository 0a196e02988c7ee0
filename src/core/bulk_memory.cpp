// detail::bulk_allocate / bulk_free (detail/bulk_allocator.hpp): large arrays mapped with
// their pages populated at once (MAP_POPULATE), small ones from operator new.
#include <sys/mman.h>

#include <new>

#include "cfutures/detail/bulk_allocator.hpp"

namespace cfutures::detail {
namespace {

// From this size on, a mapping of its own (glibc's malloc maps these too, unpopulated).
constexpr std::size_t large = std::size_t{128} << 10;

}  // namespace

void* bulk_allocate(std::size_t bytes) {
  if (bytes < large) return ::operator new(bytes);
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                 -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return p;
}

void bulk_free(void* p, std::size_t bytes) noexcept {
  if (p == nullptr) return;
  if (bytes < large) {
    ::operator delete(p);
  } else {
    munmap(p, bytes);
  }
}

}  // namespace cfutures::detail
