// pipeline_stages.hpp: the three stages of the tutorial's data pipeline (section 9, "Example
// 2"): clean, enrich, aggregate, each on a chunk of records. Shared by its Python-style form
// (13_pipeline: one map() per stage) and its C++20 form (13_pipeline_dataflow: dataflow per
// chunk, the stages overlapping).
#pragma once

#include <atomic>
#include <cctype>
#include <map>
#include <vector>

#include "demo.hpp"

namespace tutorial {

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

inline demo::gauge cleaning, enriching, aggregating;  // how many chunks each stage runs at once
// Set once a chunk finished cleaning while another was being enriched.
inline std::atomic<bool> stages_overlapped{false};

// Stage 1: clean and validate.
inline std::vector<record> clean_data(const std::vector<record>& data_chunk) {
  const auto inside = cleaning.enter();
  std::vector<record> cleaned;
  for (const auto& item : data_chunk) {
    demo::sleep(0.1);      // cleaning work
    if (item.value > 0) {  // simple validation
      cleaned.push_back({item.id, item.value, static_cast<char>(std::tolower(item.category))});
    }
  }
  if (enriching.now() > 0) stages_overlapped = true;
  demo::say("🧹 Cleaned chunk of ", data_chunk.size(), " items -> ", cleaned.size(), " valid");
  return cleaned;
}

// Stage 2: enrich with additional information (e.g. API calls, database lookups).
inline std::vector<enriched_record> enrich_data(const std::vector<record>& data_chunk) {
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
inline aggregation aggregate_data(const std::vector<enriched_record>& data_chunk) {
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

// Adds the chunks' per-category counts and totals.
inline aggregation combined(const std::vector<aggregation>& per_chunk) {
  aggregation total;
  for (const auto& result : per_chunk) {
    for (const auto& [category, stats] : result) {
      total[category].count += stats.count;
      total[category].total_value += stats.total_value;
    }
  }
  return total;
}

// The 20 records of the tutorial (values 1-100, categories A-C), the same in every run.
inline std::vector<record> raw_records() {
  auto rng = demo::rng_for("raw data");
  std::vector<record> raw_data;
  for (int i = 0; i < 20; ++i) {
    raw_data.push_back(
        {i, demo::randint(rng, 1, 100), static_cast<char>('A' + demo::randint(rng, 0, 2))});
  }
  return raw_data;
}

// Prints the final aggregation as the tutorial does; returns how many items it counts.
inline int print_aggregation(const aggregation& final_aggregation) {
  int items = 0;
  demo::say("📊 Pipeline complete! Final aggregation by category:");
  for (const auto& [category, stats] : final_aggregation) {
    items += stats.count;
    demo::say("   Category ", category, ": ", stats.count, " items, avg value: ",
              demo::fixed(stats.count > 0 ? stats.total_value / stats.count : 0));
  }
  return items;
}

}  // namespace tutorial
