// Internal: the bytes of an encoded value (a call's arguments, a result), kept so that a
// large one can cross to another process without being copied again.
//
// A payload holds its bytes in a std::string while they are at most inline_limit. Past that
// it asks its block_store — the transport's policy for large values — to move them into a
// shared_block (a memfd mapped read-write), and encoding continues there. Sending a shared
// payload sends the memfd itself: the receiver maps the same pages and decodes from them.
// A payload without a store (the MPI transport: a memfd cannot cross to another machine)
// stays in memory at any size. The process pool's store, with its pool of recycled blocks,
// is src/process/shm_blocks.hpp.
//
// A payload also holds the shared_buffers' memory its value names (regions(): filled while
// the value is encoded, shared_region.hpp), which a transport carries beside the bytes: the
// process pool as memfds, MPI as messages of their bytes.
//
// A borrowing payload (MPI's results: payload::borrowing()) can take a large run of bytes by
// reference (borrow()) instead of copying it: remote_call.hpp does that for a result that is
// a large string or arithmetic vector, which it moves into the payload's keeping (keep()),
// and the transport sends the run from the value's own memory. view() is then the bytes
// around the runs only:
//
//   the value's encoding:  [ head | run (16 MiB, the value's own memory) | tail ]
//   view():                [ head | tail ]       borrowed(): {at = head's size, run}
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cfutures/detail/huge_pages.hpp"
#include "cfutures/detail/ref_ptr.hpp"
#include "cfutures/detail/shared_region.hpp"

namespace cfutures::detail {

using region_list = std::vector<ref_ptr<shared_region>>;

struct shared_block {
  int fd = -1;
  char* data = nullptr;
  std::size_t mapped = 0;    // bytes mapped at data
  std::size_t capacity = 0;  // size of the memfd
  std::uint64_t inode = 0;   // identifies the memfd across processes
  // Set for a shared_buffer's memory being sent: fd is the region's, borrowed (kept open by
  // this reference until the block is dropped), and nothing else is set.
  ref_ptr<shared_region> region;
};

// Where a payload keeps its bytes once past payload::inline_limit: a transport that can
// carry memory between processes provides one (the process pool's memfd blocks).
class block_store {
 public:
  // Appends n bytes at p to a payload: the first time (block.fd < 0), moves `small` and
  // them into a new block; later, grows `block` as needed. `used` counts the block's bytes.
  virtual void append(shared_block& block, std::size_t& used, std::string& small, const char* p,
                      std::size_t n) = 0;
  // Takes back a block the payload no longer needs; leaves it empty.
  virtual void recycle(shared_block& block) noexcept = 0;

 protected:
  ~block_store() = default;
};

// The bytes of a received value, and where they go once decoded: consumed() hands a shared
// block back to this process's pool at once (nothing else reads the bytes after). Without a
// give_back (bytes in a frame's own buffer, or an MPI message) consumed() does nothing.
struct encoded_input {
  std::string_view bytes;
  void (*give_back)(void* owner, std::string_view bytes) noexcept = nullptr;
  void* owner = nullptr;
  const region_list* regions = nullptr;  // the shared_buffers' memory received with them

  void consumed() const noexcept {
    if (give_back) give_back(owner, bytes);
  }
};

// A run of bytes a borrowing payload sends from the value's memory: it goes `at` bytes into
// the payload's own bytes (view()), before what was appended after it.
struct borrowed_run {
  std::size_t at = 0;
  const char* data = nullptr;
  std::size_t size = 0;
};

// What only some payloads need — a shared block (large), shared_buffers' memory, borrowed
// runs — out of line: every call's arguments and result are a payload, and a payload's size
// is memory touched per call (bench/README.md, "Per-call memory, and what MPI costs"). A
// small payload is its store and its bytes (48 bytes).
struct payload_extra {
  shared_block block;
  std::size_t used = 0;  // bytes of block in use
  region_list regions;
  bool borrowing = false;
  std::vector<borrowed_run> runs;
  std::shared_ptr<const void> owner;  // what the runs point into
};

class payload {
 public:
  static constexpr std::size_t inline_limit = 64 << 10;
  static constexpr std::size_t borrow_above = 64 << 10;  // smaller runs are copied

