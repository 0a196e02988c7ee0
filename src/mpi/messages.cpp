#include "mpi/messages.hpp"

#include <sys/mman.h>

#include <cstring>
#include <limits>
#include <stdexcept>

#include "cfutures/detail/huge_pages.hpp"
#include "mpi/mpi_environment.hpp"

namespace cfutures::detail::mpi_messages {
namespace {

// MPI counts a message's bytes in an int.
void check_one_message(std::size_t bytes, const char* what) {
  if (bytes > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw protocol_error(std::string(what) + " too large for one MPI message");
  }
}

}  // namespace

outgoing_frame::outgoing_frame(bool attach_large)
    : bytes_(wire::header_size, '\0'), attach_large_(attach_large) {}

void outgoing_frame::put(wire::writer& out, detail::payload& value) {
  wire::put_regions(out, value);
  for (const auto& r : value.regions()) {
    check_one_message(r->size(), "shared_buffer");
    regions_.push_back(r);
    if (attach_large_) attachments_.emplace_back(r->data(), r->size());
  }
  const std::string_view item = value.view();
  const std::vector<borrowed_run>& runs = value.borrowed();
  if (!attach_large_ && !runs.empty()) {  // run_calls borrows only for a rank's link
    throw std::logic_error("cfutures: borrowed runs in a frame that stays in this process");
  }
  if (!runs.empty()) {
    out.u32(wire::assembled_item);
    out.u32(static_cast<std::uint32_t>(runs.size()));
    for (const borrowed_run& run : runs) {
      check_one_message(run.size, "value");
      out.u64(run.at);
      out.u64(run.size);
    }
  }
  if (!attach_large_ || item.size() <= attach_above) {
    out.bytes(item);
  } else {
    check_one_message(item.size(), "value");
    out.u32(wire::attached_item);
    out.u64(item.size());
    attachments_.push_back(item);
    keep_large_buffers_in_heap();
  }
  for (const borrowed_run& run : runs) attachments_.emplace_back(run.data, run.size);
}

void outgoing_frame::seal(wire::kind kind) {
  const auto header = wire::encode_header(kind, bytes_.size() - wire::header_size);
  std::memcpy(bytes_.data(), header.data(), header.size());
}

std::string_view outgoing_frame::payload() const noexcept {
  return std::string_view(bytes_).substr(wire::header_size);
}

void outgoing_frame::send(int rank, MPI_Comm comm) const {
  check_one_message(bytes_.size(), "message");
  check_mpi(
      MPI_Send(bytes_.data(), static_cast<int>(bytes_.size()), MPI_BYTE, rank, tag_frame, comm),
      "MPI_Send");
  for (const std::string_view a : attachments_) {
    check_mpi(MPI_Send(a.data(), static_cast<int>(a.size()), MPI_BYTE, rank, tag_attachment, comm),
              "MPI_Send");
  }
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

void incoming_attachments::expect_from(MPI_Comm comm, int source) noexcept {
  comm_ = comm;
  source_ = source;
  local_ = nullptr;
  next_ = 0;
}

void incoming_attachments::expect_local(const region_list& regions) noexcept {
  comm_ = MPI_COMM_NULL;
  local_ = &regions;
  next_region_ = 0;
  next_ = 0;
}

ref_ptr<shared_region> incoming_attachments::next_region(std::uint64_t size) {
  if (comm_ == MPI_COMM_NULL) {
    if (!local_ || next_region_ >= local_->size() || (*local_)[next_region_]->size() != size) {
      throw protocol_error("bad message: a shared buffer this frame does not hold");
    }
    return (*local_)[next_region_++];
  }
  if (size == 0 || size > static_cast<std::uint64_t>(std::numeric_limits<int>::max())) {
    throw protocol_error("bad message: shared buffer size out of range");
  }
  ref_ptr<shared_region> region = shared_region::create(static_cast<std::size_t>(size));
  // MPI writes every byte: its pages are allocated in one call rather than faulted in one
  // by one (a 16 MiB memfd: 52 ms by faults, 27-30 ms populated, on the benchmark VM).
  ::madvise(region->data(), static_cast<std::size_t>(size), MADV_POPULATE_WRITE);
  receive_exactly(region->data(), size);
  return region;
}

std::string_view incoming_attachments::assemble(std::string_view around,
                                               const std::vector<wire::run_ref>& runs,
                                               std::uint64_t total) {
  if (comm_ == MPI_COMM_NULL) throw protocol_error("bad message: borrowed runs in a local frame");
  if (total > static_cast<std::uint64_t>(std::numeric_limits<std::size_t>::max() / 2)) {
    throw protocol_error("bad message: assembled item too large");
  }
  if (next_ == buffers_.size()) buffers_.emplace_back();
  char* const data = buffers_[next_++].reserve(static_cast<std::size_t>(total));
  char* to = data;
  std::size_t from = 0;
  for (const wire::run_ref& run : runs) {
    const std::size_t before = static_cast<std::size_t>(run.at) - from;
    std::memcpy(to, around.data() + from, before);
    to += before;
    from = static_cast<std::size_t>(run.at);
    receive_exactly(to, run.size);
    to += run.size;
  }
  std::memcpy(to, around.data() + from, around.size() - from);
  return {data, static_cast<std::size_t>(total)};
}

void incoming_attachments::receive_exactly(char* into, std::uint64_t length) {
  if (length > static_cast<std::uint64_t>(std::numeric_limits<int>::max())) {
    throw protocol_error("bad message: attachment too large for MPI");
  }
  MPI_Status status;
  check_mpi(
      MPI_Recv(into, static_cast<int>(length), MPI_BYTE, source_, tag_attachment, comm_, &status),
      "MPI_Recv");
  int count = 0;
  MPI_Get_count(&status, MPI_BYTE, &count);
  if (static_cast<std::uint64_t>(count) != length) {
    throw protocol_error("bad message: attachment length differs from its frame's");
  }
}

std::string_view incoming_attachments::next_attachment(std::uint64_t length) {
  if (comm_ == MPI_COMM_NULL) throw protocol_error("bad message: an attachment in a local frame");
  if (next_ == buffers_.size()) buffers_.emplace_back();
  char* data = buffers_[next_++].reserve(static_cast<std::size_t>(length));
  receive_exactly(data, length);
  return {data, static_cast<std::size_t>(length)};
}

char* receive_buffer::reserve(std::size_t size) {
  if (size > capacity_) {
    // What is received large is decoded into large values, freed and made again each call.
    if (size >= huge_page) keep_large_buffers_in_heap();
    data_ = std::make_unique_for_overwrite<char[]>(size);
    capacity_ = size;
    advise_huge_pages(data_.get(), size);
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

}  // namespace cfutures::detail::mpi_messages
