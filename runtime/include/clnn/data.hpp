// Datasets: IDX files (gzip or plain) such as MNIST and Fashion-MNIST, and seeded batching.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace clnn::data {

// An IDX array of unsigned bytes: its dimensions and its values, row-major.
struct IdxArray {
  std::vector<std::int64_t> dims;
  std::vector<std::uint8_t> values;
};

// Reads an IDX file of unsigned bytes, gzip-compressed or not. A missing or unreadable file, a bad
// magic number, a truncated or over-long file, or sizes that do not add up is an IoError naming
// the file and what is wrong.
IdxArray read_idx(const std::string& path);

// Labelled images: count x rows x cols pixels and count labels below `classes`.
struct ImageSet {
  std::int64_t count = 0, rows = 0, cols = 0, classes = 0;
  std::vector<std::uint8_t> pixels;
  std::vector<std::uint8_t> labels;
};

// Reads an image file and its label file and checks they agree (counts, label range).
ImageSet read_image_set(const std::string& images_path, const std::string& labels_path,
                        std::int64_t classes);

struct FashionMnist {
  ImageSet train, test;
};

constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// The four files of Fashion-MNIST (train-images-idx3-ubyte.gz, ...) from `dir`.
FashionMnist load_fashion_mnist(const std::string& dir = kFashionMnistDir);

// Pixel normalization: (pixel / 255 - mean) / stddev.
struct Normalization {
  float mean = 0.0f, stddev = 1.0f;
};
// The mean and standard deviation of a set's pixels (scaled to [0, 1]).
Normalization pixel_statistics(const ImageSet& set);

// Image `index` of `set`, normalized, into rows * cols floats at `out`.
void normalize_image(const ImageSet& set, std::int64_t index, Normalization norm, float* out);

// Batches of a set in a seeded order: epoch e visits the images in a permutation drawn from
// (seed, e), so a run resumed at an epoch sees exactly the batches it would have seen.
class Batcher {
 public:
  // limit > 0 uses only the first `limit` images.
  Batcher(const ImageSet& set, std::int64_t batch_size, std::uint64_t seed, Normalization norm,
          bool shuffle = true, std::int64_t limit = 0);

  void start_epoch(std::int64_t epoch);
  // Data-parallel training: next() fills shard `index` of `count` equal shards of each batch
  // (rows index * batch / count onwards), which must divide the batch size.
  void set_shard(std::int64_t index, std::int64_t count);
  // Fills images [n, 1, rows, cols] and labels [n] (as floats) with the next batch (n its size)
  // or with the shard's rows of it (n = shard_rows()); false when no full batch is left.
  bool next(std::vector<float>& images, std::vector<float>& labels);
  std::int64_t batches_per_epoch() const { return used_ / batch_size_; }
  std::int64_t batch_size() const { return batch_size_; }
  std::int64_t shard_rows() const { return batch_size_ / shards_; }

 private:
  const ImageSet& set_;
  std::int64_t batch_size_, used_;
  std::uint64_t seed_;
  Normalization norm_;
  bool shuffle_;
  std::vector<std::int64_t> order_;
  std::int64_t position_ = 0;
  std::int64_t shard_ = 0, shards_ = 1;
};

}  // namespace clnn::data
