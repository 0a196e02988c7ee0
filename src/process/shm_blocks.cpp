// The process pool's payload store and this process's pool of blocks: shm_blocks.hpp.
#include "process/shm_blocks.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include "cfutures/detail/huge_pages.hpp"
#include "cfutures/detail/remote_call.hpp"
#include "cfutures/errors.hpp"
#include "process/copy_helper.hpp"

namespace cfutures::detail {
namespace {

constexpr std::size_t block_granule = 1 << 20;
constexpr std::size_t max_pooled_blocks = 4;
constexpr std::size_t max_remembered_mappings = 4;
// Mappings larger than this are not remembered (they would keep that much memory alive).
constexpr std::size_t max_remembered_size = std::size_t{64} << 20;
// Blocks larger than this are freed rather than pooled (their memory goes back at once).
constexpr std::size_t max_pooled_capacity = std::size_t{256} << 20;

[[noreturn]] void fail(const char* what) {
  throw error(std::string(what) + ": " + std::strerror(errno));
}

std::size_t round_up(std::size_t n) {
  return (n + block_granule - 1) / block_granule * block_granule;
}

std::size_t page_round(std::size_t n) {
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return (n + page - 1) / page * page;
}

struct remembered {
  std::uint64_t inode;
  char* data;
  std::size_t mapped;
};

struct block_pool {
  // Full-size from the start: grown later, these vectors would be allocated just after a
  // large decoded value, and keep its memory from returning to the top of the heap (where
  // the next value of that size would have found it: see payload.hpp).
  block_pool() {
    free.reserve(max_pooled_blocks);
    given.reserve(max_remembered_mappings);
  }

