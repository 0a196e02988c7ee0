// Memory shared between processes, and the worker mapping cache: detail/shared_region.hpp.
#include "cfutures/detail/shared_region.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "cfutures/errors.hpp"

namespace cfutures::detail {
namespace {

// At most this many mappings kept by a worker with no handle of its own.
constexpr std::size_t max_cached = 16;
// A holder's shared lock may meet a waiting thread's exclusive one for an instant (it is
// dropping its mapping): so many tries before a region goes without (it is then never
// cached, which is always safe).
constexpr int lock_tries = 1000;

constexpr int required_seals = F_SEAL_SHRINK | F_SEAL_GROW;

[[noreturn]] void fail(const std::string& what) {
  throw error("shared_buffer: " + what + ": " + std::strerror(errno));
}

bool lock_byte(int fd, short type, int command) noexcept {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 1;
  for (;;) {
    if (fcntl(fd, command, &fl) == 0) return true;
    if (errno != EINTR) return false;
  }
}

bool take_shared_lock(int fd) noexcept {
  for (int i = 0; i < lock_tries; ++i) {
    if (lock_byte(fd, F_RDLCK, F_OFD_SETLK)) return true;
    if (errno != EAGAIN && errno != EACCES) return false;
    sched_yield();
  }
  return false;
}

// A description of the memfd behind `fd` of this process's own (-1 if /proc says no).
int reopen(int fd) noexcept {
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  return ::open(path.c_str(), O_RDWR | O_CLOEXEC);
}

}  // namespace

// Every region of this process by inode, and the worker cache. Never destroyed (regions may
// be released during exit); its mutex is held across fork (an atfork handler), so a child
// finds it consistent.
struct region_registry {
  std::mutex mutex;
  std::unordered_map<std::uint64_t, shared_region*> by_inode;
  bool cache_enabled = false;
  std::size_t cached = 0;

  static region_registry& get() {
    static region_registry* r = [] {
      auto* made = new region_registry;
      pthread_atfork([] { get().mutex.lock(); }, [] { get().mutex.unlock(); },
                     [] { get().forget_inherited(); });
      return made;
    }();
    return *r;
  }

  // Under mutex.
  void erase(shared_region* r) noexcept {
    const auto it = by_inode.find(r->inode_);
    if (it != by_inode.end() && it->second == r) by_inode.erase(it);
  }

  // In a forked child: the parent's regions are not mapped here (MADV_DONTFORK) and their
  // memfds are closed, so that a child holds only what it is sent. Their objects stay, inert.
  void forget_inherited() noexcept {
    for (auto& [inode, r] : by_inode) {
      if (r->fd_ >= 0) ::close(r->fd_);
      if (r->waiter_fd_ >= 0) ::close(r->waiter_fd_);
      r->fd_ = r->waiter_fd_ = -1;
      r->data_ = nullptr;
      r->cached_ = false;
    }
    by_inode.clear();
    cached = 0;
    mutex.unlock();
  }

  // The last handle of `r` is gone.
  void last_released(shared_region* r) noexcept {
    {
      std::lock_guard lock(mutex);
      if (cache_enabled && r->received_ && r->locked_ && r->data_ && cached < max_cached &&
          keep_cached(r)) {
        return;
      }
      erase(r);
    }
    delete r;
  }

  // Under mutex: keeps `r` mapped with no handle, and starts the thread that drops it once
  // no process holds a handle.
  bool keep_cached(shared_region* r) noexcept {
#if defined(__SANITIZE_THREAD__)
    // ThreadSanitizer ends a process forked from a multi-threaded one (a fork worker) that
    // starts a thread: under it, nothing is cached (a region is unmapped with its last handle).
    (void)r;
    return false;
#endif
    if (r->waiter_fd_ < 0) {  // else its thread waits still (the region was revived)
      r->waiter_fd_ = reopen(r->fd_);
      if (r->waiter_fd_ < 0) return false;
      try {
        std::thread([r] { wait_for_no_holders(r); }).detach();
      } catch (...) {
        ::close(r->waiter_fd_);
        r->waiter_fd_ = -1;
        return false;
      }
    }
    lock_byte(r->fd_, F_UNLCK, F_OFD_SETLK);
    r->locked_ = false;
    r->cached_ = true;
    ++cached;
    return true;
  }

  // Under mutex: `r` (cached) has a handle again, if it can take its shared lock back (it
  // cannot once the waiting thread holds the exclusive one: that thread drops it).
  bool revive(shared_region* r) noexcept {
    if (!lock_byte(r->fd_, F_RDLCK, F_OFD_SETLK)) return false;
    r->locked_ = true;
    r->cached_ = false;
    r->refs_.store(1, std::memory_order_relaxed);
    --cached;
    return true;
  }

  // A reference to live region `r`, unless its last handle is going right now.
  static bool try_add_ref(shared_region* r) noexcept {
    std::size_t refs = r->refs_.load(std::memory_order_relaxed);
    while (refs > 0 && !r->refs_.compare_exchange_weak(refs, refs + 1, std::memory_order_relaxed)) {
    }
    return refs > 0;
  }

