// A job that keeps a call running on every worker, for the harness's losses (a killed rank,
// a downed link: run_scenario.sh). Prints "calls out" once every worker has its call, then
// waits for them; the harness then takes a worker away, and the job must end — never hang.
//   mpirun -n 3 long_job comm     comm_executor over MPI_COMM_WORLD
//   mpirun -n 1 long_job pool     pool_executor with 2 spawned workers
// Exits 0 only if every call came back (which a loss must prevent), 2 if the executor
// reported the loss as broken_executor (then it names what MPI said).
#include <unistd.h>

#include <cfutures/cfutures.hpp>
#include <cfutures/mpi.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

// Tells the harness this worker has its call (a file per worker in the given directory).
int hold(std::string marker_dir, int seconds) {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::ofstream(marker_dir + "/" + host + "." + std::to_string(getpid())) << getpid();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  return seconds;
}

template <class Executor>
int keep_busy(Executor& ex, const std::string& marker_dir) {
  std::vector<cfutures::future<int>> calls;
  for (std::size_t i = 0; i < ex.max_workers(); ++i)
    calls.push_back(ex.submit(hold, marker_dir, 60));
  try {
    for (auto& f : calls) f.result();
  } catch (const cfutures::broken_executor& e) {
    std::fprintf(stderr, "long_job: %s\n", e.what());
    return 2;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  cfutures::serve_if_worker(argc, argv);
  if (argc < 3) {
    std::fprintf(stderr, "usage: long_job comm|pool MARKER_DIR\n");
    return 64;
  }
  if (std::strcmp(argv[1], "pool") == 0) {
    cfutures::mpi::pool_executor pool({.max_workers = 2});
    return keep_busy(pool, argv[2]);
  }
  cfutures::mpi::comm_executor ex;
  return ex.is_root() ? keep_busy(ex, argv[2]) : 0;
}
