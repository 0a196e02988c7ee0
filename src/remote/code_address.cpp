// Code addresses as (module, offset): see detail/remote_call.hpp.
#include <dlfcn.h>
#include <link.h>

#include <mutex>
#include <unordered_set>

#include "cfutures/detail/remote_call.hpp"

namespace cfutures::detail {
namespace {

struct registry {
  std::mutex mutex;
  std::unordered_set<invoker> entries;
};

registry& invokers() {
  static registry r;
  return r;
}

struct lookup {
  const code_ref* ref;
  const void* address = nullptr;
  bool module_found = false;
};

// Finds the module named ref->module and checks that the address lies in one of its
// executable segments.
int find_in_module(dl_phdr_info* info, std::size_t, void* data) {
  auto* l = static_cast<lookup*>(data);
  const char* name = info->dlpi_name ? info->dlpi_name : "";
  if (l->ref->module != name) return 0;
  l->module_found = true;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
    if (l->ref->offset >= ph.p_vaddr && l->ref->offset < ph.p_vaddr + ph.p_memsz) {
      l->address = reinterpret_cast<const void*>(info->dlpi_addr + l->ref->offset);
      return 1;
    }
  }
  return 1;
}

}  // namespace

code_ref portable_address(const void* code) {
  Dl_info info{};
  link_map* map = nullptr;
  if (!dladdr1(code, &info, reinterpret_cast<void**>(&map), RTLD_DL_LINKMAP) || !map) {
    throw error("cfutures: cannot locate the module of a function sent to a worker");
  }
  return code_ref{map->l_name ? map->l_name : "",
                  reinterpret_cast<std::uintptr_t>(code) - map->l_addr};
}

const void* local_address(const code_ref& ref) {
  lookup l{&ref};
  dl_iterate_phdr(&find_in_module, &l);
  if (!l.module_found) {
    throw protocol_error("module '" + ref.module + "' is not loaded in the worker process");
  }
  if (!l.address)
    throw protocol_error("the address sent is not code of module '" + ref.module + "'");
  return l.address;
}

bool register_invoker(invoker entry) noexcept {
  registry& r = invokers();
  std::lock_guard lock(r.mutex);
  r.entries.insert(entry);
  return true;
}

bool is_registered_invoker(invoker entry) noexcept {
  registry& r = invokers();
  std::lock_guard lock(r.mutex);
  return r.entries.count(entry) != 0;
}

}  // namespace cfutures::detail
