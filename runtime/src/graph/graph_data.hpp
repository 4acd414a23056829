// Internal: the nodes of a graph.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "clnn/graph.hpp"
#include "ops/op.hpp"

namespace clnn::detail {

enum class NodeKind { input, parameter, state, op };

struct Node {
  NodeKind kind = NodeKind::op;
  std::string name;
  Shape shape;
  std::vector<int> inputs;
  std::shared_ptr<Op> op;         // for op nodes
  init::Initializer initializer;  // for parameters
};

struct GraphData {
  std::deque<Node> nodes;            // a deque: references to nodes stay valid as the graph grows
  std::map<std::string, int> named;  // inputs and parameters by name
  std::map<std::string, int> op_counts;  // for naming op nodes "matmul_1", "matmul_2", ...

  int add_node(Node node);
  Value value(int id) { return GraphAccess::make(shared_from_this_ptr(), id); }
  std::shared_ptr<GraphData> shared_from_this_ptr();
  std::weak_ptr<GraphData> self;
};

// Which nodes the given ones depend on (themselves included), by node id. Throws clnn::Error
// naming `who` when a value belongs to another graph.
std::vector<bool> dependencies(const GraphData& graph, const std::vector<Value>& values,
                               const std::string& who);

// Nodes 0..count-1 ordered so that every node comes after its inputs (Kahn's algorithm over the
// nodes in `wanted`). Throws clnn::Error naming a node on a cycle.
std::vector<int> topological_order(const std::vector<std::vector<int>>& inputs,
                                   const std::vector<bool>& wanted,
                                   const std::vector<std::string>& names);

}  // namespace clnn::detail
