// A result type without a cereal serialize() cannot come back from a worker process.
#include <cfutures/process_pool_executor.hpp>

struct not_serializable_report {
  int lines = 0;
};

not_serializable_report make_report(int n) { return {n}; }

int main() {
  cfutures::process_pool_executor pool(1);
  (void)pool.submit(&make_report, 10);
}
