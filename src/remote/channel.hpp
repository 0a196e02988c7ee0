// One end of a parent ↔ worker connection (a SOCK_STREAM socket): frames of protocol.hpp,
// buffered and batched so that many small messages cost one system call each way.
//
// Writing: put() appends a frame to an output buffer and flush() sends everything queued in
// one sendmsg (so a batch of calls, or of replies, is one write), with the memfds of the
// frames' shared-memory items (payload.hpp) as SCM_RIGHTS: the blocks are given away, the
// bytes in them are not copied. A frame whose own body is larger than shm_threshold (many
// medium items) is copied into a pooled block and replaced by a small `shm` frame
// {u32 kind, u32 0, u64 length} whose memfd precedes the frame's own attachments.
//
// Reading: receive() reads whatever the socket has into a buffer (spinning for a bounded
// window before blocking, when asked to); next() then hands out the complete frames one by
// one. A frame's payload and its attachments (mapped on demand, in order) stay valid until
// the following receive() or next(); then their blocks join this process's pool. A memfd
// belongs to nobody once both ends have closed it: a process that dies while holding one
// leaks nothing. Every length is checked (protocol_error), as in protocol.hpp.
//
// Not thread-safe: one thread uses a channel at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "cfutures/detail/payload.hpp"
#include "protocol.hpp"

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
  // `bytes` (an item of this frame) as a value to decode: consumed() returns its block, when
  // it is an attachment, to this process's pool at once.
  encoded_input input(std::string_view bytes) noexcept { return {bytes, &give_back, this}; }

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
  explicit channel(int fd) : fd_(fd) {}
  channel(const channel&) = delete;
  channel& operator=(const channel&) = delete;
  channel(channel&& other) noexcept;
  channel& operator=(channel&& other) noexcept;
  ~channel();

  int fd() const noexcept { return fd_; }
  // Closes the socket and any received memfd not yet handed out.
  void close() noexcept;
  // In a forked child: closes the inherited descriptors without touching the heap.
  void close_inherited() noexcept;

  // Queues a frame; `attachments` (blocks of its shared items, in order) are given away.
  void put(kind k, std::initializer_list<std::string_view> parts,
           std::vector<shared_block> attachments = {});
  bool has_output() const noexcept { return !out_.empty(); }
  // When the oldest frame still waiting in the output buffer was queued.
  std::chrono::steady_clock::time_point output_since() const noexcept { return out_since_; }
  // Sends everything queued; throws error if the peer is gone.
  void flush();

  // Reads what the socket holds. With block, waits for data: first spinning up to `spin`,
  // then sleeping in recvmsg. Returns false at end of stream (or when the peer reset it).
  bool receive(bool block, std::chrono::nanoseconds spin = {});
  // The next complete frame already received; false if there is none.
  bool next(frame& f);

 private:
  friend class frame;
  bool read_some(int flags);
  int take_fd();
  void send(std::vector<shared_block>& blocks);

  int fd_ = -1;
  std::string out_;
  std::vector<shared_block> out_blocks_;  // to send with out_
  std::chrono::steady_clock::time_point out_since_{};
  std::string in_;
  std::size_t in_begin_ = 0;
  std::size_t in_end_ = 0;
  std::deque<int> fds_;  // memfds received, in the order of the frames that use them
};

}  // namespace cfutures::detail::wire
