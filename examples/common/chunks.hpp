// chunks.hpp: splitting a list into chunks and joining chunks back into one list, as the
// tutorial's pipeline does with list slicing (13_pipeline, mpi_pipeline).
#pragma once

#include <cstddef>
#include <vector>

namespace tutorial {

template <class T>
std::vector<std::vector<T>> chunked(const std::vector<T>& items, std::size_t chunk_size) {
  std::vector<std::vector<T>> chunks;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i % chunk_size == 0) chunks.emplace_back();
    chunks.back().push_back(items[i]);
  }
  return chunks;
}

template <class T>
std::vector<T> flattened(const std::vector<std::vector<T>>& chunks) {
  std::vector<T> items;
  for (const auto& chunk : chunks) items.insert(items.end(), chunk.begin(), chunk.end());
  return items;
}

}  // namespace tutorial
