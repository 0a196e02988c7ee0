// An argument type without a cereal serialize() cannot be sent to a worker process.
#include <cfutures/process_pool_executor.hpp>

struct not_serializable_widget {
  int size = 0;
};

int size_of(not_serializable_widget w) { return w.size; }

int main() {
  cfutures::process_pool_executor pool(1);
  (void)pool.submit(&size_of, not_serializable_widget{3});
}
