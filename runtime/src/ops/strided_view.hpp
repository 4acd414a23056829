// Internal: where a view's elements lie in a buffer, composed through reshapes, transposes and
// slices, so that an operator may read (or write) a tensor where a chain of copies would have
// moved it (an inference executor's view folding).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "clnn/shape.hpp"
#include "ops/window.hpp"

namespace clnn::detail {

// A tensor of `shape` whose element (i0, i1, ...) lies at offset + sum of i_d * strides[d] of a
// buffer.
struct TensorView {
  Shape shape;
  std::int64_t offset = 0;
  std::vector<std::int64_t> strides;
};

// A view kept at the finest grain its history needs: each dimension is a run of atoms (extent,
// stride), outermost first. A reshape regroups atoms (splitting one where a new extent divides
// it), so that merging dimensions that are not one run in the buffer (a transformer's heads
// and batch, [S, B, H, D] -> [S, B*H, D]) and splitting them again later composes exactly.
class StridedView {
 public:
  // A row-major tensor of `shape` at the start of its buffer.
  explicit StridedView(const Shape& shape);

  // Each returns false where the result is not a strided view of the buffer (the view is then
  // unusable).
  bool reshape(const Shape& to);
  bool permute(const std::vector<int>& perm);  // output dimension d is input dimension perm[d]
  bool slice(const std::vector<SliceAxis>& axes);
  // A matrix [rows, n] whose rows are whole rows of its buffer (n floats apart, wherever they
  // lie) as the matrix [rows, width] whose rows lie in the same order, `width` floats apart: a
  // product's operand, where the product's output is this view.
  bool rows_of_width(std::int64_t width);

  Shape shape() const;
  // The view as one stride a dimension, where each dimension's atoms walk it as one run.
  std::optional<TensorView> tensor_view() const;

 private:
  struct Atom {
    std::int64_t extent, stride;
  };
  std::int64_t offset_ = 0;
  std::vector<std::vector<Atom>> dims_;
};

}  // namespace clnn::detail
