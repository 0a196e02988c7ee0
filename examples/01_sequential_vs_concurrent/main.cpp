// Tutorial sections 1-3: three 2 s "downloads", done one after another, then with raw
// std::thread, then with a thread_pool_executor. Both concurrent versions take about one
// download's time; the executor gets there without pre-allocated result slots or joins.
#include <cfutures/cfutures.hpp>
#include <string>
#include <thread>
#include <vector>

#include "demo.hpp"

namespace {

const std::vector<std::string> files{"file1.txt", "file2.txt", "file3.txt"};
constexpr double download_seconds = 2;

// Section 1: sequential, blocking and slow.
std::vector<std::string> download_file_sequential() {
  std::vector<std::string> results;
  for (const auto& file : files) {
    demo::say("Starting download of ", file);
    demo::sleep(download_seconds);  // simulate network delay
    demo::say("Finished downloading ", file);
    results.push_back("Content of " + file);
  }
  return results;
}

// Section 2: raw threads; each writes the slot it was given.
void download_file_into(const std::string& filename, std::vector<std::string>& results,
                        std::size_t index) {
  demo::say("Starting download of ", filename);
  demo::sleep(download_seconds);
  results[index] = "Content of " + filename;
  demo::say("Finished downloading ", filename);
}

std::vector<std::string> download_with_threads() {
  std::vector<std::string> results(files.size());  // pre-allocate the results
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < files.size(); ++i) {
    threads.emplace_back(download_file_into, std::cref(files[i]), std::ref(results), i);
  }
  for (auto& thread : threads) thread.join();  // wait for all threads to complete
  return results;
}

// Section 3: a function that simply returns its value.
std::string download_file(const std::string& filename) {
  demo::say("Starting download of ", filename);
  demo::sleep(download_seconds);
  demo::say("Finished downloading ", filename);
  return "Content of " + filename;
}

std::vector<std::string> download_with_executor() {
  cfutures::thread_pool_executor executor(3);  // the pool is shut down when it goes out of scope
  std::vector<cfutures::future<std::string>> futures;
  for (const auto& file : files) futures.push_back(executor.submit(download_file, file));
  std::vector<std::string> results;
  for (const auto& future : futures) results.push_back(future.result());
  return results;
}

double timed(const char* title, std::vector<std::string> (*approach)()) {
  demo::say("\n=== ", title, " ===");
  const demo::stopwatch watch;
  const auto results = approach();
  const double seconds = watch.seconds();
  demo::say("Total time: ", demo::secs(seconds));
  std::string listing;
  for (const auto& result : results) listing += (listing.empty() ? "" : ", ") + result;
  demo::say("Results: [", listing, "]");
  demo::expect(results.size() == files.size() && results.back() == "Content of file3.txt", title,
               ": wrong results");
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  demo::parse_args(argc, argv);
  const double sequential = timed("Sequential", download_file_sequential);
  const double threads = timed("Raw std::thread", download_with_threads);
  const double executor = timed("thread_pool_executor", download_with_executor);

  demo::expect(threads < sequential / 2, "raw threads were not 2x faster than sequential");
  demo::expect(executor < sequential / 2, "the executor was not 2x faster than sequential");
  return demo::finish(files.size(), " downloads × ", demo::secs(demo::scaled(download_seconds)),
                      ": sequential ", demo::secs(sequential), ", threads ", demo::secs(threads),
                      ", executor ", demo::secs(executor), " (3 workers)");
}
