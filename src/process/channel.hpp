// One end of a parent ↔ worker connection of a process pool: frames of protocol.hpp, buffered
// and batched, through a shared-memory ring with a socket (SOCK_STREAM) beside it.
//
// Writing: put() appends a frame to an output buffer and flush() sends everything queued at
// once (so a batch of calls, or of replies, is one write), with the memfds of the frames'
// shared-memory items (payload.hpp) as SCM_RIGHTS: the blocks are given away, the bytes in
// them are not copied. A frame whose own body is larger than shm_threshold (many medium
// items) is copied into a pooled block and replaced by a small `shm` frame
// {u32 kind, u32 0, u64 length} whose memfd precedes the frame's own attachments.
//
// Reading: receive() reads whatever has arrived into a buffer (spinning for a bounded window
// before blocking, when asked to); next() then hands out the complete frames one by one. A
// frame's payload and its attachments (mapped on demand, in order) stay valid until the
// following receive() or next(); then their blocks join this process's pool. A memfd
// belongs to nobody once both ends have closed it: a process that dies while holding one
// leaks nothing. Every length is checked (protocol_error), as in protocol.hpp.
//
// The frames' bytes go through shared memory (shared_ring.hpp); the socket carries only what
// memory cannot:
//
//   flush:  memfds (1 byte + SCM_RIGHTS per message) ──socket──▶ fds_, in order
//           then the frames' bytes ─────────────────────ring────▶ in_ (receive: a memcpy)
//           then, if the reader sleeps, a wake-up:
//             to a worker (asleep reading its socket)    1 byte ──socket──▶
//             to the parent (its manager asleep in poll) 1 ──the manager's eventfd──▶
//   a full ring: the writer sleeps in a futex in the ring until the reader has read
//   end of stream: the socket closes when the process dies, as before
//
// The memfds are sent before the bytes that use them, and the socket is read before the
// ring, so a frame in the ring always finds its descriptors received or waiting. Polling
// for input is then a load from memory, not a system call; the socket is read only when
// bytes were sent on it (the ring counts them), when the reader sleeps, or when the caller's
// poll() says it is readable (receive_polled: the end of stream shows there).
// Why the parent is woken through its eventfd: several of its threads read a worker's
// channel in turn (the manager, and waiting threads: process_pool_core.hpp), but only the
// manager sleeps on it. A wake-up byte in the socket could be read by another thread just
// after it had looked at the ring, and the manager would sleep on with bytes in the ring.
//
// Not thread-safe: one thread uses a channel at a time — but input_waiting() reads only the
// shared ring's positions and may be called from any thread while the channel exists.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "cfutures/detail/payload.hpp"
#include "process/shared_ring.hpp"
#include "remote/protocol.hpp"

namespace cfutures::detail::wire {

constexpr std::size_t shm_threshold = 64 << 10;

class channel;

class frame final : public attachment_source {
 public:
  frame() = default;
  frame(const frame&) = delete;
  frame& operator=(const frame&) = delete;
  ~frame() { release(); }

  wire::kind kind{};
  std::string_view payload;

  std::string_view next_attachment(std::uint64_t length) override;
  // A shared_buffer's memfd, mapped (or this process's mapping of it).
  ref_ptr<shared_region> next_region(std::uint64_t size) override;
  ref_ptr<shared_region> held_region(std::uint64_t inode, std::uint64_t size) override;
  // `bytes` (an item of this frame) as a value to decode: consumed() returns its block, when
  // it is an attachment, to this process's pool at once.
  encoded_input input(std::string_view bytes) noexcept override {
    return {bytes, &give_back, this};
  }

 private:
  friend class channel;
  static void give_back(void* self, std::string_view bytes) noexcept;
  void release() noexcept;
  channel* from_ = nullptr;
  std::vector<shared_block> blocks_;  // the frame's own body (shm frames), then attachments
  bool body_in_block_ = false;
};

class channel {
 public:
  // An empty end, to be assigned one of the two below (nothing else may be called on it).
  channel() = default;
  // The parent's end with a new shared ring: sends the ring's memfd first on the socket,
  // with `wake_fd` (an eventfd the parent polls, and reads: see wake_reader).
  static channel parent_end(int fd, int wake_fd);
  // The worker's end: reads those two (blocking) and maps the ring.
  static channel worker_end(int fd);
  channel(const channel&) = delete;
  channel& operator=(const channel&) = delete;
  channel(channel&& other) noexcept;
  channel& operator=(channel&& other) noexcept;
  ~channel();

  int fd() const noexcept { return fd_; }
  // Closes the socket and any received memfd not yet handed out. The ring stays mapped until
  // the channel is destroyed: a thread about to poll may still look at it (input_waiting).
  void close() noexcept;
  // In a forked child: closes the inherited descriptors and mappings without touching the
  // heap.
  void close_inherited() noexcept;

  // Queues a frame; `attachments` (blocks of its shared items, in order) are given away.
  void put(kind k, std::initializer_list<std::string_view> parts,
           std::vector<shared_block> attachments = {});
  bool has_output() const noexcept { return !out_.empty(); }
  // When the oldest frame still waiting in the output buffer was queued.
  std::chrono::steady_clock::time_point output_since() const noexcept { return out_since_; }
  // Sends everything queued; throws error if the peer is gone (only when the socket is
  // needed, or the ring is full: the death of a peer shows as the end of its stream).
  void flush();

  // Reads what has arrived. With block, waits for data: first spinning up to `spin`, then
  // sleeping in recvmsg. Returns false at end of stream (or when the peer reset it); without
  // block, the end shows only where the socket was read (receive_polled).
  bool receive(bool block, std::chrono::nanoseconds spin = {});
  // receive(false) after poll() found the socket readable: reads the socket in any case.
  bool receive_polled();
  // Whether the ring holds bytes not yet received.
  bool input_waiting() const noexcept { return ring_.has_bytes(); }
  // The ring, for a thread about to poll() the socket (see shared_ring::sleep_for_bytes).
  shared_ring& ring() noexcept { return ring_; }
  // The next complete frame already received; false if there is none.
  bool next(frame& f);

 private:
  friend class frame;
  explicit channel(int fd) : fd_(fd) {}
  ssize_t receive_bytes(char* to, std::size_t size, int flags);
  bool read_signals(int flags);
  bool pull();
  bool wake_reader() noexcept;
  void wait_for_room();
  int take_fd();

  int fd_ = -1;
  shared_ring ring_;
  int wake_parent_fd_ = -1;         // in a worker: the parent's eventfd (wake_reader)
  std::uint64_t signals_read_ = 0;  // socket bytes read (shared_ring::signals)
  std::string out_;
  std::vector<shared_block> out_blocks_;  // their memfds go before out_
  std::chrono::steady_clock::time_point out_since_{};
  frame_reader in_;      // bytes received, cut into frames
  std::deque<int> fds_;  // memfds received, in the order of the frames that use them
};

}  // namespace cfutures::detail::wire
