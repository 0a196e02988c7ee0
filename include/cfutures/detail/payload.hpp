// Internal: the bytes of an encoded value (a call's arguments, a result), kept so that a
// large one crosses to another process without being copied again.
//
// A payload holds its bytes in a std::string while they are at most inline_limit (or at any
// size inside an inline_payloads_scope); past that
// it moves them into a shared_block — a memfd mapped read-write — and encoding continues
// there. Sending a shared payload sends the memfd itself (SCM_RIGHTS): the receiver maps the
// same pages and decodes from them, so a large value is copied once into shared memory by
// the encoder and once out of it by the decoder. The copy in, from 4 MiB, is shared with
// the process's copy helper thread (src/remote/copy_helper.hpp).
//
// Blocks are recycled: a block belongs to one process at a time; sending it gives it away,
// and receiving one adopts it into the receiver's pool once its payload has been read, where
// the next large payload of that process reuses it (already mapped, pages already there: no
// page faults, no zeroing). A process keeps at most a few free blocks.
//
// A received value's bytes go back as soon as they are decoded (encoded_input::consumed):
// a worker's arguments before its function runs, so that its result is encoded into the very
// block that brought them; a reply before the future completes, so that the caller's next
// arguments reuse that block. A large echo thus ping-pongs one block between two processes
// that both keep it mapped. The first large payload of a process also asks glibc's malloc to
// keep buffers of up to 32 MiB in its heap (keep_large_buffers_in_heap): the values decoded
// from payloads then reuse warm memory instead of fresh pages that fault again every call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace cfutures::detail {

struct shared_block {
  int fd = -1;
  char* data = nullptr;
  std::size_t mapped = 0;    // bytes mapped at data
  std::size_t capacity = 0;  // size of the memfd
  std::uint64_t inode = 0;   // identifies the memfd across processes
};

// A block of at least `capacity` bytes, all mapped: from this process's pool or new (then
// with its first `populate` bytes faulted in at once, ready to be written).
shared_block acquire_block(std::size_t capacity, std::size_t populate = 0);
// Grows `block` to at least `capacity` bytes, keeping its contents.
void grow_block(shared_block& block, std::size_t capacity);
// Returns `block` to this process's pool (or frees it); leaves it empty.
void recycle_block(shared_block& block) noexcept;
// Closes `block` without pooling it (after sending it away); leaves it empty. Its mapping is
// remembered for a while (by inode): blocks tend to come back (a result in the block that
// carried the arguments), and mapping them again would cost a page-table walk each time.
void drop_block(shared_block& block) noexcept;
// Maps a received memfd (whole, unless too large to pool), with its first `length` bytes
// faulted in (protocol_error if it is smaller). Takes ownership of fd.
shared_block adopt_block(int fd, std::size_t length);
// Frees every pooled block and remembered mapping (a process pool's destructor calls it, so
// that no descriptor or shared memory outlives the pools that used them).
void release_block_pool() noexcept;
// In a forked child: forgets (unmaps and closes) the pool inherited from the parent, whose
// blocks the parent still owns.
void forget_inherited_blocks() noexcept;

// glibc only (elsewhere nothing): allocations of up to 32 MiB come from the heap and up to
// 64 MiB of freed heap is kept (M_MMAP_THRESHOLD, M_TRIM_THRESHOLD), unless the user set
// either through the environment. Once per process; called with the first large payload.
void keep_large_buffers_in_heap() noexcept;

// The bytes of a received value, and where they go once decoded: consumed() hands a shared
// block back to this process's pool at once (nothing else reads the bytes after). Without a
// give_back (bytes in a frame's own buffer, or an MPI message) consumed() does nothing.
struct encoded_input {
  std::string_view bytes;
  void (*give_back)(void* owner, std::string_view bytes) noexcept = nullptr;
  void* owner = nullptr;

  void consumed() const noexcept {
    if (give_back) give_back(owner, bytes);
  }
};

// Whether payloads encoded in this thread stay in memory at any size (inside an
// inline_payloads_scope): for transports that cannot carry a memfd, such as MPI.
bool payloads_stay_inline() noexcept;

class inline_payloads_scope {
 public:
  inline_payloads_scope() noexcept;
  ~inline_payloads_scope();
  inline_payloads_scope(const inline_payloads_scope&) = delete;
  inline_payloads_scope& operator=(const inline_payloads_scope&) = delete;

 private:
  bool previous_;
};

class payload {
 public:
  static constexpr std::size_t inline_limit = 64 << 10;

  payload() = default;
  payload(const payload& other) { append(other.view().data(), other.size()); }
  payload(payload&& other) noexcept
      : small_(std::move(other.small_)), block_(other.block_), used_(other.used_) {
    other.block_ = {};
    other.used_ = 0;
  }
  payload& operator=(payload other) noexcept {
    swap(other);
    return *this;
  }
  ~payload() { recycle_block(block_); }

  void swap(payload& other) noexcept {
    small_.swap(other.small_);
    std::swap(block_, other.block_);
    std::swap(used_, other.used_);
  }

  bool shared() const noexcept { return block_.fd >= 0; }
  std::size_t size() const noexcept { return shared() ? used_ : small_.size(); }
  std::string_view view() const noexcept {
    return shared() ? std::string_view(block_.data, used_) : std::string_view(small_);
  }
  void append(const char* p, std::size_t n) {
    if (!shared() && (small_.size() + n <= inline_limit || payloads_stay_inline())) {
      small_.append(p, n);
    } else {
      append_shared(p, n);
    }
  }
  void push_back(char c) { append(&c, 1); }
  // Gives the block away (to be sent); the payload is then empty.
  shared_block release_block() noexcept {
    shared_block b = block_;
    block_ = {};
    used_ = 0;
    return b;
  }

 private:
  void append_shared(const char* p, std::size_t n);

  std::string small_;
  shared_block block_;
  std::size_t used_ = 0;  // bytes of block_ in use
};

}  // namespace cfutures::detail
