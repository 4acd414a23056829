// Internal: what the converters that fuse patterns of nodes (attention, GELU) ask of the graph
// around a node.
#pragma once

#include <optional>
#include <string>

#include "io/onnx_node.hpp"

namespace clnn::onnx::detail {

// A float known at load, by name, holding one value (of any rank), or nullopt.
std::optional<float> known_scalar(ValueSource& source, const std::string& name);

// The node producing `name` if it is of type `op` in the default domain, or nullptr.
const ::onnx::NodeProto* produced_by(ValueSource& source, const std::string& name,
                                     const std::string& op);

// `name` with a multiplication by a known scalar peeled off (into `factor`).
std::string unscaled(ValueSource& source, const std::string& name, float& factor);

}  // namespace clnn::onnx::detail
