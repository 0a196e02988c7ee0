// Names of stack frames through libdw (loaded on first use, libdw_library.hpp): see
// stack_symbols.hpp.
//
// A frame is (module file, offset in the file). Each module is reported to a libdw session of
// its own at its link-time addresses; the offset becomes an address through the program
// header of the loadable segment that holds it. Return addresses are looked up one byte back
// (inside the call instruction); the faulting instruction of a crash as it is. A frame whose
// address lies in functions inlined into others becomes several names, innermost first, each
// with the line it was at (as gdb and eu-stack -i show them).
#include "remote/stack_symbols.hpp"

#include <cxxabi.h>
#include <dwarf.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "remote/libdw_library.hpp"

namespace cfutures::detail {
namespace {

// A symbol's name, demangled, without the version a .dynsym name may carry
// ("pthread_kill@@GLIBC_2.34").
std::string demangle(const char* symbol) {
  std::string name(symbol);
  name = name.substr(0, name.find('@'));
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> out(
      abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status), &std::free);
  return status == 0 && out ? std::string(out.get()) : name;
}

std::string hex(std::uint64_t value) {
  char text[32];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

std::string at(const char* file, int line) {
  if (file == nullptr || line <= 0) return {};
  return std::string(" (") + file + ":" + std::to_string(line) + ")";
}

// The address of `offset` (a position in the module's file) in the session's address space.
bool address_of(Dwfl_Module* module, std::uint64_t offset, GElf_Addr& address) {
  const libdw_library& dw = *libdw();  // loaded: the module was opened
  GElf_Addr bias = 0;
  Elf* elf = dw.dwfl_module_getelf(module, &bias);
  std::size_t count = 0;
  if (elf == nullptr || dw.elf_getphdrnum(elf, &count) != 0) return false;
  for (std::size_t i = 0; i < count; ++i) {
    GElf_Phdr header;
    if (dw.gelf_getphdr(elf, static_cast<int>(i), &header) == nullptr) continue;
    if (header.p_type != PT_LOAD) continue;
    if (offset >= header.p_offset && offset < header.p_offset + header.p_filesz) {
      address = header.p_vaddr + (offset - header.p_offset) + bias;
      return true;
    }
  }
  return false;
}

// The demangled name of an inlined function's DIE (its linkage name where recorded).
std::string inlined_name(Dwarf_Die* die) {
  const libdw_library& dw = *libdw();
  Dwarf_Attribute attribute;
  for (int name : {DW_AT_linkage_name, DW_AT_MIPS_linkage_name, DW_AT_name}) {
    if (dw.dwarf_attr_integrate(die, name, &attribute) != nullptr) {
      if (const char* text = dw.dwarf_formstring(&attribute)) return demangle(text);
    }
  }
  return "??";
}

// The functions inlined at `address`, innermost first, each with the line it was at; the last
// line is where the outermost (real) function was. False without DWARF for the address.
bool inlined_frames(Dwfl_Module* module, GElf_Addr address, const char* file, int line,
                    std::vector<std::string>& out, std::string& outer_at) {
  const libdw_library& dw = *libdw();
  Dwarf_Addr bias = 0;
  Dwarf_Die* cu = dw.dwfl_module_addrdie(module, address, &bias);
  if (cu == nullptr) return false;
  // The innermost scope at the address, then its enclosing DIEs as the tree nests them
  // (dwarf_getscopes would follow an inlined function into its abstract definition).
  Dwarf_Die* scopes = nullptr;
  if (dw.dwarf_getscopes(cu, address - bias, &scopes) <= 0) return false;
  Dwarf_Die innermost = scopes[0];
  std::free(scopes);
  scopes = nullptr;
  const int count = dw.dwarf_getscopes_die(&innermost, &scopes);
  if (count <= 0) return false;
  Dwarf_Files* files = nullptr;
  std::size_t file_count = 0;
  if (dw.dwarf_getsrcfiles(cu, &files, &file_count) != 0) files = nullptr;
  std::string where = at(file, line);
  for (int i = 0; i < count; ++i) {
    const int tag = dw.dwarf_tag(&scopes[i]);
    if (tag == DW_TAG_subprogram) break;
    if (tag != DW_TAG_inlined_subroutine) continue;
    out.push_back(inlined_name(&scopes[i]) + where + " [inlined]");
    Dwarf_Attribute attribute;
    Dwarf_Word call_file = 0;
    Dwarf_Word call_line = 0;
    const bool has_file =
        dw.dwarf_formudata(dw.dwarf_attr(&scopes[i], DW_AT_call_file, &attribute), &call_file) == 0;
    const bool has_line =
        dw.dwarf_formudata(dw.dwarf_attr(&scopes[i], DW_AT_call_line, &attribute), &call_line) == 0;
    const char* name = has_file && files != nullptr && call_file < file_count
                           ? dw.dwarf_filesrc(files, call_file, nullptr, nullptr)
                           : nullptr;
    where = has_line ? at(name, static_cast<int>(call_line)) : std::string();
  }
  std::free(scopes);
  outer_at = where;
  return true;
}

}  // namespace

stack_symbolizer::~stack_symbolizer() {
  for (auto& [path, entry] : modules_) {
    if (entry.session != nullptr) libdw()->dwfl_end(entry.session);
  }
}

Dwfl_Module* stack_symbolizer::open(const std::string& path) {
  auto found = modules_.find(path);
  if (found != modules_.end()) return found->second.module;
  opened entry;
  const libdw_library* loaded = libdw();
  if (loaded == nullptr) {  // frames are named by module and offset
    modules_.emplace(path, entry);
    return nullptr;
  }
  const libdw_library& dw = *loaded;
  static char* debuginfo_path = nullptr;
  static const Dwfl_Callbacks callbacks = {
      dw.dwfl_build_id_find_elf,
      dw.dwfl_standard_find_debuginfo,
      dw.dwfl_offline_section_address,
      &debuginfo_path,
  };
  entry.session = dw.dwfl_begin(&callbacks);
  if (entry.session != nullptr) {
    dw.dwfl_report_begin(entry.session);
    entry.module = dw.dwfl_report_elf(entry.session, path.c_str(), path.c_str(), -1, 0, true);
    dw.dwfl_report_end(entry.session, nullptr, nullptr);
  }
  modules_.emplace(path, entry);
  return entry.module;
}

std::vector<std::string> stack_symbolizer::name(const std::string& path, std::uint64_t offset,
                                                bool exact) {
  Dwfl_Module* module = open(path);
  GElf_Addr address = 0;
  if (module == nullptr || !address_of(module, offset, address)) {
    return {"?? (" + path + "+" + hex(offset) + ")"};
  }
  const libdw_library& dw = *libdw();
  if (!exact && address > 0) --address;
  GElf_Off symbol_offset = 0;
  GElf_Sym symbol;
  const char* symbol_name =
      dw.dwfl_module_addrinfo(module, address, &symbol_offset, &symbol, nullptr, nullptr, nullptr);
  const char* file = nullptr;
  int line = 0;
  Dwarf_Addr line_address = 0;
  if (Dwfl_Line* source = dw.dwfl_module_getsrc(module, address)) {
    file = dw.dwfl_lineinfo(source, &line_address, &line, nullptr, nullptr, nullptr);
  }
  // A line of code before the symbol's start belongs to another function (code without
  // debug info, as _start, gets the last line of the unit before it).
  const bool line_is_ours =
      file != nullptr && (symbol_name == nullptr || line_address + symbol_offset >= address);
  std::vector<std::string> lines;
  std::string outer_at;
  if (!line_is_ours || !inlined_frames(module, address, file, line, lines, outer_at)) {
    outer_at = line_is_ours ? at(file, line) : std::string();
  }
  lines.push_back((symbol_name ? demangle(symbol_name) : "?? (" + path + "+" + hex(offset) + ")") +
                  outer_at);
  return lines;
}

std::vector<std::string> stack_symbolizer::describe(const code_frame* frames, std::size_t n,
                                                    const code_module* modules,
                                                    std::size_t module_count) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) {
    const code_frame& frame = frames[i];
    if (frame.module == no_module || frame.module >= module_count) {
      out.push_back("?? (" + hex(frame.offset) + ")");
      continue;
    }
    auto key =
        std::make_tuple(std::string(modules[frame.module].path), frame.offset, frame.exact != 0);
    auto found = named_.find(key);
    if (found == named_.end()) {
      std::vector<std::string> lines = name(std::get<0>(key), frame.offset, frame.exact != 0);
      found = named_.emplace(std::move(key), std::move(lines)).first;
    }
    out.insert(out.end(), found->second.begin(), found->second.end());
  }
  return out;
}

std::string format_stack(const std::vector<std::string>& frames) {
  std::string text;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    text += "  #" + std::to_string(i) + " " + frames[i] + "\n";
  }
  return text;
}

}  // namespace cfutures::detail
