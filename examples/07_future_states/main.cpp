// Tutorial section 6, "Understanding Future Objects": three tasks (2 s, 1 s, 3 s) on three
// workers. running() and done() right after submit and 0.5 s later; then the three ways to
// get a result: result(timeout), checking done() first, and blocking result().
#include <cfutures/cfutures.hpp>
#include <string>
#include <thread>
#include <vector>

#include "demo.hpp"
#include "tutorial_tasks.hpp"

namespace {

using tutorial::long_running_task;

void print_states(const std::vector<cfutures::future<std::string>>& futures) {
  for (std::size_t i = 0; i < futures.size(); ++i) {
    demo::say("Future ", i + 1, " - Running: ", futures[i].running(),
              ", Done: ", futures[i].done());
  }
}

}  // namespace

int main(int argc, char** argv) {
  demo::parse_args(argc, argv);
  const demo::stopwatch watch;
  {
    cfutures::thread_pool_executor executor(3);
    auto future1 = executor.submit(long_running_task, 1, 2.0);
    auto future2 = executor.submit(long_running_task, 2, 1.0);
    auto future3 = executor.submit(long_running_task, 3, 3.0);
    const std::vector futures{future1, future2, future3};

    demo::say("\n=== Checking Future States ===");
    print_states(futures);

    std::this_thread::sleep_for(demo::seconds(0.5));  // let the tasks start
    demo::say("\nAfter ", demo::secs(demo::scaled(0.5)), ":");
    print_states(futures);
    for (const auto& future : futures) {
      demo::expect(future.running() && !future.done(), "a task was not running after 0.5 s");
    }

    demo::say("\n=== Getting Results ===");
    // Approach 1: result() with a timeout
    try {
      const auto& result2 = future2.result(demo::seconds(2));  // should complete quickly
      demo::say("📊 Got result with timeout: ", result2);
    } catch (const cfutures::timeout_error&) {
      demo::say("⏰ Task 2 timed out");
    }

    // Approach 2: check done() before getting the result
    if (future2.done()) demo::say("📊 Task 2 was already done: ", future2.result());
    demo::expect(future2.done(), "task 2 was not done after result(timeout)");

    // Approach 3: block until each completes
    demo::say("⏳ Waiting for all tasks to complete...");
    for (std::size_t i = 0; i < futures.size(); ++i) {
      demo::say("📊 Final result ", i + 1, ": ", futures[i].result());  // blocks until complete
    }
  }
  const double total = watch.seconds();
  const double sequential = demo::total_slept();

  demo::expect(total < 0.75 * sequential, "the tasks did not overlap: ", demo::secs(total));
  return demo::finish("3 tasks of 2 s, 1 s, 3 s (scaled) running at once on 3 workers: ",
                      demo::secs(total), " (sequential ", demo::secs(sequential), ")");
}
