#include "cfutures/errors.hpp"

#include <utility>

#include "cfutures/future.hpp"

namespace cfutures {

cancelled_error::cancelled_error() : error("the future was cancelled") {}

timeout_error::timeout_error() : error("the timeout elapsed") {}

shutdown_error::shutdown_error() : error("cannot schedule new futures after shutdown") {}

remote_error::remote_error(std::string type_name, const std::string& message, std::string traceback)
    : error(message), type_name_(std::move(type_name)), traceback_(std::move(traceback)) {}

}  // namespace cfutures

namespace cfutures::detail {

void throw_no_state() {
  throw invalid_state_error("the future has no state (default-constructed)");
}

}  // namespace cfutures::detail
