#include "mpi_environment.hpp"

#include <cstdlib>
#include <mutex>

#include "cfutures/errors.hpp"

namespace cfutures::detail {
namespace {

void finalize_at_exit() noexcept {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

const char* level_name(int level) {
  switch (level) {
    case MPI_THREAD_SINGLE:
      return "MPI_THREAD_SINGLE";
    case MPI_THREAD_FUNNELED:
      return "MPI_THREAD_FUNNELED";
    case MPI_THREAD_SERIALIZED:
      return "MPI_THREAD_SERIALIZED";
    default:
      return "MPI_THREAD_MULTIPLE";
  }
}

void require_multiple(int level, const char* who) {
  if (level >= MPI_THREAD_MULTIPLE) return;
  throw error(std::string("cfutures::mpi::comm_executor needs MPI_THREAD_MULTIPLE, but ") + who +
              " MPI with " + level_name(level) +
              " (call MPI_Init_thread(..., MPI_THREAD_MULTIPLE, ...), or let the executor "
              "initialise MPI)");
}

}  // namespace

std::string mpi_error_text(const char* what, int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  return std::string(what) + " failed: " +
         (length > 0 ? std::string(text, static_cast<std::size_t>(length))
                     : "MPI error " + std::to_string(code));
}

void check_mpi(int code, const char* what) {
  if (code != MPI_SUCCESS) throw error(mpi_error_text(what, code));
}

void ensure_mpi_ready() {
  static std::mutex init_mutex;  // two executors constructed at once initialise MPI once
  std::lock_guard lock(init_mutex);
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) throw error("cfutures::mpi::comm_executor: MPI is finalised already");
  int initialized = 0;
  MPI_Initialized(&initialized);
  int level = MPI_THREAD_SINGLE;
  if (initialized) {
    MPI_Query_thread(&level);
    require_multiple(level, "the program initialised");
    return;
  }
  check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &level), "MPI_Init_thread");
  std::atexit(finalize_at_exit);
  require_multiple(level, "this MPI library provides");
}

}  // namespace cfutures::detail
