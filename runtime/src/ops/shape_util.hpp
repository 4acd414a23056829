// Internal: axis arithmetic shared by the ops that work along axes.
#pragma once

#include <algorithm>
#include <optional>
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

// numpy broadcasting: extents aligned from the right must agree or one of them be 1 (which
// gives way, even to 0); nullopt where they do not.
inline std::optional<Shape> broadcast_shapes(const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()), 1);
  for (std::size_t k = 0; k < out.size(); ++k) {
    const std::int64_t x = k < out.size() - a.size() ? 1 : a[k - (out.size() - a.size())];
    const std::int64_t y = k < out.size() - b.size() ? 1 : b[k - (out.size() - b.size())];
    if (x != y && x != 1 && y != 1) return std::nullopt;
    out[k] = x == 1 ? y : x;
  }
  return out;
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
