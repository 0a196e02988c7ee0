// The process pool's payload store: shared blocks (memfds mapped read-write) and this
// process's pool of them, behind detail::block_store (payload.hpp).
//
// Blocks are recycled: a block belongs to one process at a time; sending it gives it away,
// and receiving one adopts it into the receiver's pool once its payload has been read, where
// the next large payload of that process reuses it (already mapped, pages already there: no
// page faults, no zeroing). A process keeps at most a few free blocks. A memfd belongs to
// nobody once every process has closed it: a process that dies holding one leaks nothing.
//
// A received value's bytes go back as soon as they are decoded (encoded_input::consumed):
// a worker's arguments before its function runs, so that its result is encoded into the very
// block that brought them; a reply before the future completes, so that the caller's next
// arguments reuse that block. A large echo thus ping-pongs one block between two processes
// that both keep it mapped. The first large payload of a process also asks glibc's malloc to
// keep buffers of up to 32 MiB in its heap (keep_large_buffers_in_heap, huge_pages.hpp): the
// values decoded from payloads then reuse warm memory instead of fresh pages that fault again
// every call.
// The copy into a block, from 4 MiB, is shared with the process's copy helper thread
// (copy_helper.hpp).
#pragma once

#include <cstddef>

#include "cfutures/detail/payload.hpp"

namespace cfutures::detail {

// The store of this process: what process-pool payloads grow into.
block_store* shm_store() noexcept;

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

}  // namespace cfutures::detail
