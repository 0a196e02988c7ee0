// The MPI test binary's main(): serve_if_worker first (pool_executor's workers are this
// binary again), then MPI initialised by the program (MPI_THREAD_MULTIPLE), rank 0
// runs the tests and prints, the other ranks serve (rank_harness.hpp). Expects 3 ranks (the
// typed suite's executors have 2 workers); a communicator of one rank is tested through
// MPI_COMM_SELF.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cfutures/process_pool_executor.hpp>
#include <cstdio>
#include <cstdlib>

#include "rank_harness.hpp"

int main(int argc, char** argv) {
  cfutures::serve_if_worker(argc, argv);  // a pool_executor's spawned worker serves here
  // A program that initialises MPI itself chooses PMIx's "hash" store as docs/mpi.md says
  // (Open MPI 4.1 + PMIx 4 hang now and then in MPI_Comm_spawn otherwise); pool_executor
  // gives its workers the same store.
  setenv("PMIX_MCA_gds", "hash", 0);
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  int rank = 0;
  int size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm_dup(MPI_COMM_WORLD, &mpi_test::control_comm());
  int result = 0;
  if (rank != 0) {
    mpi_test::serve_announced_executors();
  } else {
    ::testing::InitGoogleTest(&argc, argv);
    if (size != 3) {
      std::fprintf(stderr, "run with mpiexec -n 3 (this job has %d ranks)\n", size);
      result = 1;
    } else {
      result = RUN_ALL_TESTS();
    }
    mpi_test::announce(mpi_test::command::exit);
  }
  MPI_Comm_free(&mpi_test::control_comm());
  MPI_Finalize();
  return result;
}
