// Shapes: the extents of a tensor, outermost first, with overflow-checked element counts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace clnn {

using Shape = std::vector<std::int64_t>;

// "[2, 3, 4]".
std::string to_string(const Shape& shape);

// The product of the extents. Throws ShapeError (naming `what`) when an extent is zero or
// negative or the product overflows. A shape of rank 0 is a scalar and has one element.
std::int64_t element_count(const Shape& shape, const std::string& what = "tensor");

}  // namespace clnn
