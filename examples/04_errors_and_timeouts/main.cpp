// Tutorial section 4, "Handling Errors and Timeouts": four unreliable API calls (0.5-4 s,
// 30% fail) on four workers. Each call's exception is caught where its result is read, so one
// failure never hides the others; as_completed() gives up after 5 s and result() waits at
// most 3 s. As in the tutorial, a future that as_completed() yields is already done, so its
// result(3 s) returns at once; the timeout that can fire is as_completed()'s, and the calls
// it leaves unfinished are reported as such.
#include <cfutures/cfutures.hpp>
#include <exception>
#include <map>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "demo.hpp"

namespace {

struct outcome {
  std::string status;  // success, error, timeout or unfinished
  std::string detail;
};

// Simulates an API that might fail.
std::string unreliable_api_call(const std::string& api_name) {
  auto rng = demo::rng_for(api_name);
  const double delay = demo::uniform(rng, 0.5, 4);  // sometimes over 3 s
  demo::say("📡 Starting ", api_name, " (will take ", demo::secs(demo::scaled(delay)), ")");
  demo::sleep(delay);
  if (demo::chance(rng, 0.3)) {  // 30% chance of failure
    throw std::runtime_error(api_name + " service temporarily unavailable");
  }
  return "Success from " + api_name;
}

std::map<std::string, outcome> robust_api_calls(const std::vector<std::string>& apis) {
  cfutures::thread_pool_executor executor(4);
  std::unordered_map<cfutures::future<std::string>, std::string> future_to_api;
  for (const auto& api : apis) {
    future_to_api.emplace(executor.submit(unreliable_api_call, api), api);
  }

  std::map<std::string, outcome> results;
  try {
    for (const auto& future : cfutures::as_completed(future_to_api, demo::seconds(5))) {
      const auto& api_name = future_to_api.at(future);
      try {
        const auto& result = future.result(demo::seconds(3));  // per-task timeout
        results[api_name] = {"success", result};
        demo::say("✅ ", api_name, ": ", result);
      } catch (const cfutures::timeout_error&) {
        results[api_name] = {"timeout", "Task timed out"};
        demo::say("⏰ ", api_name, ": Timed out");
      } catch (const std::exception& exc) {
        results[api_name] = {"error", exc.what()};
        demo::say("❌ ", api_name, ": ", exc.what());
      }
    }
  } catch (const cfutures::timeout_error& exc) {
    demo::say("⏰ as_completed gave up: ", exc.what());
    for (const auto& [future, api_name] : future_to_api) {
      results.try_emplace(api_name, outcome{"unfinished", exc.what()});
    }
  }
  return results;
}

}  // namespace

int main(int argc, char** argv) {
  demo::parse_args(argc, argv);
  demo::say("=== Example 3: Error Handling and Timeouts ===");
  const std::vector<std::string> apis{"ReliableAPI", "UnreliableAPI", "SlowAPI", "FastAPI"};
  const demo::stopwatch watch;
  const auto results = robust_api_calls(apis);
  const double total = watch.seconds();
  demo::say("⏱️  Total execution time: ", demo::secs(total));

  std::map<std::string, int> tally;
  std::string listing;
  for (const auto& [api, result] : results) {
    ++tally[result.status];
    listing +=
        (listing.empty() ? "" : ", ") + api + ": " + result.status + " (" + result.detail + ")";
  }
  demo::say("📊 Final results: {", listing, "}");

  demo::expect(results.size() == apis.size(), "only ", results.size(), " calls accounted for");
  return demo::finish(apis.size(), " unreliable calls on 4 workers: ", tally["success"], " ok, ",
                      tally["error"], " failed, ", tally["timeout"] + tally["unfinished"],
                      " timed out, each handled on its own, in ", demo::secs(total),
                      " (sequential ", demo::secs(demo::total_slept()), ")");
}
