#include "cfutures/errors.hpp"

#include <utility>

#include "cfutures/future.hpp"

namespace cfutures {

cancelled_error::cancelled_error() : error("the future was cancelled") {}

timeout_error::timeout_error() : error("the timeout elapsed") {}

shutdown_error::shutdown_error() : error("cannot schedule new futures after shutdown") {}

remote_error::remote_error(std::string type_name, const std::string& message, std::string traceback)
    : error(message), type_name_(std::move(type_name)), traceback_(std::move(traceback)) {}

worker_died_error::worker_died_error(const std::string& message, int pid, int term_signal,
                                     int exit_code, std::size_t attempts, std::string backtrace)
    : error(message),
      pid_(pid),
      term_signal_(term_signal),
      exit_code_(exit_code),
      attempts_(attempts),
      backtrace_(std::move(backtrace)) {}

call_timeout_error::call_timeout_error(const std::string& message,
                                       std::chrono::nanoseconds limit, int pid)
    : timeout_error(message), limit_(limit), pid_(pid) {}

}  // namespace cfutures

namespace cfutures::detail {

void throw_no_state() {
  throw invalid_state_error("the future has no state (default-constructed)");
}

}  // namespace cfutures::detail
