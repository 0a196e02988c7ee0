// libdw() (libdw_library.hpp): dlopen("libdw.so.1") once, every function looked up by name;
// all or nothing.
#include "remote/libdw_library.hpp"

#include <dlfcn.h>

namespace cfutures::detail {
namespace {

template <class F>
bool look_up(void* handle, const char* name, F& out) {
  out = reinterpret_cast<F>(dlsym(handle, name));
  return out != nullptr;
}

#define CFUTURES_LOOK_UP(name) look_up(handle, #name, api.name)

const libdw_library* load() noexcept {
  void* handle = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) return nullptr;
  static libdw_library api;
  const bool all =
      CFUTURES_LOOK_UP(dwarf_attr) && CFUTURES_LOOK_UP(dwarf_attr_integrate) &&
      CFUTURES_LOOK_UP(dwarf_filesrc) && CFUTURES_LOOK_UP(dwarf_formstring) &&
      CFUTURES_LOOK_UP(dwarf_formudata) && CFUTURES_LOOK_UP(dwarf_getscopes) &&
      CFUTURES_LOOK_UP(dwarf_getscopes_die) && CFUTURES_LOOK_UP(dwarf_getsrcfiles) &&
      CFUTURES_LOOK_UP(dwarf_tag) && CFUTURES_LOOK_UP(dwfl_begin) &&
      CFUTURES_LOOK_UP(dwfl_build_id_find_elf) && CFUTURES_LOOK_UP(dwfl_end) &&
      CFUTURES_LOOK_UP(dwfl_lineinfo) && CFUTURES_LOOK_UP(dwfl_module_addrdie) &&
      CFUTURES_LOOK_UP(dwfl_module_addrinfo) && CFUTURES_LOOK_UP(dwfl_module_getelf) &&
      CFUTURES_LOOK_UP(dwfl_module_getsrc) && CFUTURES_LOOK_UP(dwfl_offline_section_address) &&
      CFUTURES_LOOK_UP(dwfl_report_begin) && CFUTURES_LOOK_UP(dwfl_report_elf) &&
      CFUTURES_LOOK_UP(dwfl_report_end) && CFUTURES_LOOK_UP(dwfl_standard_find_debuginfo) &&
      CFUTURES_LOOK_UP(elf_getphdrnum) && CFUTURES_LOOK_UP(gelf_getphdr);
  return all ? &api : nullptr;  // the handle stays open for the process's life
}

#undef CFUTURES_LOOK_UP

}  // namespace

const libdw_library* libdw() noexcept {
  static const libdw_library* const loaded = load();
  return loaded;
}

}  // namespace cfutures::detail
