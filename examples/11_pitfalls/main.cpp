// Tutorial section 8, "Common Pitfalls and How to Avoid Them":
//   1. Manual shutdown versus the executor's destructor (C++'s `with` block).
//   2. Blocking on each result right after submit (no concurrency) versus submitting
//      everything first and collecting with as_completed().
//   3. One exception aborting the whole collection versus a try/catch per task.
//   4. Executor choice: I/O-bound calls on a thread pool. The process-pool half of the
//      comparison comes with the process-pool examples (05 and 06).
#include <cfutures/cfutures.hpp>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "demo.hpp"
#include "tutorial_tasks.hpp"

namespace {

using tutorial::long_running_task;

// Pitfall 1. ❌ BAD: manual management; every path out must remember shutdown() and delete.
std::string bad_executor_usage() {
  auto* executor = new cfutures::thread_pool_executor(4);
  try {
    auto result = executor->submit(long_running_task, 1, 1.0).result();
    executor->shutdown({.wait = true});  // easy to forget!
    delete executor;
    return result;
  } catch (...) {
    executor->shutdown({.wait = true});
    delete executor;
    throw;
  }
}

// ✅ GOOD: the destructor shuts the executor down (and waits) on every path.
std::string good_executor_usage() {
  cfutures::thread_pool_executor executor(4);
  return executor.submit(long_running_task, 1, 1.0).result();
}

// Pitfall 2. ❌ BAD: getting each result immediately blocks before the next submit.
void bad_result_handling() {
  cfutures::thread_pool_executor executor(4);
  for (int i = 0; i < 4; ++i) {
    auto future = executor.submit(long_running_task, i, 1.0);
    demo::say("Got result: ", future.result());  // ❌ blocks immediately, no concurrency!
  }
}

// ✅ GOOD: submit all tasks first, then collect the results as they complete.
void good_result_handling() {
  cfutures::thread_pool_executor executor(4);
  std::vector<cfutures::future<std::string>> futures;
  for (int i = 0; i < 4; ++i) futures.push_back(executor.submit(long_running_task, i, 1.0));
  for (const auto& future : cfutures::as_completed(futures)) {
    demo::say("Got result: ", future.result());
  }
}

// Pitfall 3: a task that sometimes fails.
std::string failing_task(int task_id) {
  if (task_id == 2) throw std::invalid_argument(demo::cat("Task ", task_id, " failed!"));
  return demo::cat("Success from task ", task_id);
}

// ❌ BAD: the first exception ends the function, and the other results are lost.
std::vector<std::string> bad_error_handling() {
  cfutures::thread_pool_executor executor(3);
  std::vector<cfutures::future<std::string>> futures;
  for (int i = 0; i < 4; ++i) futures.push_back(executor.submit(failing_task, i));
  std::vector<std::string> results;
  for (const auto& future : futures) results.push_back(future.result());  // ❌ uncaught exception!
  return results;
}

// ✅ GOOD: handle the exception of each task where its result is read.
std::vector<std::string> good_error_handling() {
  cfutures::thread_pool_executor executor(3);
  std::vector<cfutures::future<std::string>> futures;
  for (int i = 0; i < 4; ++i) futures.push_back(executor.submit(failing_task, i));
  std::vector<std::string> results;
  for (std::size_t i = 0; i < futures.size(); ++i) {
    try {
      const auto& result = futures[i].result();
      results.push_back(result);
      demo::say("✅ Task ", i, ": ", result);
    } catch (const std::exception& e) {
      auto error_msg = demo::cat("Task ", i, " failed: ", e.what());
      results.push_back(error_msg);
      demo::say("❌ ", error_msg);
    }
  }
  return results;
}

// Pitfall 4: an I/O-bound task (simulated: the tutorial's request to httpbin.org/delay/1).
std::size_t io_bound_task(const std::string& url) {
  auto rng = demo::rng_for(url);
  demo::sleep(1);
  return static_cast<std::size_t>(demo::randint(rng, 200, 400));  // the response's length
}

}  // namespace

int main(int argc, char** argv) {
  demo::parse_args(argc, argv);

  demo::say("=== Pitfall 1: Not Using the Destructor ===");
  demo::say("Bad (manual shutdown): ", bad_executor_usage());
  demo::say("Good (RAII): ", good_executor_usage());

  demo::say("\n=== Pitfall 2: Blocking the Main Thread Unnecessarily ===");
  demo::say("❌ Blocking on each result:");
  const demo::stopwatch bad_watch;
  bad_result_handling();
  const double blocking = bad_watch.seconds();
  demo::say("✅ Submit all, then collect:");
  const demo::stopwatch good_watch;
  good_result_handling();
  const double collecting = good_watch.seconds();
  demo::say("⏱️  Blocking: ", demo::secs(blocking),
            ", submit-all-then-collect: ", demo::secs(collecting), " (",
            demo::fixed(blocking / collecting, 1), "x faster)");
  demo::expect(collecting < blocking / 2, "submitting first was not 2x faster");

  demo::say("\n=== Pitfall 3: Error Handling Comparison ===");
  demo::say("Bad error handling:");
  bool bad_failed = false;
  try {
    bad_error_handling();
  } catch (const std::exception& e) {
    demo::say("❌ Entire function failed: ", e.what());
    bad_failed = true;
  }
  demo::say("\nGood error handling:");
  const auto results = good_error_handling();
  std::string listing;
  for (const auto& result : results) listing += (listing.empty() ? "" : ", ") + result;
  demo::say("📊 All results: [", listing, "]");
  demo::expect(bad_failed && results.size() == 4, "the error handling comparison went wrong");

  demo::say("\n=== Pitfall 4: I/O-bound tasks with thread_pool_executor ===");
  const std::vector<std::string> urls(3, "https://httpbin.org/delay/1");
  const demo::stopwatch io_watch;
  std::vector<std::size_t> io_results;
  {
    cfutures::thread_pool_executor executor(3);
    io_results = executor.map(io_bound_task, urls).to_vector();
  }
  const double io_time = io_watch.seconds();
  std::string sizes;
  for (const auto size : io_results) sizes += (sizes.empty() ? "" : ", ") + std::to_string(size);
  demo::say("📊 I/O results: [", sizes, "]");
  demo::say("⏱️  I/O tasks time: ", demo::secs(io_time), " (sequential ",
            demo::secs(demo::scaled(3)), ")");
  demo::say(
      "CPU-bound tasks belong on process_pool_executor in Python, because of the GIL; "
      "that comparison comes with the process-pool examples (05 and 06).");
  demo::expect(io_time < demo::scaled(2), "the I/O-bound calls did not overlap");

  return demo::finish("4 tasks × ", demo::secs(demo::scaled(1)), " on 4 workers: blocking on ",
                      "each result ", demo::secs(blocking), ", submit-all-then-collect ",
                      demo::secs(collecting), "; per-task try/catch kept all ", results.size(),
                      " results");
}
