// A program that leaves MPI to the library: comm_executor initialises MPI
// (MPI_THREAD_MULTIPLE) and finalises it at exit. Two executors, one after the other: rooted
// at rank 0, then at the last rank. Run with 3 ranks, 1 rank and without
// mpiexec (a singleton). With --mpi-init the program initialises MPI itself with MPI_Init
// (MPI_THREAD_SINGLE), and the same checks must hold.
// Exits 0 when every check holds; prints what failed otherwise.
#include <mpi.h>

#include <cfutures/cfutures.hpp>
#include <cfutures/mpi.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

int failures = 0;

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "check failed: %s\n", what);
  ++failures;
}

int square(int x) { return x * x; }
int world_rank() {
  int rank = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}
int nap(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
int reject(int x) { throw std::out_of_range("out of range: " + std::to_string(x)); }

void run_on_every_rank() {
  for (int round = 0; round < 2; ++round) {  // a second executor after the first
    int size = 1;
    if (round == 1) MPI_Comm_size(MPI_COMM_WORLD, &size);  // the first one initialised MPI
    const int root = size - 1;                             // rank 0, then the last rank
    cfutures::mpi::comm_executor ex(MPI_COMM_WORLD, root);
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
    const int ran_on = ex.submit(world_rank).result();
    check(size == 1 ? ran_on == root : ran_on != root, "calls run on the other ranks");
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
    std::vector<cfutures::future<int>> naps;
    for (std::size_t i = 0; i < ex.max_workers(); ++i) naps.push_back(ex.submit(nap, 300));
    auto queued = ex.submit(square, 5);
    check(queued.cancel(), "a call queued behind busy ranks can be cancelled");
    int slept = 0;
    for (const auto& f : cfutures::as_completed(naps)) slept += f.result();
    check(slept == 300 * static_cast<int>(ex.max_workers()), "as_completed over the naps");
    check(queued.cancelled(), "the cancelled call stays cancelled");
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

// MPI_Init gives MPI_THREAD_SINGLE: the executor serializes its MPI calls (a warning says
// so) and works as with MPI_THREAD_MULTIPLE.
int run_with_plain_mpi_init() {
  MPI_Init(nullptr, nullptr);
  run_on_every_rank();
  MPI_Finalize();
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--mpi-init") == 0) return run_with_plain_mpi_init();
  if (argc > 1 && std::strcmp(argv[1], "--lose-rank") == 0) return run_losing_a_rank();
  int initialized = 1;
  MPI_Initialized(&initialized);
  check(!initialized, "MPI is not initialised before the first executor");
  run_on_every_rank();
  MPI_Initialized(&initialized);
  check(initialized == 1, "the executor initialised MPI");
  return failures == 0 ? 0 : 1;
}
