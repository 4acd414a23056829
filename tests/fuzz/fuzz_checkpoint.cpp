// libFuzzer target: the checkpoint loader against a fixed model and Adam, on the bytes as given
// and again with their checksum made right, so mutations also reach the checks behind it.
#include <cstring>
#include <vector>

#include "cl/hash.hpp"
#include "clnn/checkpoint.hpp"
#include "fuzz_support.hpp"

namespace {

void load(const std::uint8_t* data, std::size_t size) {
  static clnn::fuzz::CheckpointModel model;
  static clnn::Executor executor(clnn::fuzz::cpu_context(), model.g, {model.loss},
                                 clnn::Mode::training);
  static clnn::optim::Adam adam(executor, {});
  const std::string path = clnn::fuzz::input_file(data, size, "input.ckpt");
  try {
    clnn::load_checkpoint(path, executor, &adam);
  } catch (const clnn::Error&) {
    // a clean rejection is the expected outcome of bad input
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  load(data, size);
  if (size >= sizeof(std::uint64_t)) {
    std::vector<std::uint8_t> fixed(data, data + size);
    const std::size_t body = size - sizeof(std::uint64_t);
    const std::uint64_t sum =
        clnn::detail::fnv1a64({reinterpret_cast<const char*>(fixed.data()), body});
    std::memcpy(fixed.data() + body, &sum, sizeof(sum));
    load(fixed.data(), fixed.size());
  }
  return 0;
}
