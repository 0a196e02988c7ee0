// Internal: stacks as positions in module files — (module file, offset in that file), the
// same in every process that maps the file, wherever it was loaded (ASLR; a forked or an
// exec'ed worker) — so that another process can name their frames (stack_symbols.hpp).
//
// Thread safety: both functions may run in any thread, concurrently, and in a signal
//   handler: walk_stack is the toolchain's unwinder (libgcc's _Unwind_Backtrace, the one C++
//   exceptions use; lock-free unless frames were registered by hand, as JITs do);
//   locate_code reads /proc/self/maps with raw system calls (openat, read, close) into a
//   buffer on the stack. No allocation, errno left as it was.
// Blocking: locate_code reads a procfs file; nothing else.
// Throws: nothing.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cfutures::detail {

// Room for a module's path; a longer path leaves its frames unresolved.
inline constexpr std::size_t module_path_capacity = 200;
// code_frame::module of an address in no file-backed mapping (or in a module that did not
// fit): its offset is then the raw address.
inline constexpr std::uint16_t no_module = 0xffff;

// A file that holds code: its absolute path, NUL-terminated.
struct code_module {
  char path[module_path_capacity];
};

// One frame of a stack, as a position in a module's file.
struct code_frame {
  std::uint64_t offset = 0;          // in the module's file (or the raw address, see no_module)
  std::uint16_t module = no_module;  // index in the module table
  std::uint8_t exact = 0;            // 1: the faulting instruction; 0: a return address
  std::uint8_t reserved[5] = {};
};

// Up to `max` return addresses of the calling thread's stack, innermost first (the first is
// walk_stack's own); after_signal[i] (may be null) is 1 where ips[i] is the interrupted
// instruction of a signal frame rather than a return address. Returns how many.
std::size_t walk_stack(std::uintptr_t* ips, std::uint8_t* after_signal, std::size_t max) noexcept;

// Where each of ips[0..n) lies: frames[i].module and .offset (exact is left as it was). New
// modules are appended to modules[*module_count .. capacity); an address whose module does
// not fit keeps module = no_module and its raw address. Async-signal-safe.
void locate_code(const std::uintptr_t* ips, std::size_t n, code_frame* frames, code_module* modules,
                 std::size_t* module_count, std::size_t module_capacity) noexcept;

}  // namespace cfutures::detail
