// libFuzzer target for the worker message decoder: bytes from the other process are cut into
// frames by wire::frame_reader — the reader every transport uses (the process pool's channel
// feeds it from its shared ring), shm wrapper frames included — and their payloads are
// decoded as hellos, calls, replies and exceptions, exactly as the parent and the workers
// decode them, and replies' results as containers (whose counts must be bounded by the
// bytes present). Malformed,
// truncated, oversized and lying frames must end in protocol_error (or another cfutures
// error) — never a crash, a hang, or an allocation beyond what the input holds.
//
// Input layout: byte 0 picks the piece size (1..256) in which the rest is fed to the
// decoder, so that frames split across reads are exercised too.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "cfutures/detail/remote_call.hpp"
#include "cfutures/errors.hpp"
#include "remote/protocol.hpp"

namespace wire = cfutures::detail::wire;

namespace {

// Stands in for the memfds that travel with a frame: a shared block of at most 64 KiB of
// zeros; a longer length is refused as the real source refuses a block smaller than it.
class fake_attachments final : public wire::attachment_source {
 public:
  std::string_view next_attachment(std::uint64_t length) override {
    static const std::string block(64 * 1024, '\0');
    if (length > block.size()) throw cfutures::detail::protocol_error("attachment too long");
    return std::string_view(block).substr(0, static_cast<std::size_t>(length));
  }
  // MPI's items with borrowed runs: the bytes around them, then zeros for the runs.
  std::string_view assemble(std::string_view around, const std::vector<wire::run_ref>&,
                            std::uint64_t total) override {
    if (total > 64 * 1024) throw cfutures::detail::protocol_error("assembled item too long");
    assembled_.assign(around);
    assembled_.resize(static_cast<std::size_t>(total), '\0');
    return assembled_;
  }

 private:
  std::string assembled_;
};

void decode_payload(wire::kind kind, std::string_view payload, fake_attachments& attachments) {
  switch (kind) {
    case wire::kind::hello:
      (void)wire::decode_hello(payload);
      break;
    case wire::kind::call:
    case wire::kind::init:
      (void)wire::decode_call(payload, attachments);
      break;
    case wire::kind::reply: {
      const wire::reply_message reply = wire::decode_reply(payload, attachments);
      for (const auto& item : reply.items) {
        if (!item.ok) {
          (void)cfutures::detail::decode_exception(item.bytes);
          continue;
        }
        // A result's bytes, decoded as containers would be: every count they announce must
        // be bounded by the bytes present (direct_read.hpp).
        try {
          std::vector<int> numbers;
          cfutures::detail::read_values(item.bytes, numbers);
        } catch (const cfutures::error&) {
        }
        std::map<std::string, std::vector<double>> nested;
        cfutures::detail::read_values(item.bytes, nested);
      }
      break;
    }
    case wire::kind::init_failed:
      (void)cfutures::detail::decode_exception(payload);
      break;
    default:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t piece = static_cast<std::size_t>(data[0]) + 1;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  wire::frame_reader reader;
  try {
    for (std::size_t at = 0; at < input.size(); at += piece) {
      const std::string_view part = input.substr(at, piece);
      std::memcpy(reader.room(part.size()), part.data(), part.size());
      reader.commit(part.size());
      wire::frame_reader::cut frame;
      while (reader.next(frame)) {
        fake_attachments attachments;
        try {
          // A shm wrapper's body is its frame's first attachment, as in the channel.
          const std::string_view payload =
              frame.shm ? attachments.next_attachment(frame.shm_length) : frame.payload;
          decode_payload(frame.kind, payload, attachments);
        } catch (const cfutures::error&) {
          // A bad payload: the reader reports it and drops the connection.
        }
      }
    }
  } catch (const cfutures::error&) {
    // A bad header: the stream cannot be trusted any further.
  }
  return 0;
}
