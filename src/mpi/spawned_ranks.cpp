#include "mpi/spawned_ranks.hpp"

#include <link.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "cfutures/errors.hpp"
#include "mpi/mpi_environment.hpp"
#include "mpi/rank_server.hpp"

namespace cfutures::detail {
namespace {

std::string this_program() {
  char path[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0)
    throw error("cfutures::mpi::pool_executor: cannot find this program (/proc/self/exe)");
  return std::string(path, static_cast<std::size_t>(n));
}

std::string joined(const std::vector<std::string>& hosts) {
  std::string out;
  for (const auto& h : hosts) {
    if (h.empty() || h.find(',') != std::string::npos) {
      throw std::invalid_argument("cfutures::mpi::pool_executor: not a host name: \"" + h + "\"");
    }
    if (!out.empty()) out += ',';
    out += h;
  }
  return out;
}

struct info_handle {
  MPI_Info info = MPI_INFO_NULL;
  info_handle() { check_mpi(MPI_Info_create(&info), "MPI_Info_create"); }
  ~info_handle() { MPI_Info_free(&info); }
  info_handle(const info_handle&) = delete;
  info_handle& operator=(const info_handle&) = delete;

  void set(const std::string& key, const std::string& value) {
    if (key.empty() || value.empty() || key.size() >= MPI_MAX_INFO_KEY ||
        value.size() >= MPI_MAX_INFO_VAL) {
      throw std::invalid_argument("cfutures::mpi::pool_executor: MPI cannot take the info pair \"" +
                                  key + "\" = \"" + value + "\" (empty, or a key above " +
                                  std::to_string(MPI_MAX_INFO_KEY - 1) + " or a value above " +
                                  std::to_string(MPI_MAX_INFO_VAL - 1) + " characters)");
    }
    check_mpi(MPI_Info_set(info, key.c_str(), value.c_str()), "MPI_Info_set");
  }
};

struct self_comm {  // MPI_COMM_SELF's duplicate, returning errors (the user's stays as it is)
  MPI_Comm comm = MPI_COMM_NULL;
  self_comm() {
    check_mpi(MPI_Comm_dup(MPI_COMM_SELF, &comm), "MPI_Comm_dup");
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  }
  ~self_comm() { MPI_Comm_free(&comm); }
  self_comm(const self_comm&) = delete;
  self_comm& operator=(const self_comm&) = delete;
};

[[noreturn]] void end_worker(int code) {
  std::fflush(nullptr);
  _exit(code);
}

// dl_iterate_phdr's callback: collects the names X of the loaded mca_pml_X.so.
int note_pml(dl_phdr_info* object, std::size_t, void* found) {
  std::string_view name = object->dlpi_name ? object->dlpi_name : "";
  const std::size_t slash = name.rfind('/');
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  constexpr std::string_view prefix = "mca_pml_";
  constexpr std::string_view suffix = ".so";
  if (name.size() > prefix.size() + suffix.size() && name.starts_with(prefix) &&
      name.ends_with(suffix)) {
    name.remove_prefix(prefix.size());
    name.remove_suffix(suffix.size());
    static_cast<std::vector<std::string>*>(found)->emplace_back(name);
  }
  return 0;
}

// The PML component this process's MPI selected ("ob1", "ucx", "cm"), or "" when it cannot
// tell (spawned_ranks.hpp). After MPI_Init.
std::string selected_pml() {
  std::vector<std::string> loaded;
  dl_iterate_phdr(&note_pml, &loaded);
  return loaded.size() == 1 && loaded.front() != "monitoring" ? loaded.front() : std::string();
}

}  // namespace

std::size_t default_pool_size() {
  int world = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  int* universe = nullptr;
  int found = 0;
  MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_UNIVERSE_SIZE, &universe, &found);
  if (found && universe && *universe > world) return static_cast<std::size_t>(*universe - world);
  return 1;
}

