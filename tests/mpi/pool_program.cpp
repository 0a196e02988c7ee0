// A program of mpi::pool_executor (mpi4py's MPIPoolExecutor), run as a singleton and under
// `mpiexec -n 1` (CTest, label mpi) and across namespace hosts (tests/hosts). main() calls
// serve_if_worker first: the pool's workers are this program again.
//   pool_program                 values, exceptions, map with chunksize, cancel, shutdown,
//                                a pool made again after the first, two at once, no worker
//                                process left afterwards; workers not bound to a core
//                                unless mpi_info asks; mpi_info pairs MPI cannot take
//                                refused; the initializer, and one that throws
//   pool_program --mpi-init      the same after plain MPI_Init (MPI_THREAD_SINGLE)
//   pool_program --hosts a,b     additionally: the workers run on exactly these hosts
//   pool_program --die           a worker aborts: the job must end (never hang)
// Exits 0 when every check holds; prints what failed otherwise.
#include <dirent.h>
#include <link.h>
#include <mpi.h>
#include <sched.h>
#include <unistd.h>

#include <cfutures/cfutures.hpp>
#include <cfutures/mpi.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  if (ok) return;
  std::fprintf(stderr, "check failed: %s\n", what.c_str());
  ++failures;
}

int square(int x) { return x * x; }
int nap(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
int reject(int x) { throw std::out_of_range("out of range: " + std::to_string(x)); }
std::string host_name(int) {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}
int pid_of_worker(int) { return static_cast<int>(getpid()); }
int given_at_start = 0;  // set by the initializer, in each worker
void remember(int value, std::string tag) { given_at_start = value + static_cast<int>(tag.size()); }
int remembered(int) { return given_at_start; }
void refuse() { throw std::runtime_error("no database here"); }
std::string working_directory(int) {
  char path[4096] = {};
  return getcwd(path, sizeof path) ? path : "";
}
// How many CPUs a process may run on: a worker's own (pid 0) or init's, which is every CPU
// this machine (or container) gives its processes.
int cpus_allowed(int pid) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(pid, sizeof set, &set) != 0) return -1;
  return CPU_COUNT(&set);
}
void end_abruptly() { std::abort(); }

// The point-to-point layers (PML components) this process's MPI kept loaded: its selection.
std::string loaded_pmls(int) {
  std::string names;
  dl_iterate_phdr(
      [](dl_phdr_info* object, std::size_t, void* out) {
        const std::string path = object->dlpi_name ? object->dlpi_name : "";
        const std::size_t at = path.find("mca_pml_");
        if (at != std::string::npos) *static_cast<std::string*>(out) += path.substr(at) + " ";
        return 0;
      },
      &names);
  return names;
}
std::string pml_setting(int) {
  const char* pml = std::getenv("OMPI_MCA_pml");
  return pml ? pml : "";
}

