// Internal: axis arithmetic shared by the ops that work along axes.
#pragma once

#include <string>

#include "clnn/error.hpp"
#include "clnn/shape.hpp"
#include "ops/common.hpp"

namespace clnn::detail {

// axis in [-rank, rank) as an index; ShapeError naming the op otherwise.
inline std::size_t normalize_axis(int axis, std::size_t rank, const std::string& op) {
  const long r = static_cast<long>(rank);
  const long a = axis < 0 ? axis + r : axis;
  if (a < 0 || a >= r)
    throw ShapeError(op + ": axis " + std::to_string(axis) + " is out of range for rank " +
                     std::to_string(rank));
  return static_cast<std::size_t>(a);
}

// shape viewed as [outer, r, inner] with r the product of dimensions [begin, end).
inline MiddleAxis middle_axis(const Shape& shape, std::size_t begin, std::size_t end) {
  MiddleAxis v{1, 1, 1};
  for (std::size_t d = 0; d < shape.size(); ++d) {
    auto extent = static_cast<std::size_t>(shape[d]);
    (d < begin ? v.outer : d < end ? v.r : v.inner) *= extent;
  }
  return v;
}

}  // namespace clnn::detail
