// ONNX import: an .onnx model becomes a clnn Graph whose initializers are parameters (so the
// model can be fine-tuned) or, where an operator updates them, graph state.
#pragma once

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
  std::vector<std::pair<std::string, Value>> inputs;   // the graph's inputs, in order
  std::vector<std::pair<std::string, Value>> outputs;  // the graph's outputs, in order
  std::int64_t opset = 0;                              // of the default domain
};

// Reads and converts a model. Sizes are checked before anything is allocated, and external data
// may not leave the model's folder.
Model load(const std::string& path);

// Writes the part of `graph` that `outputs` depend on as an ONNX model (opset 13) for inference:
// inputs stay inputs, parameters and state become initializers holding their values in
// `trained` (the initializers' values without it). UnsupportedError names a node ONNX cannot
// express (a loss, say); the file is written atomically.
void save(const Graph& graph, const std::string& path, const std::vector<Value>& outputs,
          const Executor* trained = nullptr);

}  // namespace clnn::onnx
