// A raw pointer means nothing in another process.
#include <cfutures/process_pool_executor.hpp>

int deref(const double* p) { return static_cast<int>(*p); }

int main() {
  cfutures::process_pool_executor pool(1);
  static const double value = 4.0;
  (void)pool.submit(&deref, &value);
}
