// A program that leaves MPI to the library: comm_executor initialises MPI
// (MPI_THREAD_MULTIPLE) and finalises it at exit. Run with 3 ranks, 1 rank and without
// mpiexec (a singleton). With --init-single the program initialises MPI itself with
// MPI_THREAD_SINGLE, and every rank must get cfutures::error naming the level it needs.
// Exits 0 when every check holds; prints what failed otherwise.
#include <mpi.h>

#include <cfutures/cfutures.hpp>
#include <cfutures/mpi.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

int failures = 0;

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "check failed: %s\n", what);
  ++failures;
}

int square(int x) { return x * x; }
int reject(int x) { throw std::out_of_range("out of range: " + std::to_string(x)); }

void run_on_every_rank() {
  for (int round = 0; round < 2; ++round) {  // a second executor after the first
    cfutures::mpi::comm_executor ex;
    int size = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (!ex.is_root()) {
      check(ex.max_workers() == 0, "max_workers() is 0 off the root");
      bool threw = false;
      try {
        (void)ex.submit(square, 2);
      } catch (const cfutures::error&) {
        threw = true;
      }
      check(threw, "submit off the root throws cfutures::error");
      continue;
    }
    check(ex.max_workers() == (size > 1 ? static_cast<std::size_t>(size - 1) : 1u),
          "max_workers() is the number of other ranks");
    check(ex.submit(square, 12).result() == 144, "submit/result");
    bool threw = false;
    try {
      (void)ex.submit(reject, 3).result();
    } catch (const std::out_of_range& e) {
      threw = std::string(e.what()) == "out of range: 3";
    }
    check(threw, "std::out_of_range comes back as itself");
    const std::vector<int> xs{1, 2, 3, 4, 5, 6, 7};
    check(ex.map(square, xs, cfutures::map_options{.chunksize = 3}).to_vector() ==
              std::vector<int>{1, 4, 9, 16, 25, 36, 49},
          "map with chunksize");
  }
}

void end_abruptly() { std::abort(); }

int run_losing_a_rank() {
  cfutures::mpi::comm_executor ex;
  if (ex.is_root()) {
    try {
      ex.submit(end_abruptly).result();  // never returns: the job is ended
    } catch (const cfutures::broken_executor&) {
      return 1;  // MPI reported the loss to the root
    }
  }
  return 0;
}

int run_with_too_low_a_level() {
  int provided = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SINGLE, &provided);
  bool threw = false;
  try {
    cfutures::mpi::comm_executor ex;
  } catch (const cfutures::error& e) {
    threw = std::strstr(e.what(), "MPI_THREAD_MULTIPLE") != nullptr;
  }
  check(threw, "MPI_THREAD_SINGLE is refused with cfutures::error naming MPI_THREAD_MULTIPLE");
  MPI_Finalize();
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--init-single") == 0) return run_with_too_low_a_level();
  if (argc > 1 && std::strcmp(argv[1], "--lose-rank") == 0) return run_losing_a_rank();
  int initialized = 1;
  MPI_Initialized(&initialized);
  check(!initialized, "MPI is not initialised before the first executor");
  run_on_every_rank();
  MPI_Initialized(&initialized);
  check(initialized == 1, "the executor initialised MPI");
  return failures == 0 ? 0 : 1;
}
