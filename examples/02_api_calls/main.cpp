// Tutorial section 4, "ThreadPoolExecutor Deep Dive", example 1: four API calls of 1-3 s on
// two workers with submit(); a future -> name map (Python's future_to_api dict) and
// as_completed() handle each response as soon as it arrives, whatever the submission order.
#include <cfutures/cfutures.hpp>
#include <exception>
#include <string>
#include <unordered_map>
#include <vector>

#include "demo.hpp"
#include "tutorial_tasks.hpp"

namespace {

using tutorial::api_response;
using tutorial::simulate_api_call;

}  // namespace

int main(int argc, char** argv) {
  demo::parse_args(argc, argv);
  demo::say("=== Example 1: Basic ThreadPoolExecutor Usage ===");
  const std::vector<std::string> apis{"UserAPI", "PaymentAPI", "NotificationAPI", "AnalyticsAPI"};
  const demo::stopwatch watch;
  std::size_t succeeded = 0;
  {
    cfutures::thread_pool_executor executor(2);
    demo::say("🚀 Starting ", apis.size(), " API calls with 2 worker threads");

    std::unordered_map<cfutures::future<api_response>, std::string> future_to_api;
    for (const auto& api : apis) {
      future_to_api.emplace(executor.submit(simulate_api_call, api), api);
    }

    for (const auto& future : cfutures::as_completed(future_to_api)) {
      const auto& api_name = future_to_api.at(future);
      try {
        const auto& result = future.result();
        demo::say("📊 ", api_name, " returned: ", result.status, " in ",
                  demo::secs(result.response_time));
        ++succeeded;
      } catch (const std::exception& exc) {
        demo::say("❌ ", api_name, " generated an exception: ", exc.what());
      }
    }
  }
  const double total = watch.seconds();
  demo::say("⏱️  Total execution time: ", demo::secs(total));

  demo::expect(succeeded == apis.size(), "only ", succeeded, " calls succeeded");
  demo::expect(tutorial::api_calls.peak() == 2, "expected 2 calls at once, saw ",
               tutorial::api_calls.peak());
  return demo::finish(apis.size(),
                      " API calls on 2 workers, handled as completed: ", demo::secs(total),
                      " (sequential ", demo::secs(demo::total_slept()), ")");
}
