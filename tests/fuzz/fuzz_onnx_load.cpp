// libFuzzer target: the ONNX importer (protobuf parsing, tensors, every converter) on arbitrary
// bytes, without running anything.
#include "clnn/onnx.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = clnn::fuzz::input_file(data, size, "model.onnx");
  try {
    clnn::onnx::load(path);
  } catch (const clnn::Error&) {
    // a clean rejection is the expected outcome of bad input
  }
  return 0;
}
