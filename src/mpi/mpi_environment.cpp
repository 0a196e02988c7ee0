#include "mpi/mpi_environment.hpp"

#include <cstdio>
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

// mpi4py warns likewise: below MPI_THREAD_SERIALIZED, the library's MPI calls from its
// manager thread are outside what the program asked MPI for.
void warn_if_below_serialized(int level) {
  if (level >= MPI_THREAD_SERIALIZED) return;
  std::fprintf(stderr,
               "cfutures::mpi::comm_executor: MPI was initialised with %s; it should be at "
               "least MPI_THREAD_SERIALIZED (the executor calls MPI from its own thread)\n",
               level_name(level));
}

}  // namespace

void prefer_safe_pmix_store() { setenv("PMIX_MCA_gds", "hash", 0); }

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

int ensure_mpi_ready() {
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
    static std::once_flag warned;
    std::call_once(warned, [&] { warn_if_below_serialized(level); });
    return level;
  }
  prefer_safe_pmix_store();
  check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &level), "MPI_Init_thread");
  std::atexit(finalize_at_exit);
  return level;
}

}  // namespace cfutures::detail
