// One end of a parent ↔ worker connection (a SOCK_STREAM socket): frames of protocol.hpp,
// buffered and batched so that many small messages cost one system call each way.
//
// Writing: put() appends a frame to an output buffer and flush() sends everything queued in
// one sendmsg (so a batch of calls, or of replies, is one write). A frame whose payload is
// larger than shm_threshold does not go through the socket: its bytes are copied once into a
// fresh memfd, and a small `shm` frame {u32 kind, u32 0, u64 length} carries the memfd across
// (SCM_RIGHTS) in place of the payload. The receiver maps it and reads the payload in place,
// so a large argument or result is copied once into shared memory and once out of it.
// A memfd belongs to nobody once both ends have closed it: a process that dies while holding
// one leaks nothing.
//
// Reading: receive() reads whatever the socket has into a buffer (spinning for a bounded
// window before blocking, when asked to); next() then hands out the complete frames one by
// one. A frame's payload is a view that stays valid until the following receive() or next().
// Every length is checked (protocol_error), as in protocol.hpp.
//
// Not thread-safe: one thread uses a channel at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <initializer_list>
#include <string>
#include <string_view>

#include "protocol.hpp"

namespace cfutures::detail::wire {

constexpr std::size_t shm_threshold = 64 << 10;

// A read-only shared mapping of a received memfd; unmapped on destruction.
class shared_bytes {
 public:
  shared_bytes() = default;
  shared_bytes(int fd, std::size_t length);  // maps (and closes) fd
  shared_bytes(shared_bytes&& other) noexcept;
  shared_bytes& operator=(shared_bytes&& other) noexcept;
  ~shared_bytes();
  std::string_view view() const noexcept { return {static_cast<const char*>(data_), length_}; }

 private:
  void* data_ = nullptr;
  std::size_t length_ = 0;
};

struct frame {
  wire::kind kind{};
  std::string_view payload;
  shared_bytes shared;  // holds the payload when it came through shared memory
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

  void put(kind k, std::initializer_list<std::string_view> parts);
  void put(kind k, const std::vector<std::string_view>& parts);
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
  bool read_some(int flags);
  void send_shared(kind k, const std::vector<std::string_view>& parts, std::size_t length);

  int fd_ = -1;
  std::string out_;
  std::chrono::steady_clock::time_point out_since_{};
  std::string in_;
  std::size_t in_begin_ = 0;
  std::size_t in_end_ = 0;
  std::deque<int> fds_;  // memfds received, in the order of their shm frames
};

}  // namespace cfutures::detail::wire
