// The IDX reader on small generated files, and every corruption it must reject cleanly.
#include <zlib.h>
#include <catch2/catch.hpp>

#include <unistd.h>
#include <filesystem>
#include <fstream>

#include "clnn/data.hpp"
#include "clnn/error.hpp"

namespace fs = std::filesystem;
using clnn::IoError;
using namespace clnn::data;

namespace {

std::string idx_bytes(std::vector<std::uint32_t> dims, const std::vector<std::uint8_t>& values,
                      std::uint8_t type = 0x08) {
  std::string b{char(0), char(0), char(type), char(dims.size())};
  for (auto d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) b += char((d >> shift) & 0xff);
  b.append(values.begin(), values.end());
  return b;
}

struct Files {
  fs::path dir = fs::temp_directory_path() / ("clnn-idx-" + std::to_string(getpid()));
  Files() { fs::create_directories(dir); }
  ~Files() { fs::remove_all(dir); }
  std::string write(const std::string& name, const std::string& bytes, bool gzip) {
    std::string path = (dir / name).string();
    if (gzip) {
      gzFile f = gzopen(path.c_str(), "wb");
      gzwrite(f, bytes.data(), unsigned(bytes.size()));
      gzclose(f);
    } else {
      std::ofstream(path, std::ios::binary) << bytes;
    }
    return path;
  }
};

std::vector<std::uint8_t> pixels(std::size_t n) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = std::uint8_t(i * 7 % 256);
  return v;
}

}  // namespace

TEST_CASE("IDX files are read gzip-compressed or plain", "[data]") {
  Files f;
  for (bool gzip : {true, false}) {
    auto images = f.write("img", idx_bytes({3, 4, 5}, pixels(60)), gzip);
    auto labels = f.write("lab", idx_bytes({3}, {2, 0, 9}), gzip);
    ImageSet set = read_image_set(images, labels, 10);
    CHECK(set.count == 3);
    CHECK(set.rows == 4);
    CHECK(set.cols == 5);
    CHECK(set.pixels == pixels(60));
    CHECK(set.labels == std::vector<std::uint8_t>{2, 0, 9});
  }
}

TEST_CASE("corrupt IDX files are clean IoErrors that name the file", "[data][errors]") {
  Files f;
  const std::string good = idx_bytes({3, 4, 5}, pixels(60));
  auto labels = f.write("lab", idx_bytes({3}, {1, 2, 3}), true);
  auto expect_error = [&](const std::string& path, const char* words) {
    INFO(words);
    try {
      read_image_set(path, labels, 10);
      FAIL("expected an IoError");
    } catch (const IoError& e) {
      CHECK(e.file() == path);
      CHECK(std::string(e.what()).find(words) != std::string::npos);
    }
  };
  expect_error((f.dir / "missing.gz").string(), "cannot open");
  expect_error(f.write("magic", "\x01" + good.substr(1), true), "bad magic");
  expect_error(f.write("type", idx_bytes({3, 4, 5}, pixels(60), 0x0d), true), "element type");
  expect_error(f.write("short", good.substr(0, 10), true), "truncated header");
  expect_error(f.write("cut", good.substr(0, good.size() - 7), true), "truncated");
  expect_error(f.write("long", good + "extra", true), "past the end");
  expect_error(f.write("zero", idx_bytes({0, 4, 5}, {}), true), "zero");
  expect_error(f.write("rank", idx_bytes({60}, pixels(60)), true), "3 dimensions");
  auto images = f.write("img", good, true);
  CHECK_THROWS_WITH(read_image_set(images, f.write("fewer", idx_bytes({2}, {1, 2}), true), 10),
                    Catch::Contains("2 labels for 3 images"));
  CHECK_THROWS_WITH(read_image_set(images, f.write("range", idx_bytes({3}, {1, 12, 3}), true), 10),
                    Catch::Contains("label 12"));
}

TEST_CASE("a truncated gzip stream is an IoError at every cut", "[data][errors]") {
  Files f;
  auto whole = f.write("whole.gz", idx_bytes({8, 28, 28}, pixels(8 * 784)), true);
  std::ifstream in(whole, std::ios::binary);
  std::string compressed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (std::size_t cut = 1; cut < compressed.size(); cut += compressed.size() / 23 + 1) {
    INFO("cut at " << cut);
    auto path = f.write("cut.gz", compressed.substr(0, cut), false);
    CHECK_THROWS_AS(read_idx(path), IoError);
  }
}

TEST_CASE("batches follow a seeded order per epoch and are normalized", "[data]") {
  ImageSet set;
  set.count = 10, set.rows = 1, set.cols = 2, set.classes = 10;
  for (int i = 0; i < 10; ++i) {
    set.pixels.push_back(std::uint8_t(i * 20));
    set.pixels.push_back(std::uint8_t(255));
    set.labels.push_back(std::uint8_t(i));
  }
  Normalization norm{0.5f, 0.25f};
  Batcher a(set, 4, 7, norm), b(set, 4, 7, norm), other(set, 4, 8, norm);
  CHECK(a.batches_per_epoch() == 2);
  std::vector<float> ia, la, ib, lb, io, lo;
  a.start_epoch(3);
  b.start_epoch(3);
  other.start_epoch(3);
  REQUIRE(a.next(ia, la));
  REQUIRE(b.next(ib, lb));
  REQUIRE(other.next(io, lo));
  CHECK(la == lb);
  CHECK(ia == ib);
  for (std::size_t i = 0; i < 4; ++i) {
    const int image = int(la[i]);
    CHECK(ia[2 * i] == Approx((image * 20 / 255.0 - 0.5) / 0.25));
    CHECK(ia[2 * i + 1] == Approx((1.0 - 0.5) / 0.25));
  }
  a.start_epoch(4);
  std::vector<float> l4, i4;
  a.next(i4, l4);
  CHECK((l4 != la || lo != la));  // orders differ across epochs or seeds
  REQUIRE(a.next(i4, l4));
  CHECK_FALSE(a.next(i4, l4));  // 10 images: two full batches of 4
  CHECK_THROWS_AS(Batcher(set, 11, 1, norm), clnn::Error);
  Batcher limited(set, 2, 1, norm, false, 4);
  CHECK(limited.batches_per_epoch() == 2);

  // Shards of a batch (data-parallel ranks): shard s holds rows s * 2 onwards of the same batch.
  std::vector<float> shard_images[2], shard_labels[2];
  for (std::int64_t s = 0; s < 2; ++s) {
    Batcher sharded(set, 4, 7, norm);
    sharded.set_shard(s, 2);
    CHECK(sharded.shard_rows() == 2);
    CHECK(sharded.batches_per_epoch() == 2);
    sharded.start_epoch(3);
    REQUIRE(sharded.next(shard_images[s], shard_labels[s]));
  }
  CHECK(shard_labels[0] == std::vector<float>(la.begin(), la.begin() + 2));
  CHECK(shard_labels[1] == std::vector<float>(la.begin() + 2, la.end()));
  CHECK(shard_images[1] == std::vector<float>(ia.begin() + 4, ia.end()));
  CHECK_THROWS_WITH(a.set_shard(0, 3), Catch::Contains("does not split into 3 equal shards"));
  CHECK_THROWS_WITH(a.set_shard(2, 2), Catch::Contains("shard 2 of 2 does not exist"));
}
