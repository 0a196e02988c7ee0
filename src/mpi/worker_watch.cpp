#include "mpi/worker_watch.hpp"

#include <dirent.h>
#include <mpi.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "mpi/spawned_ranks.hpp"

namespace cfutures::detail {
namespace {

std::atomic<bool> finalizing{false};

int note_finalize(MPI_Comm, int, void*, void*) {
  finalizing.store(true);
  return MPI_SUCCESS;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// /proc/<pid>/stat's command name and parent.
bool stat_of(const std::string& pid, std::string& name, long& parent) {
  const std::string stat = read_all("/proc/" + pid + "/stat");
  const auto open = stat.find('(');
  const auto close = stat.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close + 4 >= stat.size()) {
    return false;
  }
  name = stat.substr(open + 1, close - open - 1);
  parent = std::strtol(stat.c_str() + close + 4, nullptr, 10);  // after ") S "
  return true;
}

std::vector<long> processes() {
  std::vector<long> out;
  if (DIR* proc = opendir("/proc")) {
    while (const dirent* e = readdir(proc)) {
      if (const long pid = std::strtol(e->d_name, nullptr, 10); pid > 0) out.push_back(pid);
    }
    closedir(proc);
  }
  return out;
}

// This process's daemon children (orted): a singleton's.
std::set<long> daemons() {
  std::set<long> out;
  std::string name;
  long parent = 0;
  for (const long pid : processes()) {
    if (stat_of(std::to_string(pid), name, parent) && parent == getpid() && name == "orted") {
      out.insert(pid);
    }
  }
  return out;
}

void watch(int pidfd, long pid, pool_ending ending) {
  pollfd p{pidfd, POLLIN, 0};
  while (poll(&p, 1, -1) < 0) {
  }
  close(pidfd);
  if (ending->load() || finalizing.load()) return;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::fprintf(stderr,
               "cfutures::mpi::pool_executor: worker process %ld on %s was lost (Open MPI "
               "cannot go on without it, and cannot end a singleton); ending this process, "
               "as mpiexec ends its job\n",
               pid, host);
  std::fflush(nullptr);
  _exit(1);
}

}  // namespace

void watch_spawned_workers(const pool_ending& ending) noexcept {
  static std::mutex mutex;
  static std::set<long> watched;
  std::lock_guard lock(mutex);
  try {
    const std::set<long> heads = daemons();
    if (heads.empty()) return;  // under mpiexec
    static std::once_flag keyed;
    std::call_once(keyed, [] {
      int key = MPI_KEYVAL_INVALID;
      MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, note_finalize, &key, nullptr);
      MPI_Comm_set_attr(MPI_COMM_SELF, key, nullptr);
    });
    std::string name;
    long parent = 0;
    for (const long pid : processes()) {
      if (watched.count(pid) || !stat_of(std::to_string(pid), name, parent) ||
          !heads.count(parent)) {
        continue;
      }
      if (read_all("/proc/" + std::to_string(pid) + "/cmdline").find(spawned_worker_flag) ==
          std::string::npos) {
        continue;
      }
      const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0));
      if (pidfd < 0) continue;
      watched.insert(pid);
      std::thread(watch, pidfd, pid, ending).detach();
    }
  } catch (...) {
    // Not watched: as under Open MPI alone.
  }
}

}  // namespace cfutures::detail
