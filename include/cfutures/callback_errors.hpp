// cfutures/callback_errors.hpp — what happens to exceptions thrown by done-callbacks.
//
// What: a done-callback (future::add_done_callback) that throws never propagates its
// exception: it is caught and handed to the callback-error handler. The default handler
// writes one line to stderr ("cfutures: exception calling callback for future: <what>"),
// like Python's `LOGGER.exception('exception calling callback for %r', self)`.
//
// Thread safety: set_callback_error_handler may be called from any thread at any time; the
//   handler itself may run concurrently in several threads (the ones completing futures).
// Blocking: set_callback_error_handler does not wait for handlers running meanwhile (they
//   finish with the previous handler); a handler runs in the thread that ran the callback.
// Throws: an exception thrown by the handler is swallowed; set_callback_error_handler may
//   throw std::bad_alloc.
// Python counterpart: the concurrent.futures logger's "exception calling callback" message.
// Deviations: the handler is replaceable (Python's is configured through logging).
#pragma once

#include <exception>
#include <functional>

namespace cfutures {

// Receives the exception a done-callback threw.
using callback_error_handler = std::function<void(std::exception_ptr)>;

// Replaces the handler; an empty function restores the default. Returns the previous one.
callback_error_handler set_callback_error_handler(callback_error_handler handler);

}  // namespace cfutures
