// MPI workloads, cfutures side: run as `mpiexec -n 3 bench_mpi` (the root and 2 worker
// ranks: comm_executor), or `mpiexec -n 1 bench_mpi --pool` (pool_executor, 2 spawned
// workers). Rank 0 prints one "metric value unit" line per workload; mpi4py_futures.py prints
// the same lines for mpi4py.futures.MPICommExecutor (and, with --pool, MPIPoolExecutor).
//   startup_ms         --pool only: pool_executor({.max_workers = 2}) → first result (MPI
//                      initialised before, as mpi4py's import does)
//   round_trip_us      median submit → result of a trivial call, one at a time
//   trivial_chunk1     trivial calls per second, 20 000 submitted then collected
//   map_chunk100       items per second through map(chunksize=100) over 100 000 items
//   echo_16mib         MB/s of a 16 MiB string sent to a rank and back (argument size / time)
//                      over 10 rounds, after one echo of the same size
//   memcpy_16mib       MB/s of one 16 MiB memcpy between warm buffers (median of 20): the bound
//   echo_vs_memcpy_x   echo_16mib / memcpy_16mib (issue 18: >= 0.2)
//   echo_16mib_steady  the same echo once memory is warm: median of the per-round rates of 20
//                      rounds after 3 echoes (as bench/process_pool's row of that name)
//   echo_steady_vs_memcpy_x  echo_16mib_steady / memcpy_16mib
//   pingpong_16mib     not --pool: MB/s of 16 MiB sent by plain MPI_Send/MPI_Recv from rank 0
//                      to rank 1 and back between warm buffers (median of 20 round trips
//                      after 3), before the executor exists: the MPI transport's own rate,
//                      the bound of any echo through it
//   echo_steady_vs_pingpong_x  echo_16mib_steady / pingpong_16mib
//   echo_shared_16mib  echo_16mib with a 16 MiB shared_buffer<char> (its bytes cross as one
//                      message each way, into a new buffer of the receiving rank)
#include <mpi.h>

#include <algorithm>
#include <cfutures/cfutures.hpp>
#include <cfutures/mpi.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

int identity(int x) { return x; }
std::string echo(std::string s) { return s; }
cfutures::shared_buffer<char> echo_shared(cfutures::shared_buffer<char> b) { return b; }

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

template <class Executor>
double round_trip_us(Executor& ex) {
  for (int i = 0; i < 200; ++i) ex.submit(identity, i).result();
  std::vector<double> samples;
  for (int i = 0; i < 2000; ++i) {
    const auto start = clock_type::now();
    ex.submit(identity, i).result();
    samples.push_back(seconds_since(start) * 1e6);
  }
  std::nth_element(samples.begin(), samples.begin() + samples.size() / 2, samples.end());
  return samples[samples.size() / 2];
}

template <class Executor>
double trivial_chunk1(Executor& ex) {
  constexpr int n = 20000;
  const auto start = clock_type::now();
  std::vector<cfutures::future<int>> fs;
  fs.reserve(n);
  for (int i = 0; i < n; ++i) fs.push_back(ex.submit(identity, i));
  for (auto& f : fs) f.result();
  return n / seconds_since(start);
}

template <class Executor>
double map_chunk100(Executor& ex) {
  std::vector<int> items(100000);
  for (int i = 0; i < static_cast<int>(items.size()); ++i) items[i] = i;
  const auto start = clock_type::now();
  long sum = 0;
  for (int v : ex.map(identity, items, cfutures::map_options{.chunksize = 100})) sum += v;
  const double t = seconds_since(start);
  return sum > 0 ? static_cast<double>(items.size()) / t : 0;
}

template <class Executor>
double echo_16mib(Executor& ex) {
  const std::string big(16 << 20, 'x');
  ex.submit(echo, big).result();
  const auto start = clock_type::now();
  constexpr int rounds = 10;
  for (int i = 0; i < rounds; ++i) {
    if (ex.submit(echo, big).result().size() != big.size()) return 0;
  }
  return rounds * static_cast<double>(big.size()) / 1e6 / seconds_since(start);
}

template <class Executor>
double echo_16mib_steady(Executor& ex) {
  const std::string big(16 << 20, 'x');
  for (int i = 0; i < 3; ++i) ex.submit(echo, big).result();
  std::vector<double> rates;
  for (int i = 0; i < 20; ++i) {
    const auto start = clock_type::now();
    if (ex.submit(echo, big).result().size() != big.size()) return 0;
    rates.push_back(static_cast<double>(big.size()) / 1e6 / seconds_since(start));
  }
  std::nth_element(rates.begin(), rates.begin() + rates.size() / 2, rates.end());
  return rates[rates.size() / 2];
}

