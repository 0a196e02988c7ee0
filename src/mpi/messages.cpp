#include "messages.hpp"

#include <cstring>
#include <limits>

#include "mpi_environment.hpp"

namespace cfutures::detail::mpi_messages {

void seal_frame(std::string& frame, wire::kind kind) {
  const auto header = wire::encode_header(kind, frame.size() - wire::header_size);
  std::memcpy(frame.data(), header.data(), header.size());
}

wire::kind open_frame(std::string_view message, std::string_view& payload) {
  if (message.size() < wire::header_size) throw protocol_error("bad message: no frame header");
  const wire::header h = wire::decode_header(message.data());
  if (h.length != message.size() - wire::header_size) {
    throw protocol_error("bad message: frame length differs from the message's");
  }
  payload = message.substr(wire::header_size);
  return h.kind;
}

std::string_view no_attachments::next_attachment(std::uint64_t) {
  throw protocol_error("bad message: a shared-memory payload cannot cross MPI ranks");
}

char* receive_buffer::reserve(std::size_t size) {
  if (size > capacity_) {
    data_ = std::make_unique_for_overwrite<char[]>(size);
    capacity_ = size;
  }
  return data_.get();
}

std::string_view receive_matched(MPI_Message& message, const MPI_Status& status,
                                 receive_buffer& buffer) {
  int count = 0;
  MPI_Status copy = status;
  check_mpi(MPI_Get_count(&copy, MPI_BYTE, &count), "MPI_Get_count");
  char* data = buffer.reserve(static_cast<std::size_t>(count));
  check_mpi(MPI_Mrecv(data, count, MPI_BYTE, &message, MPI_STATUS_IGNORE), "MPI_Mrecv");
  return {data, static_cast<std::size_t>(count)};
}

void send_frame(const std::string& frame, int rank, MPI_Comm comm) {
  if (frame.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw protocol_error("message too large for MPI");
  }
  check_mpi(MPI_Send(frame.data(), static_cast<int>(frame.size()), MPI_BYTE, rank, tag_frame, comm),
            "MPI_Send");
}

}  // namespace cfutures::detail::mpi_messages
