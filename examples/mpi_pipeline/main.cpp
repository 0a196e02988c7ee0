// The tutorial's data-processing pipeline (section 9, example 2) spread over the ranks of an
// MPI job: 20 records in chunks of five go through three stages — clean, enrich, aggregate —
// each an executor.map() over the chunks, run on the worker ranks; rank 0 combines the
// per-chunk aggregates (adding the chunks' totals, where the tutorial multiplies each by its
// count). The simulated work is the tutorial's, scaled by 0.2. Launch (build directory):
//   mpiexec -n 3 ./examples/mpi_pipeline
// (as root add --allow-run-as-root; with more ranks than cores add --oversubscribe).
#include <cctype>
#include <cfutures/cfutures.hpp>
#include <cfutures/mpi.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "chunks.hpp"

namespace {

using tutorial::chunked;
using tutorial::flattened;

struct record {
  int id = 0;
  int value = 0;
  char category = 'A';
  double enriched_value = 0;
  int category_score = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(id, value, category, enriched_value, category_score);
  }
};

struct category_stats {
  int count = 0;
  double total_value = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(count, total_value);
  }
};
using aggregation = std::map<char, category_stats>;

void simulate_work(double tutorial_seconds) {
  std::this_thread::sleep_for(std::chrono::duration<double>(tutorial_seconds * 0.2));
}

// Stage 1: clean and validate.
std::vector<record> clean_data(std::vector<record> chunk) {
  std::vector<record> cleaned;
  for (record item : chunk) {
    simulate_work(0.1);
    if (item.value > 0) {
      item.category = static_cast<char>(std::tolower(item.category));
      cleaned.push_back(item);
    }
  }
  std::printf("🧹 Cleaned chunk of %zu items -> %zu valid\n", chunk.size(), cleaned.size());
  std::fflush(stdout);
  return cleaned;
}

// Stage 2: enrich (the tutorial's API calls and database lookups).
std::vector<record> enrich_data(std::vector<record> chunk) {
  const std::map<char, int> scores{{'a', 10}, {'b', 20}, {'c', 30}};
  for (record& item : chunk) {
    simulate_work(0.2);
    item.enriched_value = item.value * 1.5;
    item.category_score = scores.at(item.category);
  }
  std::printf("📈 Enriched chunk of %zu items\n", chunk.size());
  std::fflush(stdout);
  return chunk;
}

// Stage 3: aggregate by category.
aggregation aggregate_data(std::vector<record> chunk) {
  simulate_work(0.3);
  aggregation by_category;
  for (const record& item : chunk) {
    auto& stats = by_category[item.category];
    ++stats.count;
    stats.total_value += item.enriched_value;
  }
  std::printf("📊 Aggregated chunk into %zu categories\n", by_category.size());
  std::fflush(stdout);
  return by_category;
}

}  // namespace

int main() {
  cfutures::mpi::comm_executor executor;  // the other ranks serve here until rank 0 is done
  if (!executor.is_root()) return 0;

  std::mt19937 rng(42);
  std::vector<record> raw_data;
  for (int i = 0; i < 20; ++i) {
    raw_data.push_back({.id = i,
                        .value = std::uniform_int_distribution(1, 100)(rng),
                        .category = "ABC"[std::uniform_int_distribution(0, 2)(rng)]});
  }
  constexpr std::size_t chunk_size = 5;
  const auto start = std::chrono::steady_clock::now();
  std::printf("🚀 Starting pipeline with %zu chunks of data on %zu worker ranks\n",
              chunked(raw_data, chunk_size).size(), executor.max_workers());

  const auto cleaned =
      flattened(executor.map(clean_data, chunked(raw_data, chunk_size)).to_vector());
  std::printf("📊 Stage 1 complete: %zu items cleaned\n", cleaned.size());
  const auto enriched =
      flattened(executor.map(enrich_data, chunked(cleaned, chunk_size)).to_vector());
  std::printf("📊 Stage 2 complete: %zu items enriched\n", enriched.size());

  aggregation total;
  for (const aggregation& part : executor.map(aggregate_data, chunked(enriched, chunk_size))) {
    for (const auto& [category, stats] : part) {
      total[category].count += stats.count;
      total[category].total_value += stats.total_value;
    }
  }
  std::printf("📊 Pipeline complete in %.2f s! Final aggregation by category:\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  for (const auto& [category, stats] : total) {
    std::printf("   Category %c: %d items, avg value: %.2f\n", category, stats.count,
                stats.total_value / stats.count);
  }
}
