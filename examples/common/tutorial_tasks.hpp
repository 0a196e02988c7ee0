// tutorial_tasks.hpp: the tutorial's task functions that several scenarios share (in Python
// they live in one file): simulate_api_call (section 4) and long_running_task (section 6).
#pragma once

#include <string>

#include "demo.hpp"

namespace tutorial {

struct api_response {
  std::string api;
  double response_time;
  std::string data;
  std::string status;
};

inline demo::gauge api_calls;  // how many simulated API calls run at once

// Simulates calling an API with a response time between 1 and 3 s.
inline api_response simulate_api_call(const std::string& api_name) {
  const auto inside = api_calls.enter();
  auto rng = demo::rng_for(api_name);
  const double delay = demo::uniform(rng, 1, 3);
  demo::say("📡 Starting API call to ", api_name);
  demo::sleep(delay);
  demo::say("✅ Completed API call to ", api_name);
  return {api_name, demo::scaled(delay), "Data from " + api_name, "success"};
}

// A task that takes `duration` (tutorial) seconds and says so.
inline std::string long_running_task(int task_id, double duration) {
  demo::say("🚀 Task ", task_id, " starting (will take ", demo::secs(demo::scaled(duration)), ")");
  demo::sleep(duration);
  std::string result =
      demo::cat("Task ", task_id, " completed after ", demo::secs(demo::scaled(duration)));
  demo::say("✅ ", result);
  return result;
}

}  // namespace tutorial
