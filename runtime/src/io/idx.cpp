// IDX files through zlib (which reads plain files too), validated before anything is trusted.
#include <zlib.h>

#include <climits>
#include <cmath>
#include <memory>

#include "clnn/data.hpp"
#include "clnn/error.hpp"

namespace clnn::data {

namespace {

// Largest IDX payload accepted: far above any dataset of this kind, far below memory limits.
constexpr std::uint64_t kMaxPayload = std::uint64_t{1} << 32;

std::vector<std::uint8_t> read_all(const std::string& path) {
  std::unique_ptr<gzFile_s, int (*)(gzFile)> file(gzopen(path.c_str(), "rb"), gzclose);
  if (!file) throw IoError(path, "cannot open the file");
  std::vector<std::uint8_t> bytes;
  std::vector<std::uint8_t> chunk(1 << 20);
  for (;;) {
    int got = gzread(file.get(), chunk.data(), unsigned(chunk.size()));
    if (got < 0) {
      int code = 0;
      const char* message = gzerror(file.get(), &code);
      throw IoError(path, "cannot decompress at byte " + std::to_string(bytes.size()) + ": " +
                              (message ? message : "zlib error"));
    }
    if (got == 0) break;
    bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + got);
    if (bytes.size() > kMaxPayload + 64) throw IoError(path, "larger than any IDX file accepted");
  }
  // gzread stops quietly at a truncated stream; gzerror then says so.
  int code = 0;
  const char* message = gzerror(file.get(), &code);
  if (code != Z_OK && code != Z_STREAM_END)
    throw IoError(path, std::string("truncated or corrupt compressed data: ") +
                            (message ? message : "zlib error"));
  return bytes;
}

std::uint32_t big_endian_u32(const std::vector<std::uint8_t>& b, std::size_t at) {
  return std::uint32_t(b[at]) << 24 | std::uint32_t(b[at + 1]) << 16 |
         std::uint32_t(b[at + 2]) << 8 | std::uint32_t(b[at + 3]);
}

}  // namespace

IdxArray read_idx(const std::string& path) {
  std::vector<std::uint8_t> bytes = read_all(path);
  if (bytes.size() < 4)
    throw IoError(path, "too short for an IDX header (" + std::to_string(bytes.size()) + " bytes)");
  if (bytes[0] != 0 || bytes[1] != 0)
    throw IoError(path, "bad magic number: the first two bytes are not zero");
  if (bytes[2] != 0x08)
    throw IoError(path, "bad magic number: element type " + std::to_string(bytes[2]) +
                            " is not 8 (unsigned byte)");
  const std::size_t rank = bytes[3];
  if (rank == 0 || rank > 4)
    throw IoError(path, "bad magic number: " + std::to_string(rank) + " dimensions");
  const std::size_t header = 4 + 4 * rank;
  if (bytes.size() < header)
    throw IoError(path, "truncated header: " + std::to_string(bytes.size()) + " bytes of " +
                            std::to_string(header));
  IdxArray array;
  std::uint64_t count = 1;
  for (std::size_t d = 0; d < rank; ++d) {
    std::uint32_t extent = big_endian_u32(bytes, 4 + 4 * d);
    if (extent == 0) throw IoError(path, "dimension " + std::to_string(d) + " is zero");
    count *= extent;
    if (count > kMaxPayload) throw IoError(path, "the dimensions describe more data than accepted");
    array.dims.push_back(extent);
  }
  const std::uint64_t have = bytes.size() - header;
  if (have < count)
    throw IoError(path, "truncated: the header promises " + std::to_string(count) +
                            " values after byte " + std::to_string(header) + ", the file has " +
                            std::to_string(have));
  if (have > count)
    throw IoError(path, std::to_string(have - count) + " bytes past the end of the data at byte " +
                            std::to_string(header + count));
  array.values.assign(bytes.begin() + long(header), bytes.end());
  return array;
}

ImageSet read_image_set(const std::string& images_path, const std::string& labels_path,
                        std::int64_t classes) {
  IdxArray images = read_idx(images_path);
  IdxArray labels = read_idx(labels_path);
  if (images.dims.size() != 3)
    throw IoError(images_path, "expected 3 dimensions (count, rows, cols), found " +
                                   std::to_string(images.dims.size()));
  if (labels.dims.size() != 1)
    throw IoError(labels_path,
                  "expected 1 dimension (count), found " + std::to_string(labels.dims.size()));
  if (images.dims[0] != labels.dims[0])
    throw IoError(labels_path, std::to_string(labels.dims[0]) + " labels for " +
                                   std::to_string(images.dims[0]) + " images in " + images_path);
  for (std::size_t i = 0; i < labels.values.size(); ++i)
    if (labels.values[i] >= classes)
      throw IoError(labels_path, "label " + std::to_string(labels.values[i]) + " of image " +
                                     std::to_string(i) + " is not below " +
                                     std::to_string(classes));
  ImageSet set;
  set.count = images.dims[0];
  set.rows = images.dims[1];
  set.cols = images.dims[2];
  set.classes = classes;
  set.pixels = std::move(images.values);
  set.labels = std::move(labels.values);
  return set;
}

FashionMnist load_fashion_mnist(const std::string& dir) {
  auto file = [&](const char* name) { return dir + "/" + name; };
  FashionMnist data;
  data.train =
      read_image_set(file("train-images-idx3-ubyte.gz"), file("train-labels-idx1-ubyte.gz"), 10);
  data.test =
      read_image_set(file("t10k-images-idx3-ubyte.gz"), file("t10k-labels-idx1-ubyte.gz"), 10);
  if (data.train.rows != data.test.rows || data.train.cols != data.test.cols)
    throw IoError(file("t10k-images-idx3-ubyte.gz"),
                  "test images differ in size from training images");
  return data;
}

Normalization pixel_statistics(const ImageSet& set) {
  double sum = 0, sum_sq = 0;
  for (std::uint8_t p : set.pixels) {
    double v = p / 255.0;
    sum += v;
    sum_sq += v * v;
  }
  const double n = double(set.pixels.size());
  const double mean = sum / n;
  return {float(mean), float(std::sqrt(std::max(sum_sq / n - mean * mean, 1e-12)))};
}

}  // namespace clnn::data
