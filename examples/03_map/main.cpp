// Tutorial section 4, "Alternative Patterns with map()": executor.map() runs three API calls
// on three workers and gives the results back in input order, without Future objects;
// .to_vector() is Python's list(executor.map(...)).
#include <cfutures/cfutures.hpp>
#include <string>
#include <vector>

#include "demo.hpp"
#include "tutorial_tasks.hpp"

namespace {

using tutorial::api_response;
using tutorial::simulate_api_call;

std::vector<api_response> map_example(const std::vector<std::string>& apis) {
  cfutures::thread_pool_executor executor(3);
  // map() is simpler when you don't need individual futures
  auto results = executor.map(simulate_api_call, apis).to_vector();
  for (const auto& result : results) {
    demo::say("📊 ", result.api, " completed in ", demo::secs(result.response_time));
  }
  return results;
}

}  // namespace

int main(int argc, char** argv) {
  demo::parse_args(argc, argv);
  demo::say("=== Example 2: Using executor.map() ===");
  const std::vector<std::string> apis{"UserAPI", "PaymentAPI", "NotificationAPI"};
  const demo::stopwatch watch;
  const auto results = map_example(apis);
  const double total = watch.seconds();
  demo::say("⏱️  Total execution time: ", demo::secs(total));

  bool in_order = results.size() == apis.size();
  for (std::size_t i = 0; in_order && i < apis.size(); ++i) in_order = results[i].api == apis[i];
  demo::expect(in_order, "map() did not return the results in input order");
  demo::expect(tutorial::api_calls.peak() == 3, "expected 3 calls at once, saw ",
               tutorial::api_calls.peak());
  return demo::finish(apis.size(), " API calls via map() on 3 workers, results in input order: ",
                      demo::secs(total), " (sequential ", demo::secs(demo::total_slept()), ")");
}
