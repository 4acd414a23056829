// Batcher: seeded per-epoch permutations and normalized float batches.
#include <algorithm>
#include <numeric>
#include <random>

#include "clnn/data.hpp"
#include "clnn/error.hpp"

namespace clnn::data {

void normalize_image(const ImageSet& set, std::int64_t index, Normalization norm, float* out) {
  const std::size_t pixels = std::size_t(set.rows * set.cols);
  const std::uint8_t* src = set.pixels.data() + std::size_t(index) * pixels;
  const float scale = 1.0f / (255.0f * norm.stddev), shift = norm.mean / norm.stddev;
  for (std::size_t p = 0; p < pixels; ++p) out[p] = float(src[p]) * scale - shift;
}

Batcher::Batcher(const ImageSet& set, std::int64_t batch_size, std::uint64_t seed,
                 Normalization norm, bool shuffle, std::int64_t limit)
    : set_(set),
      batch_size_(batch_size),
      used_(limit > 0 ? std::min(limit, set.count) : set.count),
      seed_(seed),
      norm_(norm),
      shuffle_(shuffle) {
  if (batch_size <= 0) throw Error("Batcher: the batch size must be positive");
  if (used_ < batch_size)
    throw Error("Batcher: " + std::to_string(used_) + " images do not fill one batch of " +
                std::to_string(batch_size));
  order_.resize(std::size_t(used_));
  start_epoch(0);
}

void Batcher::start_epoch(std::int64_t epoch) {
  std::iota(order_.begin(), order_.end(), 0);
  if (shuffle_) {
    // Fisher-Yates with mt19937_64, whose output the standard fixes: the same on every platform.
    std::mt19937_64 rng(seed_ * 0x9e3779b97f4a7c15ull + std::uint64_t(epoch));
    for (std::size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[rng() % i]);
  }
  position_ = 0;
}

void Batcher::set_shard(std::int64_t index, std::int64_t count) {
  if (count < 1 || index < 0 || index >= count)
    throw Error("Batcher: shard " + std::to_string(index) + " of " + std::to_string(count) +
                " does not exist");
  if (batch_size_ % count != 0)
    throw Error("Batcher: the batch of " + std::to_string(batch_size_) +
                " does not split into " + std::to_string(count) + " equal shards");
  shard_ = index;
  shards_ = count;
}

bool Batcher::next(std::vector<float>& images, std::vector<float>& labels) {
  if (position_ + batch_size_ > used_) return false;
  const std::size_t pixels = std::size_t(set_.rows * set_.cols);
  const std::int64_t rows = shard_rows(), first = position_ + shard_ * rows;
  images.resize(std::size_t(rows) * pixels);
  labels.resize(std::size_t(rows));
  for (std::int64_t b = 0; b < rows; ++b) {
    const std::int64_t image = order_[std::size_t(first + b)];
    normalize_image(set_, image, norm_, images.data() + std::size_t(b) * pixels);
    labels[std::size_t(b)] = float(set_.labels[std::size_t(image)]);
  }
  position_ += batch_size_;
  return true;
}

}  // namespace clnn::data
