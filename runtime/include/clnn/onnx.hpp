// ONNX import: an .onnx model becomes a clnn Graph whose initializers are parameters (so the
// model can be fine-tuned) or, where an operator updates them, graph state.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "clnn/error.hpp"
#include "clnn/executor.hpp"
#include "clnn/graph.hpp"

namespace clnn::onnx {

// A model or attribute that is valid ONNX but beyond what clnn implements; names the node and
// the operator. Malformed models raise IoError or ShapeError instead.
class UnsupportedError : public Error {
 public:
  using Error::Error;
};

struct Model {
  Graph graph;
  std::vector<std::pair<std::string, Value>> inputs;   // the graph's unbound inputs, in order
  std::vector<std::pair<std::string, Value>> outputs;  // the graph's outputs, in order
  // Every tensor on the device by its ONNX name: inputs, node outputs and the initializers in
  // use. Where fine-tuning takes features from: put a new head on values.at("features") and
  // train; the initializers are parameters already.
  std::map<std::string, Value> values;
  // Inputs of integers or booleans (ids, masks) left unbound: fed as floats holding whole numbers
  // (exact below 2^24) or 0 and 1. The device takes integers computed at run time as indices
  // (Gather, GatherElements), in comparisons, casts, additions and shape operators only.
  std::set<std::string> integer_inputs;
  // The inputs' symbolic dimensions by name ("" for unnamed ones) and the extents they took.
  std::map<std::string, std::int64_t> dims;
  std::int64_t opset = 0;  // of the default domain
};

// A value given at load for a graph input the model takes as a shape, axes, indices or a mask
// (int64, int32 or bool: `ints`, booleans as 0 or 1) or as fixed data (float32: `floats`). The
// model is specialized to it: the importer folds it like a constant, so integer inputs never
// reach the device.
struct BoundInput {
  Shape shape;
  std::vector<std::int64_t> ints;
  std::vector<float> floats;
};

struct LoadOptions {
  std::map<std::string, BoundInput> bound_inputs;  // by input name
  // Extents of the inputs' symbolic dimensions (ONNX's dim_param: "batch_size", "sequence"),
  // by name. clnn's graphs are static: a symbolic dimension not named here, or one with neither
  // a name nor a value, takes 1.
  std::map<std::string, std::int64_t> dims;
  // Attention as exporters write it (MatMul, scale, mask, Softmax, MatMul) runs as the fused
  // scaled_dot_product_attention; false keeps the operators as the graph has them.
  bool fuse_attention = true;
};

// Reads and converts a model. Sizes are checked before anything is allocated, and external data
// may not leave the model's folder.
Model load(const std::string& path, const LoadOptions& options = {});

// Writes the part of `graph` that `outputs` depend on as an ONNX model (opset 17) for inference:
// inputs stay inputs, parameters and state become initializers holding their values in
// `trained` (the initializers' values without it). UnsupportedError names a node ONNX cannot
// express (a loss, say); the file is written atomically.
void save(const Graph& graph, const std::string& path, const std::vector<Value>& outputs,
          const Executor* trained = nullptr);

}  // namespace clnn::onnx
