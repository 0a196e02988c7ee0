// Tutorial section 10, "Memory Management and Resource Cleanup": five tasks, each holding
// 100,000 random numbers for 0.5 s, on three workers, collected with as_completed() and a
// try/catch per task. RAII does the cleanup: each task's vector is freed when it returns, and
// the executor's destructor joins its worker threads, as counting them by name shows.
#include <algorithm>
#include <cfutures/cfutures.hpp>
#include <exception>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "demo.hpp"

namespace {

// The threads of this process whose name starts with `prefix`.
long threads_named(const std::string& prefix) {
  long count = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (std::getline(comm, name) && name.starts_with(prefix)) ++count;
  }
  return count;
}

// A task that uses significant memory.
std::string resource_intensive_task(int task_id) {
  auto rng = demo::rng_for(demo::cat("task ", task_id));
  std::vector<double> large_data(100'000);
  for (auto& x : large_data) x = demo::uniform(rng, 0, 1);
  demo::sleep(0.5);  // processing
  const double result = std::accumulate(large_data.begin(), large_data.end(), 0.0);
  return demo::cat("Task ", task_id, ": ", demo::fixed(result));
}  // large_data is freed here

}  // namespace

int main(int argc, char** argv) {
  demo::parse_args(argc, argv);
  demo::say("=== Resource Management Best Practices ===");
  const std::string prefix = "resource";
  const long threads_before = threads_named(prefix);
  long threads_inside = 0;
  int completed = 0;
  const demo::stopwatch watch;

  demo::say("✅ Proper resource management:");
  {
    // workers named resource_0, resource_1, ...; the destructor shuts the pool down and joins them
    cfutures::thread_pool_executor executor({.max_workers = 3, .thread_name_prefix = prefix});
    std::vector<cfutures::future<std::string>> futures;
    for (int i = 0; i < 5; ++i) futures.push_back(executor.submit(resource_intensive_task, i));

    for (const auto& future : cfutures::as_completed(futures)) {
      threads_inside = std::max(threads_inside, threads_named(prefix));  // while tasks run
      try {
        demo::say("  ", future.result());
        ++completed;
      } catch (const std::exception& e) {
        demo::say("  ❌ Task failed: ", e.what());
      }
    }
  }
  const double total = watch.seconds();
  const long threads_after = threads_named(prefix);
  demo::say("  🧹 All resources cleaned up automatically");
  demo::say("  Worker threads: ", threads_before, " before the executor, ", threads_inside,
            " while it ran, ", threads_after, " after it");

  demo::expect(completed == 5, "only ", completed, " tasks completed");
  demo::expect(total < 0.75 * demo::total_slept(), "the tasks did not overlap");
  demo::expect(threads_inside > threads_before, "the pool started no threads");
  demo::expect(threads_after == threads_before, "worker threads outlived the executor");
  return demo::finish(completed, " tasks × ", demo::secs(demo::scaled(0.5)),
                      " on 3 workers: ", demo::secs(total), " (sequential ",
                      demo::secs(demo::total_slept()), "); worker threads ", threads_before, " -> ",
                      threads_inside, " -> ", threads_after, " after the executor's destructor");
}
