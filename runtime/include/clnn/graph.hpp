// Graph: a network as a computation graph of inputs, parameters and operator nodes. Shapes are
// inferred and checked as each node is added.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "clnn/shape.hpp"

namespace clnn {

namespace detail {
struct GraphData;
class Op;
}  // namespace detail

namespace init {
// Fills a parameter of the given shape; the values are row-major.
using Initializer = std::function<std::vector<float>(const Shape&)>;
}  // namespace init

// A node's output: a handle that operator functions take and return. Copies are cheap.
class Value {
 public:
  Value() = default;
  const Shape& shape() const;
  const std::string& name() const;
  int id() const { return id_; }
  bool defined() const { return graph_ != nullptr; }
  bool operator==(const Value& other) const { return graph_ == other.graph_ && id_ == other.id_; }
  bool operator!=(const Value& other) const { return !(*this == other); }

 private:
  Value(std::shared_ptr<detail::GraphData> graph, int id) : graph_(std::move(graph)), id_(id) {}
  std::shared_ptr<detail::GraphData> graph_;
  int id_ = -1;
  friend struct detail::GraphData;
  friend struct GraphAccess;
};

class Graph {
 public:
  Graph();
  // A named input fed with Executor::set_input. Names are unique among inputs and parameters.
  Value input(const std::string& name, const Shape& shape);
  // A named trainable parameter, filled by the initializer when an Executor is made.
  Value parameter(const std::string& name, const Shape& shape, init::Initializer initializer);
  // Named state that operators update as they run but that is not trained (batch_norm's running
  // statistics); filled by the initializer when an Executor is made.
  Value state(const std::string& name, const Shape& shape, init::Initializer initializer);
  std::size_t node_count() const;

 private:
  std::shared_ptr<detail::GraphData> data_;
  friend struct GraphAccess;
};

// Internal access for operator builders and the executor.
struct GraphAccess {
  static std::shared_ptr<detail::GraphData> data(const Value& v);
  static std::shared_ptr<detail::GraphData> data(const Graph& g) { return g.data_; }
  // Adds an operator node whose inputs are `inputs` (all of one graph); checks its shape.
  static Value add(std::shared_ptr<detail::Op> op, const std::vector<Value>& inputs);
  static Value make(std::shared_ptr<detail::GraphData> graph, int id) {
    return Value(std::move(graph), id);
  }
};

}  // namespace clnn
