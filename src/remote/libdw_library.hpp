// Internal: libdw (elfutils), loaded with dlopen the first time a stack frame is named, not
// linked. Why: every spawn or forkserver worker is an exec of the program, and the dynamic
// loader maps each linked library at every exec; libdw brings libelf, libz, liblzma and
// libbz2 with it, which cost a worker's start-up more than the rest of it (bench/README.md,
// "Worker start-up without libdw"). Only a process that names frames (the caller for a
// crash, a worker whose call threw) loads it, once.
//
// Thread safety: libdw() may be called from any thread (loads once). Blocking: the first
//   call opens the library files. Throws: nothing; where libdw.so.1 cannot be loaded it
//   returns nullptr, and frames are then named by module and offset only.
#pragma once

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>

namespace cfutures::detail {

struct libdw_library {
  decltype(&::dwarf_attr) dwarf_attr;
  decltype(&::dwarf_attr_integrate) dwarf_attr_integrate;
  decltype(&::dwarf_filesrc) dwarf_filesrc;
  decltype(&::dwarf_formstring) dwarf_formstring;
  decltype(&::dwarf_formudata) dwarf_formudata;
  decltype(&::dwarf_getscopes) dwarf_getscopes;
  decltype(&::dwarf_getscopes_die) dwarf_getscopes_die;
  decltype(&::dwarf_getsrcfiles) dwarf_getsrcfiles;
  decltype(&::dwarf_tag) dwarf_tag;
  decltype(&::dwfl_begin) dwfl_begin;
  decltype(&::dwfl_build_id_find_elf) dwfl_build_id_find_elf;
  decltype(&::dwfl_end) dwfl_end;
  decltype(&::dwfl_lineinfo) dwfl_lineinfo;
  decltype(&::dwfl_module_addrdie) dwfl_module_addrdie;
  decltype(&::dwfl_module_addrinfo) dwfl_module_addrinfo;
  decltype(&::dwfl_module_getelf) dwfl_module_getelf;
  decltype(&::dwfl_module_getsrc) dwfl_module_getsrc;
  decltype(&::dwfl_offline_section_address) dwfl_offline_section_address;
  decltype(&::dwfl_report_begin) dwfl_report_begin;
  decltype(&::dwfl_report_elf) dwfl_report_elf;
  decltype(&::dwfl_report_end) dwfl_report_end;
  decltype(&::dwfl_standard_find_debuginfo) dwfl_standard_find_debuginfo;
  decltype(&::elf_getphdrnum) elf_getphdrnum;  // libelf's, found through libdw's handle
  decltype(&::gelf_getphdr) gelf_getphdr;
};

// The library's functions, or nullptr where it cannot be loaded.
const libdw_library* libdw() noexcept;

}  // namespace cfutures::detail
