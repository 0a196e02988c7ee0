// dynamic_tasks.hpp: the tutorial's dynamic-task scenario (section 7, "Pattern 2"): a task
// that sometimes generates subtasks, up to max_depth. Shared by its Python-style form
// (10_dynamic_tasks: a deque and as_completed) and its C++20 form (10_dynamic_tasks_coroutines).
// Unlike the tutorial, a subtask carries its depth, so max_depth does limit the recursion.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "demo.hpp"

namespace tutorial {

struct task {
  std::string id;
  std::string parent;  // empty for a root task
  int depth = 0;
};

struct task_result {
  std::vector<std::string> results;
  std::vector<task> subtasks;
};

inline constexpr int max_depth = 3;
inline constexpr std::size_t max_in_flight = 4;
inline demo::gauge processing;  // how many tasks run at once

// A task that might generate more tasks.
inline task_result recursive_task_processor(const task& t) {
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

}  // namespace tutorial
