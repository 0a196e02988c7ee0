// The MPI executor's messages. Each MPI message on the executor's own communicator (a
// duplicate of the user's) is either
//   tag_frame: one wire frame (../remote/protocol.hpp: 16-byte header + payload), sent
//              whole: call (root → rank), reply (rank → root), exit (root → rank); or
//   tag_wake:  an empty message from the root to itself, which wakes its manager thread
//              out of MPI_Mprobe when a submit arrives.
// Payloads are always inline: a memfd cannot cross to another machine, so frames built here
// never carry attachments, and one that refers to an attachment is a protocol_error.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "../remote/protocol.hpp"

namespace cfutures::detail::mpi_messages {

constexpr int tag_frame = 1;
constexpr int tag_wake = 2;

// A frame is built in one string: start_frame() reserves the header, the payload is appended
// with a wire::writer, and seal_frame() writes the header once the length is known.
inline std::string start_frame() { return std::string(wire::header_size, '\0'); }
void seal_frame(std::string& frame, wire::kind kind);
// The frame's kind and payload; protocol_error unless `message` is exactly one frame.
wire::kind open_frame(std::string_view message, std::string_view& payload);

class no_attachments final : public wire::attachment_source {
 public:
  std::string_view next_attachment(std::uint64_t) override;
};

// Memory for received messages that grows as needed and is never zero-filled.
class receive_buffer {
 public:
  char* reserve(std::size_t size);

 private:
  std::unique_ptr<char[]> data_;
  std::size_t capacity_ = 0;
};

// Receives the message matched by MPI_Mprobe/MPI_Improbe (status from the probe) into
// `buffer`; returns its bytes. Throws cfutures::error when MPI fails.
std::string_view receive_matched(MPI_Message& message, const MPI_Status& status,
                                 receive_buffer& buffer);

// Sends `frame` to `rank` with tag_frame; throws cfutures::error when MPI fails.
void send_frame(const std::string& frame, int rank, MPI_Comm comm);

}  // namespace cfutures::detail::mpi_messages
