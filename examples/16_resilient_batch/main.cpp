// Beyond the tutorial: a batch of native calls where a few items crash or hang — the reason
// to run native code in worker *processes* at all. With Python's policy (the default,
// worker_death::break_pool) one crash breaks the pool and fails every call still pending;
// with worker_death::fail_call and a call_timeout (pebble, loky and Dask do the same) each
// bad item costs only its own call, and every good item completes.
#include <chrono>
#include <cfutures/cfutures.hpp>
#include <csignal>
#include <cstdlib>
#include <string>
#include <sys/resource.h>
#include <thread>
#include <vector>

#include "demo.hpp"

namespace {

constexpr int items = 24;
constexpr int crashing = 5;   // a bad pointer: SIGSEGV
constexpr int aborting = 13;  // a failed assertion in the library: SIGABRT
constexpr int hanging = 19;   // never returns

// "Decodes" item i: a little CPU work, except for the bad items.
long decode(int i) {
  const rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  if (i == crashing) {
    volatile int* volatile bad = nullptr;
    *bad = i;  // the worker process dies here, not this program
  }
  if (i == aborting) std::abort();
  if (i == hanging) std::this_thread::sleep_for(std::chrono::hours(1));
  long sum = 0;
  for (long k = 0; k < 200'000; ++k) sum += (k * i) % 7;
  return sum;
}

long expected(int i) {
  long sum = 0;
  for (long k = 0; k < 200'000; ++k) sum += (k * i) % 7;
  return sum;
}

struct tally {
  int ok = 0, died = 0, timed_out = 0, broken = 0;
};

tally run(cfutures::process_pool_executor& pool) {
  std::vector<cfutures::future<long>> futures;
  for (int i = 0; i < items; ++i) futures.push_back(pool.submit(decode, i));
  tally t;
  for (int i = 0; i < items; ++i) {
    try {
      const long value = futures[i].result();
      demo::expect(value == expected(i), "item ", i, " decoded wrong");
      ++t.ok;
    } catch (const cfutures::worker_died_error& e) {
      ++t.died;
      demo::say("  item ", i, ": ", e.what());
    } catch (const cfutures::call_timeout_error& e) {
      ++t.timed_out;
      demo::say("  item ", i, ": ", e.what());
    } catch (const cfutures::broken_process_pool&) {
      ++t.broken;
    }
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  cfutures::serve_if_worker(argc, argv);
  demo::parse_args(argc, argv);
  demo::say("=== A batch with crashing and hanging items ===");

  demo::say("-- Python's policy (worker_death::break_pool, the default), without the hang:");
  tally python;
  {
    cfutures::process_pool_executor pool(2);
    std::vector<cfutures::future<long>> futures;
    for (int i = 0; i < items; ++i) futures.push_back(pool.submit(decode, i == hanging ? 0 : i));
    for (auto& f : futures) {
      try {
        (void)f.result();
        ++python.ok;
      } catch (const cfutures::broken_process_pool&) {
        ++python.broken;
      }
    }
  }
  demo::say("  ", python.ok, " items decoded, ", python.broken,
            " failed with broken_process_pool; the pool is unusable");

  demo::say("-- worker_death::fail_call, call_timeout:");
  const demo::stopwatch watch;
  tally resilient;
  {
    cfutures::process_pool_executor pool({.max_workers = 2,
                                          .on_worker_death = cfutures::worker_death::fail_call,
                                          .call_timeout = demo::seconds(2)});
    resilient = run(pool);
    demo::expect(pool.submit(decode, 1).result() == expected(1), "the pool is not usable");
  }
  demo::expect(python.broken > 0, "the crash did not break Python's pool");
  demo::expect(resilient.ok == items - 3, "expected ", items - 3, " good items, got ",
               resilient.ok);
  demo::expect(resilient.died == 2 && resilient.timed_out == 1, "expected 2 deaths and 1 timeout");
  return demo::finish("every good item decoded (", resilient.ok, " of ", items, ") with ",
                      resilient.died, " crashes and ", resilient.timed_out, " hang contained, in ",
                      demo::secs(watch.seconds()), "; Python's policy lost ", python.broken);
}
