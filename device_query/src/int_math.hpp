// Internal: integer rounding for launch sizes (powers of two, whole groups), shared by
// clnn::device and clnn::clnn; never part of the public headers.
#pragma once

#include <cstddef>

namespace clnn::detail {

// Largest power of two not above n (n >= 1).
constexpr std::size_t floor_pow2(std::size_t n) {
  std::size_t p = 1;
  while (p * 2 <= n) p *= 2;
  return p;
}

// Smallest power of two not below n.
constexpr std::size_t ceil_pow2(std::size_t n) {
  std::size_t p = 1;
  while (p < n) p *= 2;
  return p;
}

constexpr std::size_t ceil_div(std::size_t a, std::size_t b) { return (a + b - 1) / b; }

}  // namespace clnn::detail
