// Beyond the tutorial: a crawler written with coroutines. Pages are fetched on a thread pool
// (I/O-bound), parsed on a process pool (CPU-bound), and each page's coroutine follows the
// links it finds: no thread blocks while a page waits for its fetch, its parse or its
// children (co_await), and `dataflow` turns the parsed pages into a report once they are in.
//
// Where each step runs: a coroutine resumes where the awaited future completes. After a
// fetch that is a thread-pool worker; after a parse it is a thread of the process pool's
// (the one that receives the reply), so the coroutine first moves back to the thread pool
// with `co_await cfutures::resume_on(io)` before doing anything long.
#include <algorithm>
#include <cfutures/cfutures.hpp>
#include <string>
#include <utility>
#include <vector>

#include "demo.hpp"

namespace {

struct parsed {
  int words = 0;
  std::vector<std::string> links;
  template <class Archive>
  void serialize(Archive& archive) {  // crosses the process boundary (cereal's convention)
    archive(words, links);
  }
};

demo::gauge fetches;  // how many fetches are in flight

// Simulated download (thread pool): the page text, with links written as "->url".
std::string fetch(const std::string& url) {
  const auto inside = fetches.enter();
  auto rng = demo::rng_for(url);
  demo::sleep(demo::uniform(rng, 0.2, 0.4));
  const int depth = static_cast<int>(std::count(url.begin(), url.end(), '/')) - 2;
  std::string text = "words about " + url;
  if (depth < 4) {
    for (int i = 0; i < 3; ++i) text += " ->" + url + "/" + std::to_string(i);
  }
  return text;
}

// CPU-bound parsing (process pool: a plain function, values cross as arguments).
parsed parse(std::string text) {
  parsed out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = std::min(text.find(' ', pos), text.size());
    const std::string word = text.substr(pos, end - pos);
    if (word.rfind("->", 0) == 0) {
      out.links.push_back(word.substr(2));
    } else if (!word.empty()) {
      ++out.words;
    }
    pos = end + 1;
  }
  return out;
}

// Words on the site under `url`: fetch, parse, then crawl the links, all concurrently.
cfutures::future<int> crawl(cfutures::thread_pool_executor& io,
                            cfutures::process_pool_executor& cpu, std::string url) {
  const std::string text = co_await io.submit(fetch, url);
  const parsed page = co_await cpu.submit(parse, text);  // resumes in the process pool's thread
  co_await cfutures::resume_on(io);                      // ...so move back to a worker
  std::vector<cfutures::future<int>> children;
  for (const auto& link : page.links) children.push_back(crawl(io, cpu, link));
  int words = page.words;
  for (auto& child : children) words += co_await std::move(child);
  co_return words;
}

int sum_pages(int a, int b) { return a + b; }

}  // namespace

int main(int argc, char** argv) {
  cfutures::serve_if_worker(argc, argv);
  demo::parse_args(argc, argv);
  demo::say("=== Crawler with coroutines ===");
  const demo::stopwatch watch;
  int total = 0;
  int combined = 0;
  {
    cfutures::thread_pool_executor io(8);
    cfutures::process_pool_executor cpu(2);
    auto left = crawl(io, cpu, "https://example.com/a");
    auto right = crawl(io, cpu, "https://example.com/b");
    demo::say("two crawls started; this thread is free meanwhile");
    // dataflow: sum_pages runs on the process pool once both crawls are done.
    combined = cfutures::dataflow(cpu, sum_pages, left, right).result();
    total = left.result() + right.result();
    demo::say("📊 a: ", left.result(), " words, b: ", right.result(), " words");
  }
  const double seconds = watch.seconds();
  // Each site: 1 + 3 + 9 + 27 = 40 pages of 3 words each.
  demo::expect(total == 240, "expected 240 words, counted ", total);
  demo::expect(combined == total, "dataflow's sum ", combined, " differs from ", total);
  demo::expect(fetches.peak() > 1, "the fetches did not overlap");
  return demo::finish("80 pages crawled in coroutines: ", total, " words, at most ", fetches.peak(),
                      " fetches at once, in ", demo::secs(seconds), " (sequential ",
                      demo::secs(demo::total_slept()), ")");
}