// Processes on this host (this pid namespace) started as a pool's worker.
int workers_alive() {
  int n = 0;
  DIR* proc = opendir("/proc");
  if (!proc) return -1;
  while (const dirent* e = readdir(proc)) {
    std::ifstream in(std::string("/proc/") + e->d_name + "/cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find("--cfutures-mpi-pool-worker") != std::string::npos) ++n;
  }
  closedir(proc);
  return n;
}

bool no_worker_left_within(std::chrono::seconds bound) {
  const auto until = std::chrono::steady_clock::now() + bound;
  while (workers_alive() != 0) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

void exercise(cfutures::mpi::pool_executor& pool, std::size_t workers) {
  check(pool.max_workers() == workers, "max_workers() is " + std::to_string(workers));
  check(pool.submit(square, 12).result() == 144, "submit/result");
  bool threw = false;
  try {
    (void)pool.submit(reject, 3).result();
  } catch (const std::out_of_range& e) {
    threw = std::string(e.what()) == "out of range: 3";
  }
  check(threw, "std::out_of_range comes back as itself");
  std::vector<int> xs(1000);
  for (int i = 0; i < 1000; ++i) xs[static_cast<std::size_t>(i)] = i;
  const std::vector<int> squares =
      pool.map(square, xs, cfutures::map_options{.chunksize = 100}).to_vector();
  bool right = squares.size() == xs.size();
  for (std::size_t i = 0; right && i < xs.size(); ++i) right = squares[i] == xs[i] * xs[i];
  check(right, "map with chunksize 100");
  std::vector<cfutures::future<int>> naps;
  for (std::size_t i = 0; i < workers; ++i) naps.push_back(pool.submit(nap, 300));
  auto queued = pool.submit(square, 5);
  check(queued.cancel(), "a call queued behind busy workers can be cancelled");
  int slept = 0;
  for (const auto& f : cfutures::as_completed(naps)) slept += f.result();
  check(slept == 300 * static_cast<int>(workers), "as_completed over the naps");
  std::set<int> pids;
  for (const int pid : pool.map(pid_of_worker, std::vector<int>(40)).to_vector()) pids.insert(pid);
  check(pids.count(static_cast<int>(getpid())) == 0, "calls run in other processes");
  const int all = cpus_allowed(1);
  const int theirs = pool.submit(cpus_allowed, 0).result();
  check(theirs == all, "workers are not bound (" + std::to_string(theirs) + " of " +
                           std::to_string(all) + " CPUs)");
  // The workers were told this process's PML (spawned_ranks.hpp), so their MPI_Init does not
  // probe the others: the same one is loaded there.
  const std::string here = loaded_pmls(0);
  const std::string there = pool.submit(loaded_pmls, 0).result();
  check(here == there,
        "workers use the spawning process's PML (here: " + here + "; there: " + there + ")");
  if (here == "mca_pml_ob1.so ") {
    check(pool.submit(pml_setting, 0).result() == "ob1", "the workers are told the PML (ob1)");
  }
}

int run(const std::vector<std::string>& hosts) {
  {
    cfutures::mpi::pool_executor pool({.max_workers = 2, .hosts = hosts});
    exercise(pool, 2);
    if (!hosts.empty()) {
      std::set<std::string> ran_on;
      for (const auto& h : pool.map(host_name, std::vector<int>(40)).to_vector()) ran_on.insert(h);
      std::set<std::string> wanted(hosts.begin(), hosts.end());
      std::string seen;
      for (const auto& h : ran_on) seen += h + " ";
      check(ran_on == wanted, "workers on the given hosts (ran on: " + seen + ")");
    }
    pool.shutdown();
    bool refused = false;
    try {
      (void)pool.submit(square, 1);
    } catch (const cfutures::shutdown_error&) {
      refused = true;
    }
    check(refused, "submit after shutdown throws shutdown_error");
  }
  check(no_worker_left_within(std::chrono::seconds(10)), "no worker left after the pool");
  {
    cfutures::mpi::pool_executor again({.max_workers = 1});  // made again, then two at once
    cfutures::mpi::pool_executor other({.max_workers = 1});
    check(again.submit(square, 3).result() + other.submit(square, 4).result() == 25,
          "two pools at once");
    check(again.max_workers() == 1, "max_workers 1");
  }
  {
    cfutures::mpi::pool_executor by_default;  // mpi4py's rule: universe minus world, else 1
    check(by_default.submit(square, 6).result() == 36, "a pool of the default size");
  }
  check(no_worker_left_within(std::chrono::seconds(10)), "no worker left at the end");
  bool rejected = false;
  try {
    cfutures::mpi::pool_executor none({.max_workers = 0});
  } catch (const std::invalid_argument&) {
    rejected = true;
  }
  check(rejected, "max_workers 0 is std::invalid_argument");
  for (const auto& pair :
       std::vector<std::pair<std::string, std::string>>{{"", "x"},
                                                        {"bind_to", ""},
                                                        {std::string(36, 'k'), "x"},
                                                        {"host", std::string(256, 'h')}}) {
    bool refused = false;
    try {
      cfutures::mpi::pool_executor bad({.max_workers = 1, .mpi_info = {pair}});
    } catch (const std::invalid_argument& e) {
      refused = std::string(e.what()).find("info pair") != std::string::npos;
    }
    check(refused, "mpi_info pair \"" + pair.first.substr(0, 8) + "\" is std::invalid_argument");
  }
  if (cpus_allowed(1) > 1) {  // mpi_info reaches the spawn, after the pool's own keys
    cfutures::mpi::pool_executor bound({.max_workers = 1, .mpi_info = {{"bind_to", "core"}}});
    check(bound.submit(cpus_allowed, 0).result() == 1, "mpi_info bind_to core binds the worker");
  }
  check(no_worker_left_within(std::chrono::seconds(10)), "no worker left after mpi_info pools");
  {
    cfutures::mpi::pool_executor initialized({.max_workers = 2,
                                              .mpi_info = {{"wdir", "/"}},
                                              .initializer = {&remember, 40, std::string("ab")}});
    bool all = true;
    for (const int v : initialized.map(remembered, std::vector<int>(40)).to_vector()) {
      all = all && v == 42;
    }
    check(all, "the initializer ran first in every worker, with its arguments");
    check(initialized.submit(working_directory, 0).result() == "/",
          "mpi_info's wdir is the workers' working directory");
  }
  {
    cfutures::mpi::pool_executor refused({.max_workers = 2, .initializer = &refuse});
    std::string why;
    try {
      (void)refused.submit(square, 2);
    } catch (const cfutures::broken_executor& e) {
      why = e.what();
    }
    check(why.find("no database here") != std::string::npos,
          "a failed initializer breaks the pool, naming its exception (" + why + ")");
  }
  check(no_worker_left_within(std::chrono::seconds(10)),
        "no worker left after a failed initializer");
  return failures == 0 ? 0 : 1;
}

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  for (std::string h; std::getline(in, h, ',');) out.push_back(h);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  cfutures::serve_if_worker(argc, argv);
  std::vector<std::string> hosts;
  bool plain_init = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--mpi-init") == 0) {
      setenv("PMIX_MCA_gds", "hash", 0);  // what docs/mpi.md asks of such a program
      plain_init = MPI_Init(nullptr, nullptr) == MPI_SUCCESS;
    }
    if (std::strcmp(argv[i], "--hosts") == 0 && i + 1 < argc) hosts = split(argv[i + 1]);
    if (std::strcmp(argv[i], "--die") == 0) {
      cfutures::mpi::pool_executor pool({.max_workers = 2});
      pool.submit(end_abruptly).result();  // the job ends here
      return 3;
    }
  }
  const int code = run(hosts);
  if (plain_init) MPI_Finalize();  // else the library finalises MPI at exit
  return code;
}
