// Built against an installed cfutures: proves the exported package is complete.
#include <cfutures/cfutures.hpp>
#include <cstdio>
#include <vector>

int main() {
  cfutures::thread_pool_executor pool(2);
  std::vector<cfutures::future<int>> fs;
  for (int i = 1; i <= 4; ++i) fs.push_back(pool.submit([](int x) { return x * x; }, i));
  int sum = 0;
  for (const auto& f : cfutures::as_completed(fs)) sum += f.result();
  std::printf("sum of squares: %d\n", sum);
  return sum == 30 ? 0 : 1;
}
