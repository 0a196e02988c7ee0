// cfutures/errors.hpp — the library's exception types.
//
// What: the exceptions cfutures throws, mirroring concurrent.futures' exception hierarchy:
//   error (Python Error)                     base of the library's own errors
//   ├─ cancelled_error (CancelledError)       result()/exception() of a cancelled future
//   ├─ timeout_error (TimeoutError)           a timeout elapsed (result, exception, as_completed,
//   map) ├─ invalid_state_error (InvalidStateError) a promise completed twice, or after
//   cancellation ├─ shutdown_error (RuntimeError "cannot schedule new futures after shutdown") ├─
//   broken_executor (BrokenExecutor)       the executor can no longer run work │   ├─
//   broken_thread_pool (BrokenThreadPool) │   └─ broken_process_pool (BrokenProcessPool) └─
//   remote_error                           an exception from another process whose type
//                                             cannot be recreated here
// Thread safety: immutable after construction; copy like any std::exception.
// Python deviation: shutdown_error is its own type (Python raises a plain RuntimeError).
#pragma once

#include <stdexcept>
#include <string>

namespace cfutures {

class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class cancelled_error : public error {
 public:
  cancelled_error();
  using error::error;
};

class timeout_error : public error {
 public:
  timeout_error();
  using error::error;
};

class invalid_state_error : public error {
 public:
  using error::error;
};

class shutdown_error : public error {
 public:
  shutdown_error();
  using error::error;
};

class broken_executor : public error {
 public:
  using error::error;
};

class broken_thread_pool : public broken_executor {
 public:
  using broken_executor::broken_executor;
};

class broken_process_pool : public broken_executor {
 public:
  using broken_executor::broken_executor;
};

// An exception raised in another process whose dynamic type cannot be recreated here.
// what() is the original message; type_name() the original (demangled) type name.
class remote_error : public error {
 public:
  remote_error(std::string type_name, const std::string& message, std::string traceback = {});
  const std::string& type_name() const noexcept { return type_name_; }
  const std::string& traceback() const noexcept { return traceback_; }

 private:
  std::string type_name_;
  std::string traceback_;
};

}  // namespace cfutures
