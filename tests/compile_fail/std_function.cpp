// A std::function may hold any state: it cannot be sent to a worker process.
#include <functional>

#include <cfutures/process_pool_executor.hpp>

int twice(int x) { return 2 * x; }

int main() {
  cfutures::process_pool_executor pool(1);
  std::function<int(int)> fn = &twice;
  (void)pool.submit(fn, 21);
}
