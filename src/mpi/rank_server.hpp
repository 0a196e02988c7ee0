// The other ranks' side of the MPI executor: serve calls from the root until it says exit.
//
//   root (manager thread)                       rank r (inside comm_executor's constructor)
//   ─────────────────────                       ───────────────────────────────────────────
//                                               MPI_Mprobe(root, tag_frame)   (waits)
//   call {id, invoker, fn, n × args} ─────────▶ run_calls (../remote/worker.hpp), in order
//                                    ◀───────── reply {id, n × (ok, result | exception)}
//                                               ... (one call message at a time)
//   exit ─────────────────────────────────────▶ returns: the constructor ends
#pragma once

#include <mpi.h>

#include <string>
#include <string_view>

namespace cfutures::detail {

// Runs the calls of a call frame's payload; returns the reply frame (header included). Used
// by the serving ranks and, on a communicator of one rank, by the root itself.
std::string answer_call(std::string_view call_payload);

// Serves calls from `root` on `comm` until an exit frame arrives. A malformed message or a
// failing MPI call ends the job (MPI_Abort): the root would otherwise wait for a reply
// forever.
void serve_rank(MPI_Comm comm, int root) noexcept;

}  // namespace cfutures::detail
