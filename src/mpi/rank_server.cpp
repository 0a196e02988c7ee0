#include "rank_server.hpp"

#include <cstdio>
#include <exception>
#include <vector>

#include "mpi_environment.hpp"

namespace cfutures::detail {

void answer_call(std::string_view call_payload, wire::attachment_source& attachments,
                 bool attach_large, call_answer& answer) {
  const wire::call_message call = wire::decode_call(call_payload, attachments);
  {
    inline_payloads_scope no_shared_memory;  // results go back over MPI
    answer.outcomes = run_calls(call);
  }
  answer.reply = mpi_messages::outgoing_frame(attach_large);
  wire::writer out(answer.reply.bytes());
  out.u64(call.id);
  out.u32(static_cast<std::uint32_t>(answer.outcomes.size()));
  for (const call_outcome& o : answer.outcomes) {
    out.u8(o.ok ? 1 : 0);
    answer.reply.put_item(o.bytes.view());
  }
  answer.reply.seal(wire::kind::reply);
}

void serve_rank(MPI_Comm comm, int root) noexcept {
  mpi_messages::receive_buffer buffer;
  mpi_messages::incoming_attachments attachments;
  call_answer answer;
  try {
    for (;;) {
      MPI_Message message;
      MPI_Status status;
      check_mpi(MPI_Mprobe(root, mpi_messages::tag_frame, comm, &message, &status), "MPI_Mprobe");
      std::string_view payload;
      const std::string_view bytes = mpi_messages::receive_matched(message, status, buffer);
      switch (mpi_messages::open_frame(bytes, payload)) {
        case wire::kind::call:
          attachments.expect_from(comm, root);
          answer_call(payload, attachments, true, answer);
          answer.reply.send(root, comm);
          break;
        case wire::kind::exit:
          return;
        default:
          throw protocol_error("unexpected message on a serving rank");
      }
    }
  } catch (const std::exception& e) {
    int rank = -1;
    MPI_Comm_rank(comm, &rank);
    std::fprintf(stderr, "cfutures::mpi::comm_executor, rank %d: %s; aborting the job\n", rank,
                 e.what());
    std::fflush(stderr);
    MPI_Abort(comm, 2);
  }
}

}  // namespace cfutures::detail
