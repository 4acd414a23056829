// Internal: the index arithmetic of slice, shared with the ONNX importer (constant folding and
// lowering).
#pragma once

#include <cstdint>
#include <vector>

#include "clnn/graph.hpp"

namespace clnn::detail {

// One axis of a slice: output element j reads input element start + j * step.
struct SliceAxis {
  std::int64_t start = 0, step = 1, count = 0;
};

// Python's (and ONNX's) rules over an axis of `extent` elements: negative start and end count
// from the end, both are clamped into the axis, and an empty range gives count 0. step != 0 and
// step != INT64_MIN (ShapeError otherwise).
SliceAxis slice_range(std::int64_t extent, std::int64_t start, std::int64_t end, std::int64_t step);

// v sliced by one range per axis (counts above 0).
Value sliced(const Value& v, std::vector<SliceAxis> axes);

}  // namespace clnn::detail
