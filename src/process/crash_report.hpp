// Internal: the stack of a worker that dies by a fault, recorded by the dying worker and named
// by its parent.
//
//   worker, at start:   install_crash_handlers(&shared->record)
//   worker, on a fault: SIGSEGV/SIGBUS/SIGFPE/SIGILL/SIGABRT → the handler (on an alternate
//                       stack: a stack overflow is caught too) records the signal and the
//                       stack as positions in module files (remote/code_modules.hpp), then
//                       dies by the same signal, with its default action (waitpid still sees
//                       WIFSIGNALED with it)
//   parent, after waitpid: read_crash(shared->record) → signal, frames by name
//
// Module-relative positions make the record mean the same thing in the parent whether the
// worker was forked (same layout) or exec'ed (start_method::spawn: its own ASLR bases).
//
// Thread safety: install_crash_handlers from the worker's thread that runs calls (the
//   alternate stack is that thread's; a fault in another thread is recorded too, unless it is
//   that thread's stack overflow); only the first thread to fault records. read_crash and
//   format_stack from any thread, once the worker is dead (not while it may write); a kept
//   stack_symbolizer serves one thread at a time.
// Blocking: read_crash reads the modules' files (symbol tables, debug info).
// Throws: install_crash_handlers nothing (without memory for the alternate stack, a stack
//   overflow just kills the worker unrecorded); read_crash std::bad_alloc only.
// Limits: a fault while another thread of the worker holds the dynamic linker's lock (inside
//   dlopen) can hang the unwinder: the parent's timeout must still stop such a worker.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "remote/code_modules.hpp"
#include "remote/stack_symbols.hpp"

namespace cfutures::detail {

inline constexpr std::size_t crash_stack_depth = 56;
inline constexpr std::size_t crash_module_capacity = 10;

// What a dying worker wrote: all zero until a fault. Lives in memory shared with the parent.
struct crash_record {
  std::uint32_t state = 0;          // 0 nothing, 1 recording (died while recording), 2 done
  std::int32_t signal = 0;          // the fatal signal
  std::int32_t code = 0;            // its si_code
  std::uint32_t depth = 0;          // frames[0..depth) are recorded
  std::uint64_t fault_address = 0;  // si_addr (SIGSEGV, SIGBUS, SIGFPE, SIGILL)
  std::uint32_t module_count = 0;   // modules[0..module_count) are named by frames
  std::uint32_t reserved = 0;
  code_frame frames[crash_stack_depth];  // innermost first: frames[0] faulted
  code_module modules[crash_module_capacity];
};
static_assert(std::is_standard_layout_v<crash_record>);
static_assert(std::is_trivially_copyable_v<crash_record>);
static_assert(sizeof(crash_record) <= 3072);

// A crash, named.
struct crash_info {
  int signal = 0;                    // the fatal signal
  std::uintptr_t fault_address = 0;  // where it faulted (0 for SIGABRT and signals sent)
  bool complete = false;             // false: the handler died before it recorded everything
  std::vector<std::string> frames;   // innermost first: "fn (file:line)", "fn", "?? (...)"
};

// Worker side, once at start: makes an empty record at `record` (raw shared memory will do:
// worker_status::crash_area(), cast) and installs the handlers that fill it.
void install_crash_handlers(crash_record* record) noexcept;

// Parent side: the crash *record holds, its frames named; nullopt if none was recorded.
std::optional<crash_info> read_crash(const crash_record& record);
// The same with `symbols`, which keeps the module files (and debug information) it read open
// for the next crash: a pool that keeps one for its life names later crashes in about a
// millisecond instead of reading them again (tens to hundreds of ms with a large separate
// debug file, such as libc6-dbg's); the files close when it is destroyed.
std::optional<crash_info> read_crash(const crash_record& record, stack_symbolizer& symbols);

}  // namespace cfutures::detail
