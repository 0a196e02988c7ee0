// A program of futures, wait and the thread pool, linked to cfutures::thread alone: it must
// compile without cereal (a thread-pool-only program never sees it) and run.
#include <cfutures/any_future.hpp>
#include <cfutures/future.hpp>
#include <cfutures/promise.hpp>
#include <cfutures/thread_pool_executor.hpp>
#include <cfutures/wait.hpp>

#ifdef CEREAL_CEREAL_HPP_
#error "cereal reached a program that uses only futures and the thread pool"
#endif

#include <cstdio>
#include <vector>

int main() {
  cfutures::thread_pool_executor pool(2);
  std::vector<cfutures::future<int>> fs;
  for (int i = 0; i < 10; ++i) fs.push_back(pool.submit([i] { return i * i; }));
  cfutures::wait(fs);
  int sum = 0;
  for (auto& f : fs) sum += f.result();
  if (sum != 285) {
    std::fprintf(stderr, "wrong sum %d\n", sum);
    return 1;
  }
  return 0;
}
