// The other ranks' side of the MPI executor: the remote core's serve loop
// (remote/serve.hpp) over MPI messages from the root, until it says exit.
//
//   root (manager thread)                       rank r (inside comm_executor's constructor)
//   ─────────────────────                       ───────────────────────────────────────────
//                                               MPI_Mprobe(root, tag_frame)   (waits)
//   call {id, invoker, fn, n × args} ─────────▶ run_calls, in order
//     [+ large args as attachments]
//                                    ◀───────── reply {id, n × (ok, result | exception)}
//                                                 [+ large results as attachments; a
//                                                  string or vector result sent from
//                                                  the value itself]
//                                               ... (one call message at a time)
//   exit ─────────────────────────────────────▶ returns: the constructor ends
#pragma once

#include <mpi.h>

#include <string_view>
#include <vector>

#include "mpi/messages.hpp"
#include "remote/serve.hpp"

namespace cfutures::detail {

// The reply to a call frame: the frame, and the results it sends (its large items are
// attachments that point into them).
struct call_answer {
  std::vector<wire::outcome> outcomes;
  mpi_messages::outgoing_frame reply;
};

// Runs the calls of a call frame's payload (its attachments from `attachments`) and builds
// the reply into `answer`. Used by the serving ranks' link and, on a communicator of one
// rank, by the root itself (then with attach_large false: the reply is read in place).
void answer_call(std::string_view call_payload, wire::attachment_source& attachments,
                 bool attach_large, call_answer& answer);

// Serves calls from `root` on `comm` until an exit frame arrives. A malformed message or a
// failing MPI call ends the job (MPI_Abort): the root would otherwise wait for a reply
// forever.
void serve_rank(MPI_Comm comm, int root) noexcept;

}  // namespace cfutures::detail
