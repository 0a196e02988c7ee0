// submit(f, args...) where f cannot be called with args.
#include <string>

#include <cfutures/thread_pool_executor.hpp>

struct not_callable_gadget {};

int length_of(std::string s) { return static_cast<int>(s.size()); }

int main() {
  cfutures::thread_pool_executor pool(1);
  (void)pool.submit(&length_of, not_callable_gadget{});
}
