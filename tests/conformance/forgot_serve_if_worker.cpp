// A program that forgot cfutures::serve_if_worker: its main() uses a spawn-mode (or
// forkserver-mode) process pool without serving first. process_pool_test.cpp (ForgotServeIfWorker) runs it; the pool must
// break with a message that names the fix, within seconds, instead of hanging.
//
//   cfutures_forgot_serve_if_worker --parent     uses the pool, prints what happened
//   (no argument: how the pool starts its workers — this very main() runs again)
//
// CFUTURES_TEST_FORGOT_MODE (inherited by the workers) says what the worker's main() does:
//   "pool"  the same as the parent: builds a pool of the same kind (the library notices)
//   "exit"  returns 0 at once, as a program with other work to do would, eventually
// CFUTURES_TEST_FORGOT_METHOD: "forkserver" for a forkserver-mode pool (its server is the
// process that runs this main() again); otherwise spawn.
// Output (stdout, one line) and exit code:
//   broken_process_pool: <what()>   0
//   unexpected result                3    (the call ran: serve_if_worker was not needed?)
//   timeout                          2    (the pool hung for 8 s)
//   <other exception>: <what()>      4
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <cfutures/cfutures.hpp>

namespace {

int mul(int a, int b) { return a * b; }

}  // namespace

int main(int argc, char** argv) {
  // Deliberately no cfutures::serve_if_worker(argc, argv) here.
  const bool parent = argc > 1 && std::strcmp(argv[1], "--parent") == 0;
  const char* mode = std::getenv("CFUTURES_TEST_FORGOT_MODE");
  if (!parent && mode && std::strcmp(mode, "exit") == 0) return 0;

  using namespace std::chrono_literals;
  const char* method = std::getenv("CFUTURES_TEST_FORGOT_METHOD");
  const bool forkserver = method && std::strcmp(method, "forkserver") == 0;
  cfutures::process_pool_executor pool(
      {.max_workers = 2,
       .method = forkserver ? cfutures::start_method::forkserver : cfutures::start_method::spawn});
  try {
    const int r = pool.submit(mul, 6, 7).result(8s);
    std::printf("unexpected result %d\n", r);
    return 3;
  } catch (const cfutures::broken_process_pool& e) {
    std::printf("broken_process_pool: %s\n", e.what());
    return 0;
  } catch (const cfutures::timeout_error&) {
    std::printf("timeout\n");
    std::fflush(stdout);
    pool.kill_workers();  // or the destructor would wait for the hung workers
    return 2;
  } catch (const std::exception& e) {
    std::printf("other exception: %s\n", e.what());
    return 4;
  }
}
