// Tutorial section 9, "Example 2: Data Processing Pipeline", the C++20 way (next to the
// Python-style 13_pipeline): each chunk flows through the three stages on its own, chained
// with dataflow. A chunk's enrich call is submitted the moment its cleaning is done, its
// aggregation the moment its enrichment is, so the stages overlap (chunks are enriched while
// the last one is still being cleaned) instead of each stage waiting for the slowest chunk
// of the one before. Same three pools (3, 2, 2 workers); no thread blocks between stages; a
// coroutine combines the chunks' aggregates once when_all says they are all in.
#include <cfutures/cfutures.hpp>
#include <string>
#include <utility>
#include <vector>

#include "chunks.hpp"
#include "demo.hpp"
#include "pipeline_stages.hpp"

namespace {

using tutorial::aggregation;

// The chunks' aggregates combined, once every one of them is done.
cfutures::future<aggregation> combined_when_done(std::vector<cfutures::future<aggregation>> parts) {
  std::vector<aggregation> done;
  for (auto& part : co_await cfutures::when_all(std::move(parts))) {
    done.push_back(std::move(part).result());
  }
  co_return tutorial::combined(done);
}

}  // namespace

int main(int argc, char** argv) {
  demo::parse_args(argc, argv);
  demo::say("=== Data Processing Pipeline, with dataflow ===");
  const auto chunks = tutorial::chunked(tutorial::raw_records(), 5);
  demo::say("🚀 Starting pipeline with ", chunks.size(), " chunks of data");
  const demo::stopwatch watch;

  aggregation final_aggregation;
  {
    cfutures::thread_pool_executor clean(3), enrich(2), aggregate(2);
    std::vector<cfutures::future<aggregation>> per_chunk;
    for (const auto& chunk : chunks) {
      auto cleaned = clean.submit(tutorial::clean_data, chunk);
      auto enriched = cfutures::dataflow(enrich, tutorial::enrich_data, std::move(cleaned));
      per_chunk.push_back(
          cfutures::dataflow(aggregate, tutorial::aggregate_data, std::move(enriched)));
    }
    demo::say("the whole graph is built; this thread only waits for the combined result");
    final_aggregation = combined_when_done(std::move(per_chunk)).result();
  }
  const double total = watch.seconds();

  const int items = tutorial::print_aggregation(final_aggregation);

  demo::expect(items == 20, "the pipeline lost items: ", items, " of 20");
  demo::expect(tutorial::cleaning.peak() <= 3 && tutorial::enriching.peak() <= 2 &&
                   tutorial::aggregating.peak() <= 2,
               "a stage ran more chunks at once than its pool has workers");
  demo::expect(tutorial::stages_overlapped, "no chunk was cleaned while another was enriched");
  return demo::finish(items, " records, 3 stages chained per chunk with dataflow, overlapping: ",
                      demo::secs(total), " (sequential ", demo::secs(demo::total_slept()), ")");
}
