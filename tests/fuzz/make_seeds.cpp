// clnn-fuzz-seeds DIR: writes the seed corpora of fuzz_idx and fuzz_checkpoint under DIR/idx and
// DIR/checkpoint, made by the library itself so they follow its formats as they change.
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "clnn/checkpoint.hpp"
#include "fuzz_support.hpp"

namespace fs = std::filesystem;

namespace {

std::string idx_bytes(const std::vector<std::uint32_t>& dims) {
  std::string b{char(0), char(0), char(8), char(dims.size())};
  std::uint64_t count = 1;
  for (auto d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) b += char((d >> shift) & 0xff);
    count *= d;
  }
  for (std::uint64_t i = 0; i < count; ++i) b += char(i * 37 % 256);
  return b;
}

void write(const fs::path& path, const std::string& bytes, bool gzip) {
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    if (!f || gzwrite(f, bytes.data(), unsigned(bytes.size())) != int(bytes.size()) ||
        gzclose(f) != Z_OK)
      throw clnn::IoError(path.string(), "cannot write");
    return;
  }
  std::ofstream out(path, std::ios::binary);
  if (!out.write(bytes.data(), std::streamsize(bytes.size())).flush())
    throw clnn::IoError(path.string(), "cannot write");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: clnn-fuzz-seeds DIR\n");
    return 2;
  }
  try {
    const fs::path idx = fs::path(argv[1]) / "idx", ckpt = fs::path(argv[1]) / "checkpoint";
    fs::create_directories(idx);
    fs::create_directories(ckpt);
    write(idx / "labels.idx", idx_bytes({10}), false);
    write(idx / "images.idx", idx_bytes({3, 4, 5}), false);
    write(idx / "rank4.idx", idx_bytes({2, 1, 3, 2}), false);
    write(idx / "images.idx.gz", idx_bytes({2, 6, 6}), true);
    write(idx / "labels.idx.gz", idx_bytes({7}), true);

    clnn::fuzz::CheckpointModel m;
    clnn::Executor ex(clnn::fuzz::cpu_context(), m.g, {m.loss}, clnn::Mode::training);
    clnn::optim::Adam adam(ex, {});
    ex.set_input("x", std::vector<float>(12, 0.25f));
    clnn::save_checkpoint((ckpt / "fresh.ckpt").string(), ex, &adam, {});
    for (int i = 0; i < 2; ++i) {
      ex.forward();
      ex.backward(m.loss);
      adam.step();
    }
    clnn::save_checkpoint((ckpt / "trained.ckpt").string(), ex, &adam,
                          {2, ex.step(), 2, clnn::optim::LossScalerState{1024.0f, 7, 3}});
    // Without the optimizer: loading it with one is a mismatch the loader must report.
    clnn::save_checkpoint((ckpt / "no_optimizer.ckpt").string(), ex, nullptr, {1, 1, 0, {}});
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "clnn-fuzz-seeds: %s\n", e.what());
    return 1;
  }
}
