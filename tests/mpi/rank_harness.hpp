// tests/mpi/rank_harness.hpp — how the MPI test binaries keep every rank's executors in step.
//
// Only rank 0 runs GoogleTest; the other ranks serve. Every comm_executor over
// MPI_COMM_WORLD must be constructed by every rank, in the same order (its constructor is
// collective), and tests sometimes hold two at once. So the root announces each one on a
// control communicator before it builds it, and the other ranks, in serve_announced_executors,
// build the matching executor in a thread of its own, which serves until the root's executor
// shuts down:
//
//   rank 0 (tests)                                  ranks 1.. (serve_announced_executors)
//   world_executor ex;                              loop:
//     announce "executor" on the control comm ────▶   recv command
//     MPI_Comm_dup(WORLD) → c  (collective) ◀──────▶   MPI_Comm_dup(WORLD) → c
//     comm_executor(c)         (collective) ◀──────▶   thread: comm_executor(c) serves, then
//                                                        frees c
//   ... tests ...
//   end of the tests: announce "exit" ───────────▶   join the threads; return
//
// Each executor gets its own duplicate c of MPI_COMM_WORLD, so executors alive at the same
// time never share a communicator, and the collective calls on each match one to one.
#pragma once

#include <mpi.h>

#include <cfutures/mpi.hpp>

namespace mpi_test {

enum class command : int { executor = 1, exit = 2 };

// Set up by main(): a duplicate of MPI_COMM_WORLD for the announcements.
MPI_Comm& control_comm();

// Root: tells every other rank what comes next.
void announce(command c);

// Ranks other than 0: serves announced executors until the root announces exit.
void serve_announced_executors();

struct owned_comm {
  MPI_Comm comm = MPI_COMM_NULL;
  explicit owned_comm(MPI_Comm parent) { MPI_Comm_dup(parent, &comm); }
  owned_comm(const owned_comm&) = delete;
  owned_comm& operator=(const owned_comm&) = delete;
  ~owned_comm() { MPI_Comm_free(&comm); }
};

// An executor over all ranks, announced to them first; used by every test on the root.
class world_executor : private owned_comm, public cfutures::mpi::comm_executor {
 public:
  world_executor() : owned_comm(announced_world()), comm_executor(owned_comm::comm) {}

 private:
  static MPI_Comm announced_world() {
    announce(command::executor);
    return MPI_COMM_WORLD;
  }
};

}  // namespace mpi_test
