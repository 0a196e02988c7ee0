// The MPI executor's messages. Each MPI message on the executor's own communicator (a
// duplicate of the user's) is one of
//   tag_frame:      one wire frame (../remote/protocol.hpp: 16-byte header + payload):
//                   call (root → rank), reply (rank → root), exit (root → rank);
//   tag_attachment: the bytes of a large item (over 64 KiB: an argument tuple or a result)
//                   of the frame just sent by the same rank, in the order the frame names
//                   them (the protocol's attached items, which a process pool sends as
//                   memfds); they go straight from and into their own buffers, so a large
//                   value is not copied into the frame, and MPI moves it with one copy
//                   between ranks of one machine (Open MPI's CMA); the memory of a
//                   shared_buffer is one such message, sent from the buffer and received
//                   into a new shared_buffer of the receiving rank; a rank's large string
//                   or vector result is one such message sent from the value itself (a
//                   borrowed run, payload.hpp), put back in place in the receive buffer;
// A memfd cannot cross to another machine: payloads are encoded in memory (the MPI
// transport gives the remote core no block_store), never in shared memory.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "remote/protocol.hpp"

namespace cfutures::detail::mpi_messages {

constexpr int tag_frame = 1;
constexpr int tag_attachment = 3;
constexpr std::size_t attach_above = 64 << 10;

// A frame to send: its bytes (the header is written by seal()), and the large items it
// refers to, which follow it as tag_attachment messages sent from where they are.
class outgoing_frame final : public wire::item_sink {
 public:
  // attach_large false: every item inline (a frame that never leaves this process).
  explicit outgoing_frame(bool attach_large = true);
  std::string& bytes() noexcept { return bytes_; }
  // An item of the body being written through `w`: inline, or (large) an attachment sent
  // from `item`'s own bytes, and its borrowed runs from theirs; `item` must live until
  // send().
  void put(wire::writer& w, detail::payload& item) override;
  void seal(wire::kind kind);
  // Sends the frame and its attachments to `rank`; throws cfutures::error when MPI fails.
  void send(int rank, MPI_Comm comm) const;
  // The frame's payload (after the header), for a frame answered in this process.
  std::string_view payload() const noexcept;
  // The shared_buffers' memory its items name (kept alive until the frame is gone).
  const region_list& regions() const noexcept { return regions_; }

 private:
  std::string bytes_;
  std::vector<std::string_view> attachments_;
  region_list regions_;
  bool attach_large_;
};

// The frame's kind and payload; protocol_error unless `message` is exactly one frame.
wire::kind open_frame(std::string_view message, std::string_view& payload);

// Memory for received messages that grows as needed and is never zero-filled.
class receive_buffer {
 public:
  char* reserve(std::size_t size);

 private:
  std::unique_ptr<char[]> data_;
  std::size_t capacity_ = 0;
};

// The attachments of a frame received from `source`, received as the frame's decoder asks
// for them. Without expect_from (a frame built in this process), none may be asked for.
class incoming_attachments final : public wire::attachment_source {
 public:
  void expect_from(MPI_Comm comm, int source) noexcept;
  // A frame built in this process: its shared_buffers' memory is `regions` itself.
  void expect_local(const region_list& regions) noexcept;
  std::string_view next_attachment(std::uint64_t length) override;
  std::string_view assemble(std::string_view around, const std::vector<wire::run_ref>& runs,
                            std::uint64_t total) override;
  // The next shared_buffer's memory: received into a new region (or, in a local frame, the
  // sender's own).
  ref_ptr<shared_region> next_region(std::uint64_t size) override;

 private:
  // Receives the next attachment into `into`; protocol_error unless it is `length` bytes.
  void receive_exactly(char* into, std::uint64_t length);

  MPI_Comm comm_ = MPI_COMM_NULL;
  int source_ = -1;
  const region_list* local_ = nullptr;
  std::size_t next_region_ = 0;
  std::size_t next_ = 0;
  std::vector<receive_buffer> buffers_;  // reused from frame to frame
};

// Receives the message matched by MPI_Mprobe/MPI_Improbe (status from the probe) into
// `buffer`; returns its bytes. Throws cfutures::error when MPI fails.
std::string_view receive_matched(MPI_Message& message, const MPI_Status& status,
                                 receive_buffer& buffer);

}  // namespace cfutures::detail::mpi_messages
