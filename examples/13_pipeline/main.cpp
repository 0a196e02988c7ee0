// Tutorial section 9, "Example 2: Data Processing Pipeline": 20 records in chunks of five go
// through three stages, each an executor.map() over the chunks with its own pool: clean (3
// workers), enrich (2 workers), aggregate (2 workers); the per-chunk aggregates are combined.
// Unlike the tutorial, the combination adds the chunks' totals (the tutorial multiplies each
// by its count, which inflates the averages). The same pipeline in C++20 style (dataflow per
// chunk, the stages overlapping): 13_pipeline_dataflow.
#include <cfutures/cfutures.hpp>
#include <map>
#include <string>
#include <vector>

#include "chunks.hpp"
#include "demo.hpp"
#include "pipeline_stages.hpp"

using tutorial::aggregate_data;
using tutorial::aggregating;
using tutorial::aggregation;
using tutorial::chunked;
using tutorial::clean_data;
using tutorial::cleaning;
using tutorial::enrich_data;
using tutorial::enriched_record;
using tutorial::enriching;
using tutorial::flattened;
using tutorial::record;

int main(int argc, char** argv) {
  demo::parse_args(argc, argv);
  demo::say("=== Data Processing Pipeline ===");
  const std::vector<record> raw_data = tutorial::raw_records();

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
  const aggregation final_aggregation = tutorial::combined(aggregated_results);
  const int items = tutorial::print_aggregation(final_aggregation);

  demo::expect(items == 20, "the pipeline lost items: ", items, " of 20");
  demo::expect(cleaning.peak() == 3 && enriching.peak() == 2 && aggregating.peak() == 2,
               "expected 3, 2, 2 chunks at once, saw ", cleaning.peak(), ", ", enriching.peak(),
               ", ", aggregating.peak());
  return demo::finish(items, " records, 3 map() stages on 3, 2, 2 workers: ", demo::secs(total),
                      " (sequential ", demo::secs(demo::total_slept()), ")");
}
