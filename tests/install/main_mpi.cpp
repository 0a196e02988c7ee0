// Built against an installed cfutures with COMPONENTS mpi; runs as a singleton MPI process
// (no mpiexec), where the communicator has one rank and the root runs the calls itself.
#include <cfutures/mpi.hpp>
#include <cstdio>

namespace {
int square(int x) { return x * x; }
}  // namespace

int main() {
  cfutures::mpi::comm_executor ex;
  if (!ex.is_root()) return 0;
  const int nine = ex.submit(square, 3).result();
  std::printf("square of 3 over MPI: %d\n", nine);
  return nine == 9 ? 0 : 1;
}
