// Tutorial section 7, "Pattern 2: Dynamic Task Generation", the C++20 way (next to the
// Python-style 10_dynamic_tasks): each task is a coroutine. It awaits its own call on the
// pool, starts a coroutine for each subtask the call generated (a coroutine starts at once),
// and awaits them all with when_all: the tree of tasks unfolds by itself, with no deque, no
// as_completed loop, and no thread blocked while a task waits for its subtasks. The pool's
// four workers bound the calls in flight, as the four futures in flight did there.
#include <atomic>
#include <cfutures/cfutures.hpp>
#include <string>
#include <utility>
#include <vector>

#include "demo.hpp"
#include "dynamic_tasks.hpp"

namespace {

using tutorial::max_in_flight;
using tutorial::processing;
using tutorial::recursive_task_processor;
using tutorial::task;

std::atomic<std::size_t> submitted{0};

// The results of task t and of every task it generated, transitively.
cfutures::future<std::vector<std::string>> run_tree(cfutures::thread_pool_executor& pool, task t) {
  ++submitted;
  auto result = co_await pool.submit(recursive_task_processor, t);  // resumes on a worker
  demo::say("✅ Completed task ", t.id, ", started ", result.subtasks.size(), " new tasks");
  std::vector<cfutures::future<std::vector<std::string>>> children;
  for (auto& subtask : result.subtasks) children.push_back(run_tree(pool, std::move(subtask)));
  std::vector<std::string> results = std::move(result.results);
  for (auto& child : co_await cfutures::when_all(std::move(children))) {
    for (auto& r : std::move(child).result()) results.push_back(std::move(r));
  }
  co_return results;
}

}  // namespace

int main(int argc, char** argv) {
  demo::parse_args(argc, argv);
  demo::say("=== Dynamic Task Generation, with coroutines ===");
  const demo::stopwatch watch;
  std::vector<std::string> all_results;
  {
    cfutures::thread_pool_executor executor(max_in_flight);
    std::vector<cfutures::future<std::vector<std::string>>> roots;
    for (int i = 0; i < 3; ++i) roots.push_back(run_tree(executor, {demo::cat("root_", i), "", 0}));
    demo::say("three task trees started; this thread only waits for their roots");
    for (auto& root : roots) {
      for (auto& r : std::move(root).result()) all_results.push_back(std::move(r));
    }
  }
  const double total = watch.seconds();
  demo::say("📊 All tasks completed. Total results: ", all_results.size());

  demo::expect(all_results.size() == submitted, submitted.load(), " tasks submitted but ",
               all_results.size(), " results");
  demo::expect(processing.peak() > 1 && processing.peak() <= static_cast<int>(max_in_flight),
               "expected 2 to 4 tasks at once, saw ", processing.peak());
  return demo::finish(submitted.load(), " tasks (3 roots + ", submitted - 3,
                      " generated) as coroutine trees on ", max_in_flight,
                      " workers: ", demo::secs(total), " (sequential ",
                      demo::secs(demo::total_slept()), ")");
}
