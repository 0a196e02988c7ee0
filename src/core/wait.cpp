#include "cfutures/wait.hpp"

namespace cfutures::detail {
namespace {

bool satisfied(return_when when, std::size_t done, std::size_t total, bool exception_seen) {
  switch (when) {
    case return_when::first_completed:
      return done > 0 || total == 0;
    case return_when::first_exception:
      return exception_seen || done == total;
    case return_when::all_completed:
      return done == total;
  }
  return true;
}

}  // namespace

void wait_states(const std::vector<state_base*>& states, const deadline& until, return_when when) {
  std::size_t done = 0;
  bool exception_seen = false;
  for (const state_base* s : states) {
    if (s->done()) {
      ++done;
      exception_seen = exception_seen || s->finished_with_exception();
    }
  }
  if (satisfied(when, done, states.size(), exception_seen) || until.passed()) return;

  multi_waiter waiter(states.size());
  for (std::uint32_t i = 0; i < states.size(); ++i) waiter.watch(*states[i], i);
  // Returns once satisfied(): first_completed is a count of 1, first_exception a count of all
  // or an exception, all_completed a count of all (states is not empty here).
  const std::size_t count = when == return_when::first_completed ? 1 : states.size();
  waiter.wait_for_count(count, when == return_when::first_exception, until);
  waiter.detach();
}

std::string unfinished_message(std::size_t unfinished, std::size_t total) {
  return std::to_string(unfinished) + " (of " + std::to_string(total) + ") futures unfinished";
}

}  // namespace cfutures::detail
