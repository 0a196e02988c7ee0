// Tutorial section 9, "Example 2: Data Processing Pipeline": 20 records in chunks of five go
// through three stages, each an executor.map() over the chunks with its own pool: clean (3
// workers), enrich (2 workers), aggregate (2 workers); the per-chunk aggregates are combined.
// Unlike the tutorial, the combination adds the chunks' totals (the tutorial multiplies each
// by its count, which inflates the averages).
#include <cctype>
#include <cfutures/cfutures.hpp>
#include <map>
#include <string>
#include <vector>

#include "chunks.hpp"
#include "demo.hpp"

namespace {

using tutorial::chunked;
using tutorial::flattened;

struct record {
  int id;
  int value;
  char category;  // 'A', 'B' or 'C'; lower case once cleaned
};

struct enriched_record {
  record item;
  double enriched_value;
  int category_score;
};

struct category_stats {
  int count = 0;
  double total_value = 0;
};
using aggregation = std::map<char, category_stats>;

demo::gauge cleaning, enriching, aggregating;  // how many chunks each stage runs at once

// Stage 1: clean and validate.
std::vector<record> clean_data(const std::vector<record>& data_chunk) {
  const auto inside = cleaning.enter();
  std::vector<record> cleaned;
  for (const auto& item : data_chunk) {
    demo::sleep(0.1);      // cleaning work
    if (item.value > 0) {  // simple validation
      cleaned.push_back({item.id, item.value, static_cast<char>(std::tolower(item.category))});
    }
  }
  demo::say("🧹 Cleaned chunk of ", data_chunk.size(), " items -> ", cleaned.size(), " valid");
  return cleaned;
}

// Stage 2: enrich with additional information (e.g. API calls, database lookups).
std::vector<enriched_record> enrich_data(const std::vector<record>& data_chunk) {
  const auto inside = enriching.enter();
  const std::map<char, int> scores{{'a', 10}, {'b', 20}, {'c', 30}};
  std::vector<enriched_record> enriched;
  for (const auto& item : data_chunk) {
    demo::sleep(0.2);  // enrichment work
    enriched.push_back({item, item.value * 1.5, scores.at(item.category)});
  }
  demo::say("📈 Enriched chunk of ", data_chunk.size(), " items");
  return enriched;
}

// Stage 3: aggregate and summarise.
aggregation aggregate_data(const std::vector<enriched_record>& data_chunk) {
  const auto inside = aggregating.enter();
  demo::sleep(0.3);  // aggregation work
  aggregation by_category;
  for (const auto& item : data_chunk) {
    auto& stats = by_category[item.item.category];
    ++stats.count;
    stats.total_value += item.enriched_value;
  }
  demo::say("📊 Aggregated chunk into ", by_category.size(), " categories");
  return by_category;
}

}  // namespace

int main(int argc, char** argv) {
  demo::parse_args(argc, argv);
  demo::say("=== Data Processing Pipeline ===");
  auto rng = demo::rng_for("raw data");
  std::vector<record> raw_data;
  for (int i = 0; i < 20; ++i) {
    raw_data.push_back(
        {i, demo::randint(rng, 1, 100), static_cast<char>('A' + demo::randint(rng, 0, 2))});
  }

  const std::size_t chunk_size = 5;
  const auto chunks = chunked(raw_data, chunk_size);
  demo::say("🚀 Starting pipeline with ", chunks.size(), " chunks of data");
  const demo::stopwatch watch;

  // Stage 1: clean the data in parallel.
  std::vector<std::vector<record>> cleaned_chunks;
  {
    cfutures::thread_pool_executor executor(3);
    cleaned_chunks = executor.map(clean_data, chunks).to_vector();
  }
  const auto cleaned_data = flattened(cleaned_chunks);
  demo::say("📊 Stage 1 complete: ", cleaned_data.size(), " items cleaned");

  // Stage 2: enrich the data in parallel.
  std::vector<std::vector<enriched_record>> enriched_results;
  {
    cfutures::thread_pool_executor executor(2);
    enriched_results = executor.map(enrich_data, chunked(cleaned_data, chunk_size)).to_vector();
  }
  const auto enriched_data = flattened(enriched_results);
  demo::say("📊 Stage 2 complete: ", enriched_data.size(), " items enriched");

  // Stage 3: aggregate the data in parallel.
  std::vector<aggregation> aggregated_results;
  {
    cfutures::thread_pool_executor executor(2);
    aggregated_results =
        executor.map(aggregate_data, chunked(enriched_data, chunk_size)).to_vector();
  }
  const double total = watch.seconds();

  // Combine the aggregation results.
  aggregation final_aggregation;
  for (const auto& result : aggregated_results) {
    for (const auto& [category, stats] : result) {
      final_aggregation[category].count += stats.count;
      final_aggregation[category].total_value += stats.total_value;
    }
  }
  int items = 0;
  demo::say("📊 Pipeline complete! Final aggregation by category:");
  for (const auto& [category, stats] : final_aggregation) {
    items += stats.count;
    demo::say("   Category ", category, ": ", stats.count, " items, avg value: ",
              demo::fixed(stats.count > 0 ? stats.total_value / stats.count : 0));
  }

  demo::expect(items == 20, "the pipeline lost items: ", items, " of 20");
  demo::expect(cleaning.peak() == 3 && enriching.peak() == 2 && aggregating.peak() == 2,
               "expected 3, 2, 2 chunks at once, saw ", cleaning.peak(), ", ", enriching.peak(),
               ", ", aggregating.peak());
  return demo::finish(items, " records, 3 map() stages on 3, 2, 2 workers: ", demo::secs(total),
                      " (sequential ", demo::secs(demo::total_slept()), ")");
}
