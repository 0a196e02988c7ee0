// Tutorial section 6, "Cancelling Futures": one worker, three 1 s tasks. While task 1 runs,
// task 3 is still pending, so cancel() succeeds and it never runs; cancelling task 1, which is
// running, fails. Only two tasks' worth of time passes.
#include <cfutures/cfutures.hpp>
#include <exception>
#include <string>
#include <thread>

#include "demo.hpp"
#include "tutorial_tasks.hpp"

namespace {

using tutorial::long_running_task;

}  // namespace

int main(int argc, char** argv) {
  demo::parse_args(argc, argv);
  demo::say("=== Future Cancellation ===");
  const demo::stopwatch watch;
  {
    cfutures::thread_pool_executor executor(1);  // only 1 worker: one task at a time
    auto future1 = executor.submit(long_running_task, 1, 1.0);
    auto future2 = executor.submit(long_running_task, 2, 1.0);
    auto future3 = executor.submit(long_running_task, 3, 1.0);

    std::this_thread::sleep_for(demo::seconds(0.1));  // give the first task time to start

    const bool cancelled = future3.cancel();
    demo::say("🚫 Attempted to cancel task 3: ", cancelled ? "Success" : "Failed");
    demo::say("   Task 3 cancelled: ", future3.cancelled());
    demo::say("   Task 3 running: ", future3.running());
    const bool cancelled_running = future1.cancel();
    demo::say("🚫 Attempted to cancel task 1 (running): ", cancelled_running ? "Success" : "Failed");

    demo::expect(cancelled && future3.cancelled() && !future3.running(),
                 "pending task 3 was not cancelled");
    demo::expect(!cancelled_running, "running task 1 was cancelled");

    int task = 1;
    for (const auto& future : {future1, future2, future3}) {
      if (!future.cancelled()) {
        try {
          demo::say("📊 Task ", task, " result: ", future.result());
        } catch (const std::exception& e) {
          demo::say("❌ Task ", task, " error: ", e.what());
        }
      } else {
        demo::say("🚫 Task ", task, " was cancelled");
      }
      ++task;
    }
  }
  const double total = watch.seconds();
  const double ran = demo::total_slept();

  demo::expect(ran < demo::scaled(2.5), "more than two tasks ran: ", demo::secs(ran), " of work");
  return demo::finish("3 tasks × ", demo::secs(demo::scaled(1)), " on 1 worker, task 3 cancelled ",
                      "before it started: ", demo::secs(total),
                      " (all three: ", demo::secs(demo::scaled(3)), ")");
}