spawned_ranks spawn_ranks(std::size_t n, const std::vector<std::string>& hosts,
                          const spawn_info& extra) {
  if (n == 0) throw std::invalid_argument("cfutures::mpi::pool_executor: max_workers is 0");
  if (n > 1 << 20)
    throw std::invalid_argument("cfutures::mpi::pool_executor: max_workers too large");
  const std::string program = this_program();
  const std::string host_list = joined(hosts);
  info_handle info;
  if (!host_list.empty()) info.set("host", host_list);
  info.set("map_by", "slot:OVERSUBSCRIBE");
  info.set("bind_to", "none");
  for (const auto& [key, value] : extra) info.set(key, value);
  char flag[64];
  std::strncpy(flag, spawned_worker_flag, sizeof flag - 1);
  flag[sizeof flag - 1] = '\0';
  // The workers use the PMIx store this process uses (prefer_safe_pmix_store): a spawned rank
  // whose store differs from its parent's cannot connect to it ("No permission" in dpm.c).
  const char* store = std::getenv("PMIX_MCA_gds");
  std::string store_arg = std::string(pmix_store_flag) + (store ? store : "");
  const std::string pml = selected_pml();
  std::string pml_arg = std::string(pml_flag) + pml;
  std::vector<char*> args{flag};
  if (!pml.empty()) args.push_back(pml_arg.data());
  if (store) args.push_back(store_arg.data());
  args.push_back(nullptr);
  std::vector<int> codes(n, MPI_SUCCESS);
  self_comm self;
  spawned_ranks r;
  const int rc = MPI_Comm_spawn(program.c_str(), args.data(), static_cast<int>(n), info.info, 0,
                                self.comm, &r.intercomm, codes.data());
  if (rc != MPI_SUCCESS) {
    throw error(
        "cfutures::mpi::pool_executor: " +
        mpi_error_text(("MPI_Comm_spawn of " + std::to_string(n) + " workers").c_str(), rc));
  }
  for (const int code : codes) {
    if (code != MPI_SUCCESS) {
      MPI_Comm_free(&r.intercomm);
      throw error("cfutures::mpi::pool_executor: " + mpi_error_text("a spawned worker", code));
    }
  }
  MPI_Comm_set_errhandler(r.intercomm, MPI_ERRORS_RETURN);
  const int merged = MPI_Intercomm_merge(r.intercomm, 0, &r.merged);
  if (merged != MPI_SUCCESS) {
    MPI_Comm_free(&r.intercomm);
    throw error("cfutures::mpi::pool_executor: " + mpi_error_text("MPI_Intercomm_merge", merged));
  }
  MPI_Comm_set_errhandler(r.merged, MPI_ERRORS_RETURN);
  return r;
}

void serve_if_spawned(int argc, char** argv) {
  bool flagged = false;
  const char* store = nullptr;  // the spawning process's PMIx store, if it chose one
  const char* pml = nullptr;    // the spawning process's PML, if it could tell
  const std::size_t store_flag_length = std::strlen(pmix_store_flag);
  const std::size_t pml_flag_length = std::strlen(pml_flag);
  for (int i = 1; i < argc && argv[i]; ++i) {
    flagged = flagged || std::strcmp(argv[i], spawned_worker_flag) == 0;
    if (std::strncmp(argv[i], pmix_store_flag, store_flag_length) == 0)
      store = argv[i] + store_flag_length;
    if (std::strncmp(argv[i], pml_flag, pml_flag_length) == 0) pml = argv[i] + pml_flag_length;
  }
  if (!flagged) return;
  if (store) setenv("PMIX_MCA_gds", store, 1);
  if (pml && *pml) setenv("OMPI_MCA_pml", pml, 1);
  int initialized = 0;
  MPI_Initialized(&initialized);
  int level = 0;
  if (!initialized && MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &level) != MPI_SUCCESS) {
    std::fputs("cfutures::mpi::pool_executor worker: MPI_Init_thread failed\n", stderr);
    end_worker(2);
  }
  MPI_Comm parent = MPI_COMM_NULL;
  MPI_Comm_get_parent(&parent);
  if (parent == MPI_COMM_NULL) {
    std::fprintf(stderr,
                 "cfutures: %s is for the workers a cfutures::mpi::pool_executor spawns; this "
                 "process was not spawned by MPI\n",
                 spawned_worker_flag);
    MPI_Finalize();
    end_worker(2);
  }
  MPI_Comm_set_errhandler(parent, MPI_ERRORS_RETURN);
  MPI_Comm merged = MPI_COMM_NULL;
  if (MPI_Intercomm_merge(parent, 1, &merged) != MPI_SUCCESS) {
    std::fputs("cfutures::mpi::pool_executor worker: MPI_Intercomm_merge failed\n", stderr);
    MPI_Abort(parent, 2);
  }
  MPI_Comm_set_errhandler(merged, MPI_ERRORS_RETURN);
  serve_rank(merged, 0);  // returns at exit; aborts the job on an MPI error
  MPI_Comm_free(&merged);
  MPI_Comm_disconnect(&parent);
  MPI_Finalize();
  end_worker(0);
}

}  // namespace cfutures::detail
