// MPI's state for the executor: initialised (by the library, with MPI_THREAD_MULTIPLE, if the
// program did not), and MPI error codes turned into exceptions.
#pragma once

#include <mpi.h>

#include <string>

namespace cfutures::detail {

// Called before the library initialises MPI: asks PMIx for its "hash" job-data store unless
// the environment chose one (PMIX_MCA_gds). Open MPI 4.1 with an external PMIx 4.x (Debian
// 12's pair) hangs now and then in MPI_Comm_spawn with the default shared-memory store: the
// spawned rank waits forever in PMIx_Init (openpmix#2735). Measured on tests/mpi's mpi_pool
// cases (80 spawns a run): 3 runs of 4 hung with the default store, 0 of 10 with "hash".
// pool_executor passes the store in use to its workers (spawned_ranks.hpp, pmix_store_flag).
void prefer_safe_pmix_store();

// Initialises MPI (asking for MPI_THREAD_MULTIPLE; finalised at exit) unless the program
// did; returns the thread level MPI provides. Throws cfutures::error if MPI is finalised
// already. Warns on stderr, once, when the program initialised MPI below
// MPI_THREAD_SERIALIZED.
int ensure_mpi_ready();

// MPI's text for an error code, prefixed with what failed.
std::string mpi_error_text(const char* what, int code);

// Throws cfutures::error(mpi_error_text(what, code)) unless code is MPI_SUCCESS.
void check_mpi(int code, const char* what);

}  // namespace cfutures::detail