// Every rank of `comm` calls it; rank 0's result is the figure.
double pingpong_16mib(MPI_Comm comm) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  constexpr int n = 16 << 20;
  std::vector<char> out(n, 'p');
  std::vector<char> in(n, 'q');
  std::vector<double> rates;
  for (int i = 0; i < 23; ++i) {
    const auto start = clock_type::now();
    if (rank == 0) {
      MPI_Send(out.data(), n, MPI_BYTE, 1, 0, comm);
      MPI_Recv(in.data(), n, MPI_BYTE, 1, 0, comm, MPI_STATUS_IGNORE);
    } else if (rank == 1) {
      MPI_Recv(in.data(), n, MPI_BYTE, 0, 0, comm, MPI_STATUS_IGNORE);
      MPI_Send(in.data(), n, MPI_BYTE, 0, 0, comm);
    }
    if (i >= 3) rates.push_back(n / 1e6 / seconds_since(start));
  }
  MPI_Barrier(comm);
  std::nth_element(rates.begin(), rates.begin() + rates.size() / 2, rates.end());
  return rates[rates.size() / 2];
}

template <class Executor>
double echo_shared_16mib(Executor& ex) {
  cfutures::shared_buffer<char> big(16 << 20);
  std::memset(big.data(), 'x', big.size());
  big = ex.submit(echo_shared, big).result();
  const auto start = clock_type::now();
  constexpr int rounds = 10;
  for (int i = 0; i < rounds; ++i) {
    big = ex.submit(echo_shared, big).result();
    if (big.size() != std::size_t{16} << 20) return 0;
  }
  return rounds * static_cast<double>(big.size()) / 1e6 / seconds_since(start);
}

double memcpy_16mib() {
  std::vector<char> a(16 << 20, 'a');
  std::vector<char> b(16 << 20, 'b');
  std::vector<double> times;
  for (int i = 0; i < 20; ++i) {
    const auto start = clock_type::now();
    std::memcpy(b.data(), a.data(), a.size());
    times.push_back(seconds_since(start));
    std::swap(a, b);
  }
  std::sort(times.begin(), times.end());
  return static_cast<double>(a.size()) / 1e6 / times[times.size() / 2];
}

// pingpong: pingpong_16mib's figure, or 0 (not measured: --pool).
template <class Executor>
void run_all(Executor& ex, double pingpong) {
  std::printf("round_trip_us %.2f us\n", round_trip_us(ex));
  std::printf("trivial_chunk1 %.0f tasks/s\n", trivial_chunk1(ex));
  std::printf("map_chunk100 %.0f items/s\n", map_chunk100(ex));
  const double echo = echo_16mib(ex);
  const double bound = memcpy_16mib();
  std::printf("echo_16mib %.0f MB/s\n", echo);
  std::printf("memcpy_16mib %.0f MB/s\n", bound);
  std::printf("echo_vs_memcpy_x %.3f x\n", echo / bound);
  const double steady = echo_16mib_steady(ex);
  std::printf("echo_16mib_steady %.0f MB/s\n", steady);
  std::printf("echo_steady_vs_memcpy_x %.3f x\n", steady / bound);
  if (pingpong > 0) {
    std::printf("pingpong_16mib %.0f MB/s\n", pingpong);
    std::printf("echo_steady_vs_pingpong_x %.3f x\n", steady / pingpong);
  }
  std::printf("echo_shared_16mib %.0f MB/s\n", echo_shared_16mib(ex));
}

}  // namespace

int main(int argc, char** argv) {
  cfutures::serve_if_worker(argc, argv);  // the pool's spawned workers serve here
  if (argc > 1 && std::strcmp(argv[1], "--pool") == 0) {
    // MPI first, as mpi4py's import does: the start-up is the spawn's, not MPI_Init's.
    setenv("PMIX_MCA_gds", "hash", 0);  // docs/mpi.md: spawns that never hang
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    {
      const auto start = clock_type::now();
      cfutures::mpi::pool_executor pool({.max_workers = 2});
      pool.submit(identity, 1).result();
      std::printf("startup_ms %.1f ms\n", seconds_since(start) * 1e3);
      run_all(pool, 0);
    }
    MPI_Finalize();
    return 0;
  }
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  const double pingpong = pingpong_16mib(MPI_COMM_WORLD);
  {
    cfutures::mpi::comm_executor ex;  // the other ranks serve here until the root is done
    if (ex.is_root()) run_all(ex, pingpong);
  }
  MPI_Finalize();
}
