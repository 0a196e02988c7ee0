// The tutorial's CPU-bound scenario (section 5: counting primes) spread over the ranks of an
// MPI job: every rank runs this program; rank 0 submits four prime counts, the other ranks
// count. Launch (from the build directory):
//   mpiexec -n 3 ./examples/mpi_prime_counting
// (as root add --allow-run-as-root; with more ranks than cores add --oversubscribe).
#include <mpi.h>

#include <cfutures/cfutures.hpp>
#include <cfutures/mpi.hpp>
#include <chrono>
#include <cstdio>
#include <utility>
#include <vector>

namespace {

bool is_prime(long n) {
  if (n < 2) return false;
  for (long i = 2; i * i <= n; ++i) {
    if (n % i == 0) return false;
  }
  return true;
}

// How many primes below n, and the rank that counted them.
std::pair<long, int> count_primes(long n) {
  long count = 0;
  for (long i = 2; i < n; ++i) count += is_prime(i);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return {count, rank};
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main() {
  cfutures::mpi::comm_executor executor;  // the other ranks serve here until rank 0 is done
  if (!executor.is_root()) return 0;

  const std::vector<long> numbers(4, 2'000'000);  // four identical CPU-bound tasks
  std::printf("=== On rank 0 alone ===\n");
  auto start = std::chrono::steady_clock::now();
  for (long n : numbers) (void)count_primes(n);
  const double alone = seconds_since(start);
  std::printf("⏱️  One rank: %.2f s\n", alone);

  std::printf("\n=== Over %zu worker ranks ===\n", executor.max_workers());
  start = std::chrono::steady_clock::now();
  for (const auto& [count, rank] : executor.map(count_primes, numbers)) {
    std::printf("✅ rank %d found %ld primes below %ld\n", rank, count, numbers.front());
  }
  const double spread = seconds_since(start);
  std::printf("⏱️  Spread over ranks: %.2f s\n", spread);
  std::printf("\n📊 Speedup over one rank: %.2fx\n", alone / spread);
}
