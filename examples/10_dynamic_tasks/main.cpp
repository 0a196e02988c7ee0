// Tutorial section 7, "Pattern 2: Dynamic Task Generation": tasks may generate subtasks. A
// deque of pending tasks feeds at most four futures in flight; as_completed() with a timeout
// takes one completion at a time, whose subtasks join the deque, until both are empty.
// The same scenario in C++20 style (coroutines, when_all): 10_dynamic_tasks_coroutines.
#include <cfutures/cfutures.hpp>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "demo.hpp"
#include "dynamic_tasks.hpp"

using tutorial::max_in_flight;
using tutorial::processing;
using tutorial::recursive_task_processor;
using tutorial::task;
using tutorial::task_result;

int main(int argc, char** argv) {
  demo::parse_args(argc, argv);
  demo::say("=== Dynamic Task Generation ===");
  const demo::stopwatch watch;

  std::deque<task> pending_tasks;
  for (int i = 0; i < 3; ++i) pending_tasks.push_back({demo::cat("root_", i), "", 0});
  std::unordered_map<cfutures::future<task_result>, task> active_futures;
  std::vector<std::string> all_results;
  std::size_t submitted = 0;
  {
    cfutures::thread_pool_executor executor(max_in_flight);
    while (!pending_tasks.empty() || !active_futures.empty()) {
      // Submit new tasks while there is capacity and pending work.
      while (active_futures.size() < max_in_flight && !pending_tasks.empty()) {
        task next = std::move(pending_tasks.front());
        pending_tasks.pop_front();
        auto future = executor.submit(recursive_task_processor, next);
        active_futures.emplace(std::move(future), std::move(next));
        ++submitted;
      }

      // Wait for one task to complete.
      cfutures::future<task_result> completed;
      try {
        for (const auto& future : cfutures::as_completed(active_futures, demo::seconds(1))) {
          completed = future;
          break;  // process one completion at a time
        }
      } catch (const cfutures::timeout_error&) {
        continue;  // none completed yet
      }

      const task finished = std::move(active_futures.extract(completed).mapped());
      const auto& result = completed.result();
      all_results.insert(all_results.end(), result.results.begin(), result.results.end());
      pending_tasks.insert(pending_tasks.end(), result.subtasks.begin(), result.subtasks.end());
      demo::say("✅ Completed task ", finished.id, ", added ", result.subtasks.size(), " new tasks");
    }
  }
  const double total = watch.seconds();
  demo::say("📊 All tasks completed. Total results: ", all_results.size());

  demo::expect(all_results.size() == submitted, submitted, " tasks submitted but ",
               all_results.size(), " results");
  demo::expect(processing.peak() > 1 && processing.peak() <= static_cast<int>(max_in_flight),
               "expected 2 to 4 tasks at once, saw ", processing.peak());
  return demo::finish(submitted, " tasks (3 roots + ", submitted - 3, " generated) at most ",
                      max_in_flight, " in flight: ", demo::secs(total), " (sequential ",
                      demo::secs(demo::total_slept()), ")");
}
