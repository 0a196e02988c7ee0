// Tutorial section 9, "Example 1: Web Scraping with Rate Limiting": five pages fetched with
// a 10% failure rate; two workers cap the requests in flight at two (the rate limit). Results
// are handled as they complete, failures are collected, and a summary is printed.
#include <cfutures/cfutures.hpp>
#include <exception>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "demo.hpp"

namespace {

struct page {
  std::string url;
  std::string content;
  int size;
};

struct failure {
  std::string url;
  std::string error;
};

demo::gauge requests;  // how many requests are in flight

// Simulates fetching a web page with rate limiting.
page fetch_page(const std::string& url, double delay) {
  const auto inside = requests.enter();
  demo::say("🌐 Fetching ", url);
  auto rng = demo::rng_for(url);
  demo::sleep(delay + demo::uniform(rng, 0, 0.5));  // network delay and rate limiting
  if (demo::chance(rng, 0.1)) throw std::runtime_error("Failed to fetch " + url);  // 10%
  const int page_size = demo::randint(rng, 1000, 10000);
  demo::say("✅ Successfully fetched ", url);
  return {url, demo::cat("Content from ", url, " (", page_size, " bytes)"), page_size};
}

}  // namespace

int main(int argc, char** argv) {
  demo::parse_args(argc, argv);
  demo::say("=== Web Scraping Example ===");
  const std::vector<std::string> base_urls{"https://example.com/page1", "https://example.com/page2",
                                           "https://example.com/page3", "https://example.com/page4",
                                           "https://example.com/page5"};

  const demo::stopwatch watch;
  std::vector<page> successful_pages;
  std::vector<failure> failed_pages;
  {
    cfutures::thread_pool_executor executor(2);  // limit to 2 concurrent requests
    std::unordered_map<cfutures::future<page>, std::string> future_to_url;
    for (const auto& url : base_urls) {
      future_to_url.emplace(executor.submit(fetch_page, url, 0.5), url);
    }

    // tqdm(as_completed(future_to_url), total=len(urls)): the bar (on stderr) knows the
    // total from as_completed's size(); the pages are reported once it is complete, so
    // that no line is printed across the bar.
    for (const auto& future :
         cfutures::progress(cfutures::as_completed(future_to_url), {.description = "pages"})) {
      const auto& url = future_to_url.at(future);
      try {
        successful_pages.push_back(future.result(demo::seconds(10)));
      } catch (const std::exception& exc) {
        failed_pages.push_back({url, exc.what()});
      }
    }
  }
  for (const auto& p : successful_pages) demo::say("📊 Scraped ", p.url, ": ", p.size, " bytes");
  for (const auto& f : failed_pages) demo::say("❌ Failed to scrape ", f.url, ": ", f.error);
  const double total = watch.seconds();

  int total_bytes = 0;
  for (const auto& p : successful_pages) total_bytes += p.size;
  demo::say("\n📊 Scraping Summary:");
  demo::say("   ✅ Successful: ", successful_pages.size(), " pages");
  demo::say("   ❌ Failed: ", failed_pages.size(), " pages");
  demo::say("   📦 Total data: ", total_bytes, " bytes");

  demo::expect(successful_pages.size() + failed_pages.size() == base_urls.size(),
               "pages went missing");
  demo::expect(requests.peak() == 2, "expected 2 requests in flight, saw ", requests.peak());
  return demo::finish(base_urls.size(),
                      " pages, at most 2 requests in flight: ", successful_pages.size(),
                      " scraped, ", failed_pages.size(), " failed in ", demo::secs(total),
                      " (sequential ", demo::secs(demo::total_slept()), ")");
}
