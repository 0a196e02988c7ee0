// Must compile: the same kinds of calls as the failing cases, done right. If this fails,
// the harness (compiler, flags, include path) is broken and the other cases prove nothing.
#include <functional>
#include <stop_token>
#include <string>
#include <vector>

#include <cfutures/cfutures.hpp>

struct serializable_widget {
  int size = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(size);
  }
};

int size_of(serializable_widget w) { return w.size; }
serializable_widget make_widget(int n) { return {n}; }
double by_value(double v) { return v; }
int count_until_stopped(std::stop_token token, int limit) {
  int n = 0;
  while (!token.stop_requested() && n < limit) ++n;
  return n;
}
int length_of(std::string s) { return static_cast<int>(s.size()); }
void init() {}

int main() {
  cfutures::process_pool_executor pool({.max_workers = 1, .initializer = &init});
  (void)pool.submit([](int x) { return 40 + x; }, 2);
  (void)pool.submit(&size_of, serializable_widget{3});
  (void)pool.submit(&make_widget, 10);
  (void)pool.submit(&by_value, 4.0);
  (void)pool.map(&length_of, std::vector<std::string>{"a", "bb"});

  cfutures::thread_pool_executor threads(1);
  int captured = 40;
  (void)threads.submit([captured](int x) { return captured + x; }, 2);
  (void)threads.submit(std::function<int(int)>([](int x) { return x; }), 21);
  (void)threads.submit(&count_until_stopped, 100);
  (void)threads.submit(&length_of, "text");
}
