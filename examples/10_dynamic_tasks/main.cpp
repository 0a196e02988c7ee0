// Tutorial section 7, "Pattern 2: Dynamic Task Generation": tasks may generate subtasks. A
// deque of pending tasks feeds at most four futures in flight; as_completed() with a timeout
// takes one completion at a time, whose subtasks join the deque, until both are empty.
// Unlike the tutorial, a subtask carries its depth, so max_depth does limit the recursion.
#include <cfutures/cfutures.hpp>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "demo.hpp"

namespace {

struct task {
  std::string id;
  std::string parent;  // empty for a root task
  int depth = 0;
};

struct task_result {
  std::vector<std::string> results;
  std::vector<task> subtasks;
};

constexpr int max_depth = 3;
constexpr std::size_t max_in_flight = 4;
demo::gauge processing;  // how many tasks run at once

// A task that might generate more tasks.
task_result recursive_task_processor(const task& t) {
  const auto inside = processing.enter();
  const std::string indent(2 * static_cast<std::size_t>(t.depth), ' ');
  demo::say(indent, "🔄 Processing task ", t.id, " at depth ", t.depth);
  auto rng = demo::rng_for(t.id);
  demo::sleep(demo::uniform(rng, 0.2, 0.5));

  task_result result{{"result_from_" + t.id}, {}};
  if (t.depth < max_depth && demo::chance(rng, 0.5)) {  // sometimes generate subtasks
    const int num_subtasks = demo::randint(rng, 1, 2);
    for (int i = 0; i < num_subtasks; ++i) {
      result.subtasks.push_back({demo::cat(t.id, "_sub_", i), t.id, t.depth + 1});
    }
    demo::say(indent, "📋 Task ", t.id, " generated ", num_subtasks, " subtasks");
  }
  return result;
}

}  // namespace

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
