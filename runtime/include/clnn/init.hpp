// Parameter initializers. Fans: a 2-D [in, out] weight has fan_in = in and fan_out = out; a
// weight of rank >= 3 [out, in, k...] has fan_in = in * prod(k) and fan_out = out * prod(k); a
// 1-D one has both equal to its length. Seeded initializers give the same values on every
// platform.
#pragma once

#include <cstdint>

#include "clnn/graph.hpp"

namespace clnn::init {

Initializer zeros();
Initializer constant(float value);
Initializer uniform(float low, float high, std::uint64_t seed);
// N(0, stddev^2), whatever the fans (embeddings: PyTorch's N(0, 1)).
Initializer normal(float stddev, std::uint64_t seed);
Initializer xavier_uniform(std::uint64_t seed, float gain = 1.0f);
Initializer xavier_normal(std::uint64_t seed, float gain = 1.0f);
Initializer he_uniform(std::uint64_t seed);
// U(-b, b) with b = sqrt(6 / ((1 + a^2) fan_in)); a = sqrt(5) gives PyTorch's default for linear
// and convolution weights, b = 1 / sqrt(fan_in).
Initializer kaiming_uniform(std::uint64_t seed, float a);
Initializer he_normal(std::uint64_t seed);

// fan_in and fan_out of a weight shape, as described above.
struct Fans {
  double in, out;
};
Fans fans(const Shape& shape);

}  // namespace clnn::init
