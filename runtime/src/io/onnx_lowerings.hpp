// Internal: lowerings of the converter table (io/onnx_converters.cpp) that live in files of their
// own family.
#pragma once

#include <optional>

#include "io/onnx_node.hpp"

namespace clnn::onnx::detail {

// io/onnx_losses.cpp: GatherElements, NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss, with
// indices and targets known at load.
Outputs lower_gather_elements(const Node& n);
Outputs lower_nll_loss(const Node& n);
Outputs lower_softmax_cross_entropy(const Node& n);

// io/onnx_einsum.cpp.
Outputs lower_einsum(const Node& n);

// io/onnx_attention.cpp: scaled_dot_product_attention for MatMul n when it ends the unfused
// attention pattern (MatMul, scale, mask, Softmax, MatMul), else nullopt.
std::optional<Value> fused_attention(const Node& n);

// io/onnx_gelu.cpp: gelu for Mul n when it ends the unfused exact GELU (x * (Erf(x / sqrt(2)) +
// 1) * 0.5), else nullopt.
std::optional<Value> fused_gelu(const Node& n);

}  // namespace clnn::onnx::detail
