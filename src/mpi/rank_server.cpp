#include "rank_server.hpp"

#include <cstdio>
#include <exception>
#include <vector>

#include "../remote/worker.hpp"
#include "messages.hpp"
#include "mpi_environment.hpp"

namespace cfutures::detail {

std::string answer_call(std::string_view call_payload) {
  mpi_messages::no_attachments none;
  const wire::call_message call = wire::decode_call(call_payload, none);
  std::vector<call_outcome> outcomes;
  {
    inline_payloads_scope no_shared_memory;  // results go back in the MPI message itself
    outcomes = run_calls(call);
  }
  std::string reply = mpi_messages::start_frame();
  wire::writer out(reply);
  out.u64(call.id);
  out.u32(static_cast<std::uint32_t>(outcomes.size()));
  for (const call_outcome& o : outcomes) {
    out.u8(o.ok ? 1 : 0);
    out.bytes(o.bytes.view());
  }
  mpi_messages::seal_frame(reply, wire::kind::reply);
  return reply;
}

void serve_rank(MPI_Comm comm, int root) noexcept {
  mpi_messages::receive_buffer buffer;
  try {
    for (;;) {
      MPI_Message message;
      MPI_Status status;
      check_mpi(MPI_Mprobe(root, mpi_messages::tag_frame, comm, &message, &status), "MPI_Mprobe");
      std::string_view payload;
      const std::string_view bytes = mpi_messages::receive_matched(message, status, buffer);
      switch (mpi_messages::open_frame(bytes, payload)) {
        case wire::kind::call:
          mpi_messages::send_frame(answer_call(payload), root, comm);
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
