// MPI's state for the executor: initialised (by the library, with MPI_THREAD_MULTIPLE, if the
// program did not), and MPI error codes turned into exceptions.
#pragma once

#include <mpi.h>

#include <string>

namespace cfutures::detail {

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
