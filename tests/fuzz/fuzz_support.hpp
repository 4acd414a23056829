// Shared by the fuzz targets: inputs as files, the PoCL context, and the checkpoint's model.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "clnn/clnn.hpp"

namespace clnn::fuzz {

// The loaders take paths, so each input is written to a file in a folder of this process's own
// (a fresh folder also means ONNX external data can only name the input itself). The folder goes
// at exit.
class InputFolder {
 public:
  // In memory (/dev/shm) where there is one: on disk, writing the file takes most of a run.
  InputFolder() {
    std::error_code ec;
    const bool shm = std::filesystem::is_directory("/dev/shm", ec) && access("/dev/shm", W_OK) == 0;
    dir_ = (shm ? std::filesystem::path("/dev/shm") : std::filesystem::temp_directory_path()) /
           ("clnn-fuzz-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  ~InputFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::string write(const std::uint8_t* data, std::size_t size, const char* name) const {
    const std::string path = (dir_ / name).string();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), std::streamsize(size));
    if (!out.flush()) std::abort();  // the harness itself failed, not the code under test
    return path;
  }

 private:
  std::filesystem::path dir_;
};

inline std::string input_file(const std::uint8_t* data, std::size_t size, const char* name) {
  static const InputFolder folder;
  return folder.write(data, size, name);
}

// The CPU device through PoCL, made once: every input reuses its built programs.
inline const Context& cpu_context() {
  static const Context ctx = Context::create("cpu");
  return ctx;
}

// The model whose checkpoints fuzz_checkpoint loads and clnn-fuzz-seeds writes: parameters,
// state and (with Adam) optimizer slots, so every kind of entry is there.
struct CheckpointModel {
  Graph g;
  Value x = g.input("x", {4, 3});
  Value w = g.parameter("w", {3, 2}, init::xavier_uniform(1));
  Value b = g.parameter("b", {2}, init::zeros());
  Value s = g.state("s", {5}, init::constant(0.5f));
  Value loss = add(mean(add(matmul(x, w), b)), mean(s));
};

}  // namespace clnn::fuzz
