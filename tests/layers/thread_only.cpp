// A program of futures, wait and the thread pool, linked to cfutures::thread alone: it must
// compile without cereal (a thread-pool-only program never sees it) and run, and its throws
// go straight to the C++ runtime (the remote layer's throw hook is not in it).
#include <cfutures/any_future.hpp>
#include <cfutures/future.hpp>
#include <cfutures/promise.hpp>
#include <cfutures/thread_pool_executor.hpp>
#include <cfutures/wait.hpp>

#ifdef CEREAL_CEREAL_HPP_
#error "cereal reached a program that uses only futures and the thread pool"
#endif

#include <dlfcn.h>

#include <cstdio>
#include <cstring>
#include <vector>

void in_this_program() {}

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
  // The runtime's, or a sanitizer's interceptor in front of it: not this program's own, and
  // not a cfutures library's.
  Dl_info where{};
  Dl_info self{};
  void* thrower = dlsym(RTLD_DEFAULT, "__cxa_throw");
  if (thrower == nullptr || dladdr(thrower, &where) == 0 ||
      dladdr(reinterpret_cast<void*>(&in_this_program), &self) == 0 ||
      where.dli_fbase == self.dli_fbase ||
      (where.dli_fname != nullptr && std::strstr(where.dli_fname, "cfutures") != nullptr)) {
    std::fprintf(stderr, "__cxa_throw is not the C++ runtime's but %s's\n",
                 where.dli_fname ? where.dli_fname : "an unknown module");
    return 1;
  }
  return 0;
}