  std::mutex mutex;
  std::vector<shared_block> free;
  std::vector<remembered> given;  // mappings of blocks given away, oldest first
};

// Never destroyed: blocks may be recycled during exit. A forked child replaces it (its mutex
// may have been inherited locked).
block_pool*& current_pool() {
  static block_pool* p = new block_pool;
  return p;
}

block_pool& pool() { return *current_pool(); }

// Maps all of block's capacity (a received block is mapped only as far as its payload).
void map_all(shared_block& b) {
  if (b.mapped >= b.capacity) return;
  void* p = b.data ? mremap(b.data, b.mapped, b.capacity, MREMAP_MAYMOVE)
                   : mmap(nullptr, b.capacity, PROT_READ | PROT_WRITE, MAP_SHARED, b.fd, 0);
  if (p == MAP_FAILED) fail("cannot map shared memory");
  b.data = static_cast<char*>(p);
  b.mapped = b.capacity;
}

}  // namespace

shared_block acquire_block(std::size_t capacity, std::size_t populate) {
  {
    auto& p = pool();
    std::lock_guard lock(p.mutex);
    auto it = std::find_if(p.free.begin(), p.free.end(),
                           [&](const shared_block& b) { return b.capacity >= capacity; });
    if (it != p.free.end()) {
      shared_block b = *it;
      p.free.erase(it);
      map_all(b);
      return b;
    }
  }
  keep_large_buffers_in_heap();
  shared_block b;
  b.fd = memfd_create("cfutures-payload", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (b.fd < 0) fail("memfd_create");
  b.capacity = round_up(capacity);
  struct stat st {};
  // Sealed against shrinking: a block mapped by a receiver can never lose pages under it
  // (which would turn its reads into SIGBUS).
  if (ftruncate(b.fd, static_cast<off_t>(b.capacity)) != 0 ||
      fcntl(b.fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL) != 0 || fstat(b.fd, &st) != 0) {
    const int e = errno;
    ::close(b.fd);
    errno = e;
    fail("cannot size shared memory");
  }
  b.inode = st.st_ino;
  try {
    map_all(b);
  } catch (...) {
    ::close(b.fd);
    throw;
  }
  // Fault the pages in at once (cheaper than one fault per page while encoding).
  if (populate > 0) madvise(b.data, std::min(populate, b.capacity), MADV_POPULATE_WRITE);
  return b;
}

void grow_block(shared_block& b, std::size_t capacity) {
  if (capacity <= b.capacity) return map_all(b);
  const std::size_t to = round_up(capacity);
  if (ftruncate(b.fd, static_cast<off_t>(to)) != 0) fail("cannot grow shared memory");
  b.capacity = to;
  map_all(b);
}

void drop_block(shared_block& b) noexcept {
  if (b.region) {  // a shared_buffer's memfd, borrowed while it was sent
    b = {};
    return;
  }
  if (b.fd >= 0) ::close(b.fd);
  if (b.data && b.mapped <= max_remembered_size) {
    remembered old{0, nullptr, 0};
    {
      auto& p = pool();
      std::lock_guard lock(p.mutex);
      try {
        if (p.given.size() == max_remembered_mappings) {
          old = p.given.front();
          p.given.erase(p.given.begin());
        }
        p.given.push_back({b.inode, b.data, b.mapped});
        b.data = nullptr;
      } catch (...) {
        // Not remembered: unmapped below.
      }
    }
    if (old.data) munmap(old.data, old.mapped);
  }
  if (b.data) munmap(b.data, b.mapped);
  b = {};
}

void recycle_block(shared_block& b) noexcept {
  if (b.fd < 0) return;
  if (b.region) return drop_block(b);
  if (b.capacity <= max_pooled_capacity) {
    auto& p = pool();
    std::lock_guard lock(p.mutex);
    if (p.free.size() < max_pooled_blocks) {
      try {
        p.free.push_back(b);
        b = {};
        return;
      } catch (...) {
        // No room: free it below.
      }
    }
  }
  drop_block(b);
}

shared_block adopt_block(int fd, std::size_t length) {
  shared_block b;
  b.fd = fd;
  struct stat st {};
  const int seals = fcntl(fd, F_GET_SEALS);
  if (fstat(fd, &st) != 0 || static_cast<std::uint64_t>(st.st_size) < length || seals < 0 ||
      (seals & F_SEAL_SHRINK) == 0) {
    ::close(fd);
    throw protocol_error("bad shared payload: not a sealed block as large as its length");
  }
  b.capacity = static_cast<std::size_t>(st.st_size);
  b.inode = st.st_ino;
  {
    auto& p = pool();
    std::lock_guard lock(p.mutex);
    for (auto it = p.given.begin(); it != p.given.end(); ++it) {
      if (it->inode != b.inode) continue;
      // Back from the other process: the old mapping still shows these pages.
      b.data = it->data;
      b.mapped = std::min(it->mapped, b.capacity);
      p.given.erase(it);
      break;
    }
  }
  if (b.data) {
    if (b.mapped >= length) return b;
    munmap(b.data, b.mapped);
    b.data = nullptr;
  }
  keep_large_buffers_in_heap();
  copy_helper::prepare();
  // A block that may be pooled is mapped whole (so that reusing it for a payload of this
  // process needs no mremap, after which the moved range faults again), but only the
  // payload's pages are faulted in: the rest may never be touched. The sender wrote them, so
  // they exist: read faults map them (writable, as the mapping is shared) many per fault,
  // where write faults would take one page each (about 3x longer for 16 MiB).
  const std::size_t payload_pages =
      std::min(page_round(std::max<std::size_t>(length, 1)), b.capacity);
  b.mapped = b.capacity <= max_pooled_capacity ? b.capacity : payload_pages;
  if (b.mapped == 0) return b;
  void* p = mmap(nullptr, b.mapped, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    const int e = errno;
    ::close(fd);
    errno = e;
    fail("cannot map a shared payload");
  }
  b.data = static_cast<char*>(p);
  madvise(b.data, payload_pages, MADV_POPULATE_READ);
  return b;
}

void release_block_pool() noexcept {
  copy_helper::stop();
  std::vector<shared_block> free;
  std::vector<remembered> given;
  {
    auto& p = pool();
    std::lock_guard lock(p.mutex);
    free.swap(p.free);
    given.swap(p.given);
  }
  for (auto& b : free) {
    munmap(b.data, b.mapped);
    ::close(b.fd);
  }
  for (auto& r : given) munmap(r.data, r.mapped);
}

void forget_inherited_blocks() noexcept {
  block_pool* inherited = current_pool();
  for (auto& b : inherited->free) {
    munmap(b.data, b.mapped);
    ::close(b.fd);
  }
  for (auto& r : inherited->given) munmap(r.data, r.mapped);
  current_pool() = new block_pool;  // the inherited one (and its mutex) is left alone
}

namespace {

class shm_block_store final : public block_store {
 public:
  void append(shared_block& block, std::size_t& used, std::string& small, const char* p,
              std::size_t n) override {
    if (block.fd < 0) {
      copy_helper::prepare();
      const std::size_t need = small.size() + n;
      block = acquire_block(std::max(need + need / 2, block_granule), need);
      std::memcpy(block.data, small.data(), small.size());
      used = small.size();
      std::string().swap(small);
    } else if (used + n > block.capacity) {
      grow_block(block, std::max(2 * block.capacity, used + n));
    }
    copy_bytes(block.data + used, p, n);
    used += n;
  }
  void recycle(shared_block& block) noexcept override { recycle_block(block); }
};

// Stateless and constant-initialised: usable during exit and in forked children.
constinit shm_block_store the_store;

}  // namespace

block_store* shm_store() noexcept { return &the_store; }

}  // namespace cfutures::detail
