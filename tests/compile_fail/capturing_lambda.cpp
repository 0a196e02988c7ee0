// A lambda with captures cannot be sent to a worker process.
#include <cfutures/process_pool_executor.hpp>

int main() {
  cfutures::process_pool_executor pool(1);
  int captured_offset = 40;
  (void)pool.submit([captured_offset](int x) { return captured_offset + x; }, 2);
}