  // A payload that stays in memory at any size.
  payload() = default;
  // A payload that moves into `store`'s blocks once past inline_limit (null: stays in memory).
  explicit payload(block_store* store) noexcept : store_(store) {}
  // A payload in memory that may borrow runs (see above).
  static payload borrowing() {
    payload p;
    p.extra().borrowing = true;
    return p;
  }
  payload(const payload& other) : store_(other.store_) {
    if (other.extra_) {
      payload_extra& e = extra();
      e.regions = other.extra_->regions;
      e.borrowing = other.extra_->borrowing;
      e.runs = other.extra_->runs;
      e.owner = other.extra_->owner;
    }
    append(other.view().data(), other.size());
  }
  payload(payload&& other) noexcept
      : store_(other.store_), small_(std::move(other.small_)), extra_(std::move(other.extra_)) {}
  payload& operator=(payload other) noexcept {
    swap(other);
    return *this;
  }
  ~payload() {
    if (shared()) store_->recycle(extra_->block);
  }

  void swap(payload& other) noexcept {
    std::swap(store_, other.store_);
    small_.swap(other.small_);
    extra_.swap(other.extra_);
  }

  bool shared() const noexcept { return extra_ && extra_->block.fd >= 0; }
  std::size_t size() const noexcept { return shared() ? extra_->used : small_.size(); }
  std::string_view view() const noexcept {
    return shared() ? std::string_view(extra_->block.data, extra_->used)
                    : std::string_view(small_);
  }
  void append(const char* p, std::size_t n) {
    if (!shared() && (small_.size() + n <= inline_limit || store_ == nullptr)) {
      if (small_.size() + n > small_.capacity() && small_.size() + n >= huge_page) grow(n);
      small_.append(p, n);
    } else {
      payload_extra& e = extra();
      store_->append(e.block, e.used, small_, p, n);
    }
  }
  void push_back(char c) { append(&c, 1); }
  // The shared_buffers' memory the value names, in the order its bytes index them.
  const region_list& regions() const noexcept { return extra_ ? extra_->regions : no_regions(); }
  // The list shared_buffer::save adds to while a value is encoded here (region_links).
  static region_list& regions_to_add(void* self) { return static_cast<payload*>(self)->extra().regions; }
  bool borrows() const noexcept { return extra_ && extra_->borrowing; }
  // A borrowing payload: n bytes at p go here by reference (p must outlive the payload:
  // keep() what holds them).
  void borrow(const char* p, std::size_t n) { extra_->runs.push_back({small_.size(), p, n}); }
  // The runs sent from the value's memory, in order (none unless borrowing).
  const std::vector<borrowed_run>& borrowed() const noexcept {
    static const std::vector<borrowed_run> none;
    return extra_ ? extra_->runs : none;
  }
  // A borrowing payload: keeps `owner` (what the runs point into) alive as long as itself.
  void keep(std::shared_ptr<const void> owner) noexcept { extra_->owner = std::move(owner); }
  // Gives the block away (to be sent); the payload is then empty.
  shared_block release_block() noexcept {
    shared_block b = extra_->block;
    extra_->block = {};
    extra_->used = 0;
    return b;
  }

 private:
  static const region_list& no_regions() noexcept {
    static const region_list none;
    return none;
  }
  payload_extra& extra() {
    if (!extra_) extra_ = std::make_unique<payload_extra>();
    return *extra_;
  }
  // Moves the bytes held in memory to a buffer twice as large, in huge pages (a payload that
  // stays in memory past 2 MiB: MPI's).
  void grow(std::size_t n) {
    std::string larger;
    larger.reserve(std::max(2 * small_.capacity(), small_.size() + n));
    advise_huge_pages(larger.data(), larger.capacity());
    larger.assign(small_);
    small_.swap(larger);
  }

  block_store* store_ = nullptr;
  std::string small_;
  std::unique_ptr<payload_extra> extra_;
};

}  // namespace cfutures::detail
