#include "rank_harness.hpp"

#include <thread>
#include <vector>

namespace mpi_test {

MPI_Comm& control_comm() {
  static MPI_Comm comm = MPI_COMM_NULL;
  return comm;
}

void announce(command c) {
  int size = 1;
  MPI_Comm_size(control_comm(), &size);
  const int code = static_cast<int>(c);
  for (int r = 1; r < size; ++r) MPI_Send(&code, 1, MPI_INT, r, 0, control_comm());
}

void serve_announced_executors() {
  std::vector<std::thread> servers;
  for (;;) {
    int code = 0;
    MPI_Recv(&code, 1, MPI_INT, 0, 0, control_comm(), MPI_STATUS_IGNORE);
    if (code != static_cast<int>(command::executor)) break;
    MPI_Comm comm = MPI_COMM_NULL;
    MPI_Comm_dup(MPI_COMM_WORLD, &comm);
    servers.emplace_back([comm]() mutable {
      { cfutures::mpi::comm_executor serving(comm); }
      MPI_Comm_free(&comm);
    });
  }
  for (auto& t : servers) t.join();
}

}  // namespace mpi_test
