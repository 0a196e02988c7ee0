// Tutorial section 7, "Pattern 1: Producer-Consumer with Futures": three producers make three
// items each on three workers; their items are then processed in batches of three on two
// workers. Both stages collect with as_completed(), so each batch is taken as soon as it is
// ready.
#include <cfutures/cfutures.hpp>
#include <string>
#include <utility>
#include <vector>

#include "demo.hpp"

namespace {

demo::gauge producers;   // how many producers run at once
demo::gauge processors;  // how many batches are processed at once

// Simulates producing data items.
std::vector<std::string> data_producer(int producer_id, int num_items) {
  const auto inside = producers.enter();
  auto rng = demo::rng_for(demo::cat("producer ", producer_id));
  std::vector<std::string> items;
  for (int i = 0; i < num_items; ++i) {
    demo::sleep(demo::uniform(rng, 0.1, 0.3));  // work to produce each item
    auto item = demo::cat("item_", producer_id, "_", i);
    demo::say("📦 Producer ", producer_id, " created ", item);
    items.push_back(std::move(item));
  }
  return items;
}

// Processes a batch of items.
std::vector<std::string> data_processor(const std::vector<std::string>& items) {
  const auto inside = processors.enter();
  auto rng = demo::rng_for(items.front());
  const int processor_id = demo::randint(rng, 1000, 9999);
  demo::say("🔄 Processor ", processor_id, " starting batch of ", items.size(), " items");
  demo::sleep(demo::uniform(rng, 0.5, 1.5));  // processing time
  std::vector<std::string> processed;
  for (const auto& item : items) processed.push_back("processed_" + item);
  demo::say("✅ Processor ", processor_id, " completed batch");
  return processed;
}

}  // namespace

int main(int argc, char** argv) {
  demo::parse_args(argc, argv);
  demo::say("=== Producer-Consumer Pattern ===");

  // Stage 1: produce data concurrently.
  const demo::stopwatch produce_watch;
  std::vector<std::string> all_items;
  {
    cfutures::thread_pool_executor producer_executor(3);
    std::vector<cfutures::future<std::vector<std::string>>> producer_futures;
    for (int i = 1; i <= 3; ++i) {  // 3 producers, each making 3 items
      producer_futures.push_back(producer_executor.submit(data_producer, i, 3));
    }
    for (const auto& future : cfutures::as_completed(producer_futures)) {
      const auto& items = future.result();
      all_items.insert(all_items.end(), items.begin(), items.end());
    }
  }
  const double produce_time = produce_watch.seconds();
  const double produce_work = demo::total_slept();
  demo::say("📊 Total items produced: ", all_items.size());

  // Stage 2: process the data in batches concurrently.
  const std::size_t batch_size = 3;
  std::vector<std::vector<std::string>> batches;
  for (std::size_t i = 0; i < all_items.size(); ++i) {
    if (i % batch_size == 0) batches.emplace_back();
    batches.back().push_back(all_items[i]);
  }

  const demo::stopwatch process_watch;
  std::vector<std::string> final_results;
  {
    cfutures::thread_pool_executor processor_executor(2);
    std::vector<cfutures::future<std::vector<std::string>>> processor_futures;
    for (const auto& batch : batches) {
      processor_futures.push_back(processor_executor.submit(data_processor, batch));
    }
    for (const auto& future : cfutures::as_completed(processor_futures)) {
      const auto& processed_batch = future.result();
      final_results.insert(final_results.end(), processed_batch.begin(), processed_batch.end());
    }
  }
  const double process_time = process_watch.seconds();
  const double process_work = demo::total_slept() - produce_work;
  demo::say("📊 Total items processed: ", final_results.size());

  demo::expect(all_items.size() == 9 && final_results.size() == 9, "items were lost");
  demo::expect(producers.peak() == 3, "expected 3 producers at once, saw ", producers.peak());
  demo::expect(processors.peak() == 2, "expected 2 batches at once, saw ", processors.peak());
  return demo::finish(final_results.size(), " items: produced by 3 producers at once in ",
                      demo::secs(produce_time), " (sequential ", demo::secs(produce_work),
                      "), processed in ", batches.size(), " batches on 2 workers in ",
                      demo::secs(process_time), " (sequential ", demo::secs(process_work), ")");
}
