// Internal: the stack where an exception was thrown, for remote_error::traceback().
//
// The remote layer defines __cxa_throw (the C++ runtime's entry for every `throw`), so every
// throw of a program that links it passes here first, then goes on to the runtime's. While
// capturing is off (every process until enable_throw_stacks: a program's own, its forked
// children before they serve) that costs one predictable branch per throw. Once on (a
// process-pool worker, an MPI rank serving calls), each throw records its raw stack and its
// object in a small per-thread ring (the last few throws of the thread); encode_exception
// asks for the stack of the exception it encodes and gets it named (stack_symbols.hpp).
// Rethrowing (`throw;`, std::rethrow_exception) keeps the original stack; an exception made
// without a throw (std::make_exception_ptr) or thrown by another thread has none.
//
// Thread safety: both functions may be called from any thread; throw_stack names frames
//   under a process-wide lock.
// Blocking: throw_stack reads module files the first time it names their frames.
// Throws: enable_throw_stacks nothing; throw_stack std::bad_alloc only.
#pragma once

#include <exception>
#include <string>

namespace cfutures::detail {

// From now on, this process records the stack of every throw (not undone; for workers).
void enable_throw_stacks() noexcept;

// The stack where `error` was thrown, from the thrower down to the call the worker ran,
// formatted as format_stack does ("  #0 fn (file:line)\n..."); empty if none was recorded.
std::string throw_stack(const std::exception_ptr& error);

}  // namespace cfutures::detail
