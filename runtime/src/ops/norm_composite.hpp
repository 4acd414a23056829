// Internal: layer_norm with the statistics it computed on the way (the ONNX operator's optional
// Mean and InvStdDev outputs).
#pragma once

#include <optional>

#include "clnn/graph.hpp"

namespace clnn::detail {

struct Standardized {
  Value y;        // the normalized (then scaled and shifted) output
  Value mean;     // over the normalized dimensions, kept as extents of 1
  Value inv_std;  // 1 / sqrt(variance + eps), the same shape
};

Standardized layer_norm_parts(const Value& x, const Value& gamma, const std::optional<Value>& beta,
                              int axis, float eps);

}  // namespace clnn::detail
