// Internal: memory shared between processes — one memfd, mapped in this process — behind
// shared_buffer<T> (shared_buffer.hpp), and the hand-off of regions between a value's
// serialization and the transport that carries it.
//
// Reference counting has two levels, and the kernel keeps the outer one:
//   - in a process, shared_region is intrusively counted (ref_ptr): every shared_buffer
//     handle, and every encoded payload waiting to be sent, holds one reference; the last
//     one unmaps the memory and closes the memfd;
//   - across processes, the memfd lives while any process has it open or mapped, so memory
//     is freed when the last process lets go of it, a killed one included (the kernel closes
//     what a dead process held): no bookkeeping can leak it.
// A process holds one region per memfd (received ones are looked up by inode), so that
// every handle of a process sees the same address.
//
// Who still holds a handle (the worker mapping cache): each region holds a shared OFD lock
// (F_OFD_SETLK, F_RDLCK on byte 0) through an open file description of its own (a received
// memfd is reopened through /proc/self/fd). A process-pool worker keeps the mapping of a
// region it received once its last handle is gone (the next call over the same buffer then
// pays no mapping and no page faults; enable_region_cache), without the lock: a thread
// waits for the exclusive lock (F_OFD_SETLKW), which the kernel grants once no handle is
// left in any process, and then drops the mapping. A cached region is revived by taking the
// shared lock again.
//
// fork: mappings are MADV_DONTFORK and a forked child closes the inherited memfds (an
// atfork handler): a child holds only what it is sent, as with spawn.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "cfutures/detail/ref_ptr.hpp"

namespace cfutures::detail {

class shared_region {
 public:
  // `bytes` (> 0) zero-initialised bytes in a new memfd, sealed at that size. Throws
  // cfutures::error when the system refuses (no memory, no descriptors).
  static ref_ptr<shared_region> create(std::size_t bytes);
  // The region of a memfd received from another process (takes `fd`): this process's live
  // (or cached) region of that memory, or a new mapping. protocol_error unless it is a
  // sealed memfd of `bytes` bytes.
  static ref_ptr<shared_region> adopt(int fd, std::uint64_t bytes);
  // This process's live region of memfd `inode`, if it holds one of `bytes` bytes (a worker
  // names a region its parent sent with the call it answers this way: no descriptor needs
  // to cross back); else null.
  static ref_ptr<shared_region> held(std::uint64_t inode, std::uint64_t bytes) noexcept;

  char* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  // The memfd, to be sent (SCM_RIGHTS) while a reference is held.
  int fd() const noexcept { return fd_; }
  // What identifies its memory across processes: the memfd's inode.
  std::uint64_t inode() const noexcept { return inode_; }

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept;

  shared_region(const shared_region&) = delete;
  shared_region& operator=(const shared_region&) = delete;

 private:
  friend struct region_registry;
  shared_region() = default;
  ~shared_region();

  // acq_rel on the way down: the last release sees every other holder's writes to the
  // object before it unmaps (as shared_ptr does).
  std::atomic<std::size_t> refs_{1};
  int fd_ = -1;         // this process's own open file description (holds the shared lock)
  int waiter_fd_ = -1;  // cached: the waiting thread's description (exclusive lock)
  char* data_ = nullptr;
  std::size_t size_ = 0;
  std::uint64_t inode_ = 0;
  bool received_ = false;  // adopted from another process: a worker may cache it
  bool locked_ = false;    // holds the shared lock
  bool cached_ = false;    // no handle left; kept mapped by the worker cache
};

// In a process-pool worker: keep the mappings of received regions between calls while a
// handle lives in another process (see above).
void enable_region_cache() noexcept;

// Live regions of this process (mapped), cached ones included: for tests and diagnostics.
std::size_t live_region_count() noexcept;

// The regions of the value this thread is encoding (shared_buffer::save appends to it) or
// decoding (shared_buffer::load reads it), set by whoever serializes (remote_call.hpp).
// Outside such a scope, serializing a shared_buffer throws cfutures::error.
struct region_links {
  // The list of the value being encoded, made on first use (most values name none): out(owner).
  std::vector<ref_ptr<shared_region>>& (*out)(void* owner) = nullptr;
  void* owner = nullptr;
  const std::vector<ref_ptr<shared_region>>* in = nullptr;
};
inline thread_local region_links current_region_links;

// Sets this thread's region_links for a scope (nested scopes restore the outer one).
class region_links_scope {
 public:
  explicit region_links_scope(region_links links) noexcept : saved_(current_region_links) {
    current_region_links = links;
  }
  ~region_links_scope() { current_region_links = saved_; }
  region_links_scope(const region_links_scope&) = delete;
  region_links_scope& operator=(const region_links_scope&) = delete;

 private:
  region_links saved_;
};

}  // namespace cfutures::detail
