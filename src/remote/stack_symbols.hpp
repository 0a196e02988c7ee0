// Internal: names the frames of a stack, given as positions in module files (code_modules.hpp),
// with libdw (elfutils): the function (demangled) from the module's symbol table, and
// file:line from its DWARF line table (or its separate debug file, found by build-id or
// debuglink) where there is one. Works in any process, not only the one the stack came from.
//
// Thread safety: one stack_symbolizer per thread at a time (libdw's handles are not shared);
//   format_stack is a pure function.
// Blocking: opens and reads the module files (and their debug files) the first time each is
//   named; later frames of the same module reuse them, and a frame named once is remembered.
// Throws: std::bad_alloc; a module that cannot be read is not an error (its frames read
//   "?? (path+0x...)").
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "remote/code_modules.hpp"

struct Dwfl;
struct Dwfl_Module;

namespace cfutures::detail {

class stack_symbolizer {
 public:
  stack_symbolizer() = default;
  stack_symbolizer(const stack_symbolizer&) = delete;
  stack_symbolizer& operator=(const stack_symbolizer&) = delete;
  ~stack_symbolizer();

  // The frames of a stack, in order: "fn (file:line)", "fn", or "?? (module+0xoffset)"
  // each; a frame inside inlined functions gives one line per function, innermost first.
  std::vector<std::string> describe(const code_frame* frames, std::size_t n,
                                    const code_module* modules, std::size_t module_count);

 private:
  struct opened {
    Dwfl* session = nullptr;
    Dwfl_Module* module = nullptr;  // null: the file could not be read as ELF
  };
  Dwfl_Module* open(const std::string& path);
  // The lines of one frame (more than one inside inlined functions).
  std::vector<std::string> name(const std::string& path, std::uint64_t offset, bool exact);

  std::map<std::string, opened> modules_;
  // The lines of each frame named so far, by (module, offset, exact): the inlined functions
  // cost a walk of their compilation unit's DIEs, milliseconds in a large one.
  std::map<std::tuple<std::string, std::uint64_t, bool>, std::vector<std::string>> named_;
};

// "  #0 frame\n  #1 frame\n..." (empty for no frames), for messages.
std::string format_stack(const std::vector<std::string>& frames);

}  // namespace cfutures::detail
