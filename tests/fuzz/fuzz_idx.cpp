// libFuzzer target: the IDX reader (plain and gzip) on arbitrary bytes.
#include "clnn/data.hpp"
#include "clnn/error.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = clnn::fuzz::input_file(data, size, "input.idx");
  try {
    clnn::data::IdxArray array = clnn::data::read_idx(path);
    // What a reader promises: the values fill the dimensions exactly (and their product fits).
    std::uint64_t count = 1;
    for (auto d : array.dims)
      if (d <= 0 || __builtin_mul_overflow(count, std::uint64_t(d), &count)) __builtin_trap();
    if (count != array.values.size()) __builtin_trap();
  } catch (const clnn::Error&) {
    // a clean rejection is the expected outcome of bad input
  }
  return 0;
}
