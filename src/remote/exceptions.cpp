// Exception transport across processes: see detail/remote_call.hpp.
#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <new>
#include <stdexcept>
#include <typeinfo>

#include "cfutures/detail/remote_call.hpp"
#include "remote/throw_stacks.hpp"

namespace cfutures::detail {
namespace {

enum class kind : std::uint16_t {
  other = 0,
  logic_error,
  domain_error,
  invalid_argument,
  length_error,
  out_of_range,
  runtime_error,
  range_error,
  overflow_error,
  underflow_error,
  bad_alloc,
  cf_error,
  cancelled_error,
  timeout_error,
  invalid_state_error,
  shutdown_error,
  broken_executor,
  broken_thread_pool,
  broken_process_pool,
  remote_error,
};

std::string demangle(const char* name) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> out(
      abi::__cxa_demangle(name, nullptr, nullptr, &status), &std::free);
  return status == 0 && out ? out.get() : name;
}

template <class E>
bool exactly(const std::exception& e) {
  return typeid(e) == typeid(E);
}

kind classify(const std::exception& e) {
  if (exactly<std::logic_error>(e)) return kind::logic_error;
  if (exactly<std::domain_error>(e)) return kind::domain_error;
  if (exactly<std::invalid_argument>(e)) return kind::invalid_argument;
  if (exactly<std::length_error>(e)) return kind::length_error;
  if (exactly<std::out_of_range>(e)) return kind::out_of_range;
  if (exactly<std::runtime_error>(e)) return kind::runtime_error;
  if (exactly<std::range_error>(e)) return kind::range_error;
  if (exactly<std::overflow_error>(e)) return kind::overflow_error;
  if (exactly<std::underflow_error>(e)) return kind::underflow_error;
  if (exactly<std::bad_alloc>(e)) return kind::bad_alloc;
  if (exactly<error>(e)) return kind::cf_error;
  if (exactly<cancelled_error>(e)) return kind::cancelled_error;
  if (exactly<timeout_error>(e)) return kind::timeout_error;
  if (exactly<invalid_state_error>(e)) return kind::invalid_state_error;
  if (exactly<shutdown_error>(e)) return kind::shutdown_error;
  if (exactly<broken_executor>(e)) return kind::broken_executor;
  if (exactly<broken_thread_pool>(e)) return kind::broken_thread_pool;
  if (exactly<broken_process_pool>(e)) return kind::broken_process_pool;
  if (exactly<cfutures::remote_error>(e)) return kind::remote_error;
  return kind::other;
}

template <class E>
std::exception_ptr make(const std::string& message) {
  return std::make_exception_ptr(E(message));
}

}  // namespace

std::string encode_exception(std::exception_ptr error_ptr) {
  std::uint16_t tag = static_cast<std::uint16_t>(kind::other);
  std::string type_name;
  std::string message;
  std::string traceback;
  try {
    std::rethrow_exception(error_ptr);
  } catch (const cfutures::remote_error& e) {
    tag = static_cast<std::uint16_t>(classify(e));
    type_name = tag == static_cast<std::uint16_t>(kind::remote_error) ? e.type_name()
                                                                      : demangle(typeid(e).name());
    message = e.what();
    traceback = e.traceback();
  } catch (const std::exception& e) {
    tag = static_cast<std::uint16_t>(classify(e));
    type_name = demangle(typeid(e).name());
    message = e.what();
  } catch (...) {
    const std::type_info* t = abi::__cxa_current_exception_type();
    type_name = t ? demangle(t->name()) : "unknown";
    message = "a non-std::exception of type " + type_name + " was thrown";
  }
  // What comes back as remote_error carries the stack of its throw (a remote_error carries
  // the one it came with); what comes back as its own type cannot.
  const bool as_remote_error = tag == static_cast<std::uint16_t>(kind::other) ||
                               tag == static_cast<std::uint16_t>(kind::remote_error);
  if (as_remote_error && traceback.empty()) {
    try {
      traceback = throw_stack(error_ptr);
    } catch (const std::bad_alloc&) {
      traceback.clear();
    }
  }
  payload out;
  write_values(out, tag, type_name, message, traceback);
  return std::string(out.view());
}

std::exception_ptr decode_exception(std::string_view bytes) {
  std::uint16_t tag = 0;
  std::string type_name;
  std::string message;
  std::string traceback;
  try {
    read_values(bytes, tag, type_name, message, traceback);
  } catch (...) {
    return std::current_exception();
  }
  switch (static_cast<kind>(tag)) {
    case kind::logic_error:
      return make<std::logic_error>(message);
    case kind::domain_error:
      return make<std::domain_error>(message);
    case kind::invalid_argument:
      return make<std::invalid_argument>(message);
    case kind::length_error:
      return make<std::length_error>(message);
    case kind::out_of_range:
      return make<std::out_of_range>(message);
    case kind::runtime_error:
      return make<std::runtime_error>(message);
    case kind::range_error:
      return make<std::range_error>(message);
    case kind::overflow_error:
      return make<std::overflow_error>(message);
    case kind::underflow_error:
      return make<std::underflow_error>(message);
    case kind::bad_alloc:
      return std::make_exception_ptr(std::bad_alloc());
    case kind::cf_error:
      return make<error>(message);
    case kind::cancelled_error:
      return make<cancelled_error>(message);
    case kind::timeout_error:
      return make<timeout_error>(message);
    case kind::invalid_state_error:
      return make<invalid_state_error>(message);
    case kind::shutdown_error:
      return make<shutdown_error>(message);
    case kind::broken_executor:
      return make<broken_executor>(message);
    case kind::broken_thread_pool:
      return make<broken_thread_pool>(message);
    case kind::broken_process_pool:
      return make<broken_process_pool>(message);
    case kind::remote_error:
    case kind::other:
      break;
  }
  return std::make_exception_ptr(cfutures::remote_error(type_name, message, traceback));
}

}  // namespace cfutures::detail
