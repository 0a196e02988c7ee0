// Tutorial section 4, "Alternative Patterns with map()": executor.map() runs three API calls
// on three workers and gives the results back in input order, without Future objects;
// .to_vector() is Python's list(executor.map(...)).
#include <cfutures/cfutures.hpp>
#include <string>
#include <vector>

#include "demo.hpp"

namespace {

struct api_response {
  std::string api;
  double response_time;
  std::string data;
  std::string status;
};

demo::gauge calls;  // how many calls run at once

// Simulates calling an API with a response time between 1 and 3 s.
api_response simulate_api_call(const std::string& api_name) {
  const auto inside = calls.enter();
  auto rng = demo::rng_for(api_name);
  const double delay = demo::uniform(rng, 1, 3);
  demo::say("📡 Starting API call to ", api_name);
  demo::sleep(delay);
  demo::say("✅ Completed API call to ", api_name);
  return {api_name, demo::scaled(delay), "Data from " + api_name, "success"};
}

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
  demo::expect(calls.peak() == 3, "expected 3 calls at once, saw ", calls.peak());
  return demo::finish(apis.size(), " API calls via map() on 3 workers, results in input order: ",
                      demo::secs(total), " (sequential ", demo::secs(demo::total_slept()), ")");
}
