// Internal: the byte stream between a process pool and one of its workers, in shared memory.
//
// Why: a call's round trip through the socket alone was two sendmsg and two recvmsg
// (~1.7 µs a pair on the project's 2-vCPU VM) plus a failed recvmsg per polling round on each
// side, ~4.5 µs of a 6 µs round trip. Through memory, a frame costs a memcpy and two atomic
// stores, and a polling round is one atomic load.
//
// One memfd, mapped by both processes, holds two single-producer single-consumer byte rings:
// parent → worker and worker → parent. A shared_ring is one process's end of them: it writes
// one ring and reads the other.
//
//   page 0: control of parent → worker | control of worker → parent
//   page 1: the worker's status (worker_status.hpp: the call it runs, its crash record)
//   then:   data of parent → worker (capacity bytes) | data of worker → parent
//
// Each direction's control, in cache lines of their own:
//   tail           bytes written so far (the writer's; release, so the bytes come first)
//   head           bytes read so far (the reader's)
//   reader_sleeps  the reader is about to block: the next writer wakes it (channel.hpp says
//                  how: a byte on the socket, or the pool manager's eventfd)
//   writer_sleeps  the writer waits for room, in a futex on this word (shared between the
//                  processes): the next reader to consume wakes it
//   signals        bytes sent on the socket to this direction's reader (wake-ups, memfds)
//
// The socket stays: it carries the memfds of shared-memory payloads (SCM_RIGHTS), one-byte
// wake-ups for a sleeping worker, and end of stream when a process dies. The sleeping flags
// and the positions are Dekker pairs (seq_cst): a reader stores reader_sleeps then loads
// tail; a writer stores tail then exchanges reader_sleeps — so either the reader sees the
// bytes, or the writer sees it asleep and wakes it (and writer_sleeps with head, the same).
//
// Not thread-safe: one thread uses an end at a time (channel.hpp).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace cfutures::detail::wire {

class shared_ring {
 public:
  static constexpr std::size_t capacity = 256 << 10;
  static constexpr std::size_t control_page = 4096;  // the two controls, before the data
  static constexpr std::size_t status_page = 4096;   // then the worker's status

  struct control {
    alignas(64) std::atomic<std::uint64_t> tail{0};
    alignas(64) std::atomic<std::uint64_t> head{0};
    alignas(64) std::atomic<std::uint32_t> reader_sleeps{0};
    std::atomic<std::uint32_t> writer_sleeps{0};
    std::atomic<std::uint64_t> signals{0};
  };

  shared_ring() = default;
  // The parent's end of a new pair: `memfd` receives the descriptor to give the worker.
  static shared_ring create(int& memfd);
  // The worker's end, from the descriptor the parent gave (closed here).
  static shared_ring attach(int memfd);
  shared_ring(shared_ring&& other) noexcept;
  shared_ring& operator=(shared_ring&& other) noexcept;
  shared_ring(const shared_ring&) = delete;
  shared_ring& operator=(const shared_ring&) = delete;
  ~shared_ring() { unmap(); }
  void unmap() noexcept;  // heap-free: also used in a forked child

  explicit operator bool() const noexcept { return base_ != nullptr; }
  // The status page (status_page bytes, zeroed at creation), shared by both ends.
  void* status_area() const noexcept { return base_ + control_page; }

  // Positions that the peer has made inconsistent (a wild write in its process) throw
  // protocol_error from write, writable, sleep_for_room and readable, never reach a memcpy.

  // Writing: copies what fits of `size` bytes and publishes them; returns how many.
  std::size_t write(const char* data, std::size_t size);
  bool writable() const;
  // After a write: whether the reader sleeps (it is woken once: the flag is cleared).
  bool reader_needs_wake() noexcept;
  // The ring is full: sleeps until the reader makes room or `limit` passes; returns whether
  // there is room.
  bool sleep_for_room(std::chrono::milliseconds limit);

  // Reading: whether bytes wait (a hint for pollers), the bytes ready to read, and reading
  // (consuming) `size` of them.
  bool has_bytes() const noexcept;
  std::size_t readable() const;
  // Consumes the bytes, and wakes the writer if it waits for room.
  void read(char* to, std::size_t size) noexcept;
  // Before blocking on the socket: marks the reader asleep; returns whether bytes arrived
  // since. awake() clears the mark.
  bool sleep_for_bytes() noexcept;
  void awake() noexcept;

  // Socket bytes: count those sent to the peer; compare those sent to this end with the
  // number it has read.
  void sent_signals(std::uint64_t n) noexcept;
  bool signals_pending(std::uint64_t read) const noexcept;

 private:
  shared_ring(char* base, bool parent) noexcept : base_(base), parent_(parent) {}
  // This end's two directions, derived from the layout above and which end it is.
  control& out() const noexcept;
  control& in() const noexcept;
  char* out_data() const noexcept;
  char* in_data() const noexcept;
  // tail - head of `c`, checked against the capacity.
  static std::size_t filled(const control& c);
  // Clears a sleep flag set by the peer; true if it was set (the caller wakes the sleeper).
  static bool take_sleeper(std::atomic<std::uint32_t>& flag) noexcept;

  char* base_ = nullptr;
  bool parent_ = false;
};

}  // namespace cfutures::detail::wire
