// Internal: 64-bit integer arithmetic for sizes computed from untrusted input (model files,
// attributes, shapes), where an overflow is a ShapeError instead of undefined behaviour.
#pragma once

#include <cstdint>

#include "clnn/error.hpp"

namespace clnn::detail {

class CheckedInt {
 public:
  constexpr CheckedInt(std::int64_t value) : value_(value) {}  // NOLINT: implicit on purpose
  constexpr std::int64_t value() const { return value_; }

  friend CheckedInt operator+(CheckedInt a, CheckedInt b) {
    std::int64_t r;
    if (__builtin_add_overflow(a.value_, b.value_, &r)) overflow();
    return r;
  }
  friend CheckedInt operator-(CheckedInt a, CheckedInt b) {
    std::int64_t r;
    if (__builtin_sub_overflow(a.value_, b.value_, &r)) overflow();
    return r;
  }
  friend CheckedInt operator*(CheckedInt a, CheckedInt b) {
    std::int64_t r;
    if (__builtin_mul_overflow(a.value_, b.value_, &r)) overflow();
    return r;
  }

 private:
  [[noreturn]] static void overflow() {
    throw ShapeError("a size computed from the given extents overflows 64 bits");
  }
  std::int64_t value_;
};

}  // namespace clnn::detail
