// Internal: layer_norm with the statistics it computed on the way (the ONNX operator's optional
// Mean and InvStdDev outputs), where the fused operator (ops/layer_norm.cpp) keeps them inside.
#pragma once

#include <optional>

#include "clnn/graph.hpp"

namespace clnn::detail {

struct Standardized {
  Value y;        // the normalized (then scaled and shifted) output
  Value mean;     // over the normalized dimensions, kept as extents of 1
  Value inv_std;  // 1 / sqrt(variance + eps), the same shape
};

// Checks layer_norm's operands (gamma and beta of the normalized dimensions' shape, eps not
// negative); throws ShapeError or Error naming what is wrong.
void check_layer_norm(const Shape& x, const Shape& gamma, const Shape* beta, int axis, float eps);

// layer_norm composed of primitives, with its statistics as values of their own.
Standardized layer_norm_parts(const Value& x, const Value& gamma, const std::optional<Value>& beta,
                              int axis, float eps);

}  // namespace clnn::detail
