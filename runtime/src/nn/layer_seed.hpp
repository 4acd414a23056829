// Internal: the seeds layers initialize their parameters from.
#pragma once

#include <cstdint>
#include <string>

#include "cl/hash.hpp"

namespace clnn::nn::detail_seed {

// A layer's seed: the one given, or 0 for a hash of its name (the same network every time).
inline std::uint64_t layer_seed(const std::string& name, std::uint64_t seed) {
  return seed != 0 ? seed : clnn::detail::fnv1a64(name);
}

// The seed of a composite layer's i-th part: its own seed moved along (a layer takes two, for
// weight and bias), or 0 where the composite was given none, so the part hashes its own name.
inline std::uint64_t part_seed(std::uint64_t seed, std::uint64_t i) {
  return seed != 0 ? seed + 2 * i : 0;
}

}  // namespace clnn::nn::detail_seed
