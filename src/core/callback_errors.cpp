#include "cfutures/callback_errors.hpp"

#include <cstdio>
#include <memory>
#include <mutex>
#include <typeinfo>

#include "cfutures/detail/shared_state.hpp"

namespace cfutures {
namespace {

void default_handler(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cfutures: exception calling callback for future: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "cfutures: exception calling callback for future: unknown exception\n");
  }
}

struct handler_slot {
  std::mutex mutex;
  std::shared_ptr<const callback_error_handler> handler;
};

handler_slot& slot() {
  static handler_slot s;
  return s;
}

}  // namespace

callback_error_handler set_callback_error_handler(callback_error_handler handler) {
  auto next =
      handler ? std::make_shared<const callback_error_handler>(std::move(handler)) : nullptr;
  std::lock_guard lock(slot().mutex);
  auto previous = std::exchange(slot().handler, std::move(next));
  return previous ? *previous : callback_error_handler(default_handler);
}

namespace detail {

void report_callback_error(std::exception_ptr error) noexcept {
  std::shared_ptr<const callback_error_handler> handler;
  {
    std::lock_guard lock(slot().mutex);
    handler = slot().handler;
  }
  try {
    if (handler) {
      (*handler)(std::move(error));
    } else {
      default_handler(std::move(error));
    }
  } catch (...) {
    // A handler that throws has nowhere to report to.
  }
}

}  // namespace detail
}  // namespace cfutures
