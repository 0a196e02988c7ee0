// tour: runs every example of the tutorial in order (the list is CFUTURES_SCENARIOS, set in
// examples/CMakeLists.txt), each from the directory this program lives in, forwarding
// --scale and --seed. It shows each scenario's output as it comes, then a table of the
// scenarios with their exit status, wall time and "=> " summary line, and exits 1 if any
// scenario failed. `--trace run.json` records every call of every scenario into one Chrome
// trace-event file (cfutures/trace.hpp: each scenario runs with CFUTURES_TRACE set to a file
// of its own, merged at the end; open it in ui.perfetto.dev, or draw it with
// scripts/trace_to_svg.py).
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "demo.hpp"

namespace {

struct outcome {
  std::string scenario;
  bool ok = false;
  std::string status = "not run";
  double seconds = 0;
  std::string summary;  // the scenario's last "=> " line
};

std::vector<std::string> scenarios() {
  std::istringstream names(CFUTURES_SCENARIOS);
  std::vector<std::string> list;
  for (std::string name; names >> name;) list.push_back(name);
  return list;
}

std::string describe(int wait_status) {
  if (WIFEXITED(wait_status)) {
    const int code = WEXITSTATUS(wait_status);
    return code == 0 ? "ok" : "exit " + std::to_string(code);
  }
  return "signal " + std::to_string(WTERMSIG(wait_status));
}

// Runs `program args...` with its stdout through a pipe: echoed as it comes, and scanned for
// the "=> " line. Its stderr goes straight to ours.
outcome run(const std::filesystem::path& program, const std::vector<std::string>& args,
            const std::string& trace) {
  outcome result;
  result.scenario = program.filename().string();
  const demo::stopwatch watch;
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    std::cerr << "tour: pipe: " << std::generic_category().message(errno) << std::endl;
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  std::vector<char*> argv{const_cast<char*>(program.c_str())};
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  // The scenario's environment: ours, with CFUTURES_TRACE when tracing.
  std::vector<char*> env;
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "CFUTURES_TRACE=", 15) != 0) env.push_back(*e);
  }
  std::string trace_variable = "CFUTURES_TRACE=" + trace;
  if (!trace.empty()) env.push_back(trace_variable.data());
  env.push_back(nullptr);
  const int error = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (error != 0) {
    close(pipe_fds[0]);
    std::cerr << "tour: cannot run " << program.string() << ": "
              << std::generic_category().message(error) << std::endl;
    return result;
  }

  std::string line;
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(pipe_fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::cout.write(buffer, n).flush();
    for (const char c : std::string_view(buffer, static_cast<std::size_t>(n))) {
      if (c != '\n') {
        line += c;
        continue;
      }
      if (line.starts_with("=> ")) result.summary = line.substr(3);
      line.clear();
    }
  }
  close(pipe_fds[0]);

  int wait_status = 0;
  while (waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
  }
  result.seconds = watch.seconds();
  result.ok = WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
  result.status = describe(wait_status);
  return result;
}

// Merges the scenarios' trace files into `path` (one {"traceEvents": [...]}: their events,
// one a line as trace.cpp writes them), and removes them.
void merge_traces(const std::string& path, const std::vector<std::string>& parts) {
  std::ofstream out(path, std::ios::trunc);
  out << "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n";
  bool first = true;
  for (const auto& part : parts) {
    std::ifstream in(part);
    for (std::string line; std::getline(in, line);) {
      if (line.empty() || line.front() != '{' || line.rfind("{\"displayTimeUnit\"", 0) == 0) {
        continue;
      }
      if (line.back() == ',') line.pop_back();
      out << (first ? "" : ",\n") << line;
      first = false;
    }
    std::filesystem::remove(part);
  }
  out << "\n]}\n";
  std::cout << "tour: trace written to " << path
            << " (open it in ui.perfetto.dev, or: python3 scripts/trace_to_svg.py " << path
            << " trace.svg)\n";
}

}  // namespace

int main(int argc, char** argv) {
  // --trace path is the tour's own; the rest is forwarded to every scenario as given.
  std::string trace;
  std::vector<char*> args{argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--trace" && i + 1 < argc) {
      trace = std::filesystem::absolute(argv[++i]).string();
    } else {
      args.push_back(argv[i]);
    }
  }
  demo::parse_args(static_cast<int>(args.size()), args.data());  // validates the options
  const std::vector<std::string> forwarded(args.begin() + 1, args.end());
  const auto directory = std::filesystem::read_symlink("/proc/self/exe").parent_path();
  const auto names = scenarios();

  const demo::stopwatch watch;
  std::vector<outcome> outcomes;
  std::vector<std::string> trace_parts;
  for (std::size_t i = 0; i < names.size(); ++i) {
    std::cout << "\n========== [" << i + 1 << "/" << names.size() << "] " << names[i]
              << " ==========" << std::endl;
    if (!trace.empty()) trace_parts.push_back(trace + "." + names[i]);
    outcomes.push_back(run(directory / names[i], forwarded, trace.empty() ? "" : trace_parts.back()));
  }
  const double total = watch.seconds();
  if (!trace.empty()) merge_traces(trace, trace_parts);

  std::size_t failed = 0;
  std::cout << "\n========== Summary (--scale " << demo::config.scale << ", --seed "
            << demo::config.seed << ") ==========\n";
  std::printf("%-28s %-10s %9s  %s\n", "scenario", "status", "time", "what it showed");
  for (const auto& o : outcomes) {
    failed += o.ok ? 0 : 1;
    std::printf("%-28s %-10s %9s  %s\n", o.scenario.c_str(), o.status.c_str(),
                demo::secs(o.seconds).c_str(), o.summary.c_str());
  }
  std::printf("%zu scenarios, %zu failed, %s in total\n", outcomes.size(), failed,
              demo::secs(total).c_str());
  return failed == 0 ? 0 : 1;
}
