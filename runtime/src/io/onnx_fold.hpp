// Internal: constant folding at load. A node whose inputs are all known while importing
// (initializers, Constants, the static shapes of values) is evaluated on the host, so shape
// subgraphs (Shape -> Gather -> Concat -> Reshape, ConstantOfShape, Range, ...) never reach the
// device and the device graph stays float.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "io/onnx_node.hpp"
#include "ops/window.hpp"

namespace clnn::onnx::detail {

// The node's output 0 when its operator folds and every input it reads is known; nullopt where
// some input is computed at run time (then the converter lowers it onto the device, or says
// what it lacks).
std::optional<HostTensor> fold(const Node& n);

using clnn::detail::SliceAxis;

// Slice's per-axis ranges (ONNX's clamping rules) for an input of shape `shape`, from the
// starts/ends/axes/steps inputs (opset 10 on) or attributes (before); axes not named keep
// their whole extent.
std::vector<SliceAxis> slice_axes(const Node& n, const Shape& shape);

// The output shape of Squeeze or Unsqueeze (axes from the attribute or the input) for an input
// of shape `in`.
Shape squeezed_shape(const Node& n, const Shape& in);

// Gather's indices into an axis of `extent`, each checked and negative ones counted from the end.
std::vector<std::int64_t> gather_indices(const Node& n, const std::vector<std::int64_t>& indices,
                                         std::int64_t extent);

// Axes from an attribute (before `input_from`) or a constant input, each in [-rank, rank),
// normalized and checked for repeats.
std::vector<std::size_t> node_axes(const Node& n, const std::string& name, int input,
                                   std::int64_t input_from, std::size_t rank);

}  // namespace clnn::onnx::detail
