// A stop cannot be delivered into another process: functions taking a std::stop_token are
// rejected by the process pool (the thread pool accepts them).
#include <stop_token>

#include <cfutures/process_pool_executor.hpp>

int count_until_stopped(std::stop_token token, int limit) {
  int n = 0;
  while (!token.stop_requested() && n < limit) ++n;
  return n;
}

int main() {
  cfutures::process_pool_executor pool(1);
  (void)pool.submit(&count_until_stopped, 100);
}
