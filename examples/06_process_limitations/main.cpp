// Tutorial section 5, "Process Communication and Limitations", rewritten for C++.
// Python needs functions and data to be picklable; cfutures needs them to be *sendable*:
//   - the function is a plain function or a lambda without captures (the worker rebuilds it
//     from its address in the same program — there is nothing captured to send);
//   - arguments and results are serializable with cereal: numbers, std::string, the std
//     containers, pair/tuple/optional/variant, and your own types with a serialize() member.
// Anything else does not compile, and the error names the type. For example
//     int offset = 10;
//     pool.submit([offset](int x) { return x + offset; }, 1);
// stops with "process_pool_executor: f must be a plain function or a lambda without
// captures ...", and
//     struct widget { int size; };            // no serialize()
//     pool.submit(resize, widget{3});
// stops with "cfutures: this type cannot be sent to or from a worker process ..." and a
// "required from ... require_serializable<widget>" line. (tests/compile_fail proves both.)
// A global variable is the worker's own copy: a change in the parent after the workers
// started is not seen, and a change made by a task stays in that worker.
#include <algorithm>
#include <cfutures/cfutures.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "demo.hpp"

namespace {

int simple_calculation(int x) { return x * x; }

// Uses only its parameters: works.
int problematic_function(int data) { return data * 2; }

// Your own type crosses the boundary once it says how to serialize itself.
struct measurement {
  std::string sensor;
  std::vector<double> values;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(sensor, values);
  }
};

measurement normalize(measurement m) {
  double peak = 0;
  for (double v : m.values) peak = std::max(peak, v);
  for (double& v : m.values) v /= peak;
  m.sensor += " (normalized)";
  return m;
}

int global_counter = 0;
int bump_global() { return ++global_counter; }

struct sensor_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};
int read_sensor(int id) {
  if (id == 3) throw sensor_failure("sensor 3 is offline");
  if (id == 4) throw std::out_of_range("sensor 4 does not exist");
  return id * 100;
}

template <class T>
std::string list(const std::vector<T>& xs) {
  std::string out = "[";
  for (std::size_t i = 0; i < xs.size(); ++i) out += (i ? ", " : "") + demo::cat(xs[i]);
  return out + "]";
}

}  // namespace

int main(int argc, char** argv) {
  cfutures::serve_if_worker(argc, argv);
  demo::parse_args(argc, argv);
  demo::say("=== Process Communication Limitations ===");
  const std::vector<int> data{1, 2, 3, 4, 5};
  cfutures::process_pool_executor executor(2);

  const auto results = executor.map(simple_calculation, data).to_vector();
  demo::say("✅ Simple calculation results: ", list(results));
  const auto results2 = executor.map(problematic_function, data).to_vector();
  demo::say("✅ Data processing results: ", list(results2));
  demo::expect(results == std::vector<int>{1, 4, 9, 16, 25}, "wrong squares");
  demo::expect(results2 == std::vector<int>{2, 4, 6, 8, 10}, "wrong doubles");

  const measurement m =
      executor.submit(normalize, measurement{"thermo-1", {2.0, 4.0, 8.0}}).result();
  demo::say("✅ A user type with serialize(): ", m.sensor, " ", list(m.values));
  demo::expect(m.values == std::vector<double>{0.25, 0.5, 1.0}, "wrong normalization");

  global_counter = 1000;  // the workers were forked before this: they keep their own copy
  const int in_worker = executor.submit(bump_global).result();
  demo::say("🌍 A global bumped in a worker: ", in_worker, "; here it is still ", global_counter);
  demo::expect(global_counter == 1000, "a worker changed the parent's global");

  int remote_errors = 0;
  for (int id : {1, 3, 4}) {
    try {
      demo::say("📟 sensor ", id, ": ", executor.submit(read_sensor, id).result());
    } catch (const cfutures::remote_error& e) {
      ++remote_errors;
      demo::say("❌ sensor ", id, ": remote_error of type ", e.type_name(), ": ", e.what());
    } catch (const std::out_of_range& e) {
      demo::say("❌ sensor ", id, ": std::out_of_range kept its type: ", e.what());
    }
  }
  demo::expect(remote_errors == 1, "expected one remote_error");
  return demo::finish(
      "sent squares, doubles and a user type to 2 worker processes; a user "
      "exception came back as remote_error, std::out_of_range as itself");
}