  static void wait_for_no_holders(shared_region* r) noexcept {
    lock_byte(r->waiter_fd_, F_WRLCK, F_OFD_SETLKW);
    region_registry& self = get();
    {
      std::lock_guard lock(self.mutex);
      if (!r->cached_) {  // revived after a failed wait: it is a live region again
        ::close(std::exchange(r->waiter_fd_, -1));
        return;
      }
      self.erase(r);
      --self.cached;
    }
    delete r;
  }
};

shared_region::~shared_region() {
  if (data_) munmap(data_, size_);
  if (fd_ >= 0) ::close(fd_);
  if (waiter_fd_ >= 0) ::close(waiter_fd_);
}

void shared_region::release() noexcept {
  // acq_rel: see refs_.
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  region_registry::get().last_released(this);
}

ref_ptr<shared_region> shared_region::create(std::size_t bytes) {
  auto r = ref_ptr<shared_region>::adopt(new shared_region);
  r->fd_ = memfd_create("cfutures-shared-buffer", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (r->fd_ < 0) fail("memfd_create");
  struct stat st {};
  if (ftruncate(r->fd_, static_cast<off_t>(bytes)) != 0) fail("cannot size shared memory");
  if (fcntl(r->fd_, F_ADD_SEALS, required_seals | F_SEAL_SEAL) != 0 || fstat(r->fd_, &st) != 0) {
    fail("cannot seal shared memory");
  }
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd_, 0);
  if (p == MAP_FAILED) fail("cannot map shared memory");
  r->data_ = static_cast<char*>(p);
  r->size_ = bytes;
  r->inode_ = st.st_ino;
  madvise(p, bytes, MADV_DONTFORK);
  r->locked_ = take_shared_lock(r->fd_);
  region_registry& registry = region_registry::get();
  std::lock_guard lock(registry.mutex);
  registry.by_inode[r->inode_] = r.get();
  return r;
}

ref_ptr<shared_region> shared_region::adopt(int fd, std::uint64_t bytes) {
  struct closer {
    int fd;
    ~closer() {
      if (fd >= 0) ::close(fd);
    }
  } received{fd};
  struct stat st {};
  const int seals = fcntl(fd, F_GET_SEALS);
  if (fstat(fd, &st) != 0 || seals < 0 || (seals & required_seals) != required_seals ||
      static_cast<std::uint64_t>(st.st_size) != bytes || bytes == 0) {
    throw protocol_error("bad shared buffer: not a sealed memfd of its announced size");
  }
  region_registry& registry = region_registry::get();
  {
    std::lock_guard lock(registry.mutex);
    const auto it = registry.by_inode.find(st.st_ino);
    if (it != registry.by_inode.end()) {
      shared_region* found = it->second;
      if (found->cached_) {
        if (registry.revive(found)) return ref_ptr<shared_region>::adopt(found);
        registry.by_inode.erase(it);  // its waiting thread drops it
      } else if (registry.try_add_ref(found)) {
        return ref_ptr<shared_region>::adopt(found);
      }
    }
  }
  auto r = ref_ptr<shared_region>::adopt(new shared_region);
  r->received_ = true;
  r->fd_ = reopen(fd);
  if (r->fd_ < 0) {
    r->fd_ = std::exchange(received.fd, -1);  // shares the sender's description: no lock
  } else {
    r->locked_ = take_shared_lock(r->fd_);
  }
  void* p = mmap(nullptr, static_cast<std::size_t>(bytes), PROT_READ | PROT_WRITE, MAP_SHARED,
                 r->fd_, 0);
  if (p == MAP_FAILED) fail("cannot map a received shared buffer");
  r->data_ = static_cast<char*>(p);
  r->size_ = static_cast<std::size_t>(bytes);
  r->inode_ = st.st_ino;
  madvise(p, r->size_, MADV_DONTFORK);
  std::lock_guard lock(registry.mutex);
  registry.by_inode[r->inode_] = r.get();
  return r;
}

ref_ptr<shared_region> shared_region::held(std::uint64_t inode, std::uint64_t bytes) noexcept {
  region_registry& registry = region_registry::get();
  std::lock_guard lock(registry.mutex);
  const auto it = registry.by_inode.find(inode);
  if (it == registry.by_inode.end() || it->second->cached_ || it->second->size_ != bytes) {
    return {};
  }
  shared_region* found = it->second;
  return region_registry::try_add_ref(found) ? ref_ptr<shared_region>::adopt(found)
                                             : ref_ptr<shared_region>{};
}

void enable_region_cache() noexcept {
  region_registry& registry = region_registry::get();
  std::lock_guard lock(registry.mutex);
  registry.cache_enabled = true;
}

std::size_t live_region_count() noexcept {
  region_registry& registry = region_registry::get();
  std::lock_guard lock(registry.mutex);
  return registry.by_inode.size();
}

}  // namespace cfutures::detail
