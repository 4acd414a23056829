// Graph and Value: building nodes and checking their shapes as they are added.
#include <algorithm>
#include <queue>

#include "clnn/error.hpp"
#include "graph/graph_data.hpp"

namespace clnn {

namespace detail {

std::string shape_mismatch(const std::string& op, const std::string& message, const Shape& a,
                           const Shape& b) {
  return op + ": " + message + ": " + to_string(a) + " vs " + to_string(b);
}

std::shared_ptr<GraphData> GraphData::shared_from_this_ptr() {
  return self.lock();
}

int GraphData::add_node(Node node) {
  int id = static_cast<int>(nodes.size());
  nodes.push_back(std::move(node));
  return id;
}

std::vector<bool> dependencies(const GraphData& graph, const std::vector<Value>& values,
                               const std::string& who) {
  std::vector<bool> found(graph.nodes.size(), false);
  std::vector<int> stack;
  for (const Value& v : values) {
    if (GraphAccess::data(v).get() != &graph)
      throw Error(who + ": '" + v.name() + "' belongs to another graph");
    stack.push_back(v.id());
  }
  while (!stack.empty()) {
    const int v = stack.back();
    stack.pop_back();
    if (found[std::size_t(v)]) continue;
    found[std::size_t(v)] = true;
    for (int u : graph.nodes[std::size_t(v)].inputs) stack.push_back(u);
  }
  return found;
}

std::vector<int> topological_order(const std::vector<std::vector<int>>& inputs,
                                   const std::vector<bool>& wanted,
                                   const std::vector<std::string>& names) {
  const std::size_t n = inputs.size();
  std::vector<int> pending(n, 0);
  std::vector<std::vector<int>> consumers(n);
  for (std::size_t v = 0; v < n; ++v) {
    if (!wanted[v]) continue;
    for (int u : inputs[v]) {
      ++pending[v];
      consumers[static_cast<std::size_t>(u)].push_back(static_cast<int>(v));
    }
  }
  // A min-heap keeps the order deterministic: among ready nodes, the oldest runs first.
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  std::size_t wanted_count = 0;
  for (std::size_t v = 0; v < n; ++v) {
    if (!wanted[v]) continue;
    ++wanted_count;
    if (pending[v] == 0) ready.push(static_cast<int>(v));
  }
  std::vector<int> order;
  while (!ready.empty()) {
    int v = ready.top();
    ready.pop();
    order.push_back(v);
    for (int c : consumers[static_cast<std::size_t>(v)])
      if (--pending[static_cast<std::size_t>(c)] == 0) ready.push(c);
  }
  if (order.size() != wanted_count) {
    for (std::size_t v = 0; v < n; ++v)
      if (wanted[v] && pending[v] > 0)
        throw Error("the graph has a cycle through node '" + names[v] + "'");
  }
  return order;
}

}  // namespace detail

namespace {

detail::GraphData& data_of(const std::shared_ptr<detail::GraphData>& graph) {
  if (!graph) throw Error("the value is undefined (default-constructed)");
  return *graph;
}

void check_new_name(detail::GraphData& g, const std::string& name, const char* what) {
  if (name.empty()) throw Error(std::string(what) + " names may not be empty");
  if (g.named.count(name))
    throw Error(std::string(what) + " '" + name + "': the graph already has a node of that name");
}

}  // namespace

const Shape& Value::shape() const {
  return data_of(graph_).nodes.at(static_cast<std::size_t>(id_)).shape;
}

const std::string& Value::name() const {
  return data_of(graph_).nodes.at(static_cast<std::size_t>(id_)).name;
}

Graph::Graph() : data_(std::make_shared<detail::GraphData>()) {
  data_->self = data_;
}

Value Graph::input(const std::string& name, const Shape& shape) {
  check_new_name(*data_, name, "input");
  element_count(shape, "input '" + name + "'");
  detail::Node node;
  node.kind = detail::NodeKind::input;
  node.name = name;
  node.shape = shape;
  int id = data_->add_node(std::move(node));
  data_->named[name] = id;
  return data_->value(id);
}

namespace {

Value add_initialized(detail::GraphData& g, detail::NodeKind kind, const char* what,
                      const std::string& name, const Shape& shape, init::Initializer initializer) {
  check_new_name(g, name, what);
  element_count(shape, std::string(what) + " '" + name + "'");
  if (!initializer) throw Error(std::string(what) + " '" + name + "' has no initializer");
  detail::Node node;
  node.kind = kind;
  node.name = name;
  node.shape = shape;
  node.initializer = std::move(initializer);
  int id = g.add_node(std::move(node));
  g.named[name] = id;
  return g.value(id);
}

}  // namespace

Value Graph::parameter(const std::string& name, const Shape& shape, init::Initializer initializer) {
  return add_initialized(*data_, detail::NodeKind::parameter, "parameter", name, shape,
                         std::move(initializer));
}

Value Graph::state(const std::string& name, const Shape& shape, init::Initializer initializer) {
  return add_initialized(*data_, detail::NodeKind::state, "state", name, shape,
                         std::move(initializer));
}

std::size_t Graph::node_count() const {
  return data_->nodes.size();
}

std::shared_ptr<detail::GraphData> GraphAccess::data(const Value& v) {
  data_of(v.graph_);
  return v.graph_;
}

Value GraphAccess::add(std::shared_ptr<detail::Op> op, const std::vector<Value>& inputs) {
  if (inputs.empty()) throw Error(op->type() + ": no operands");
  auto graph = data(inputs.front());
  std::vector<Shape> shapes;
  for (const Value& v : inputs) {
    if (data(v) != graph)
      throw Error(op->type() + ": operands '" + inputs.front().name() + "' and '" + v.name() +
                  "' belong to different graphs");
    shapes.push_back(v.shape());
  }
  std::string type = op->type();
  // Numbered per type; a node rejected below does not use up a number.
  std::string name = type + "_" + std::to_string(graph->op_counts[type] + 1);
  detail::Node node;
  try {
    node.shape = op->infer_shape(shapes);
    element_count(node.shape, type);
  } catch (const ShapeError& e) {
    std::string operands;
    for (const Value& v : inputs) operands += (operands.empty() ? "'" : ", '") + v.name() + "'";
    throw ShapeError("node '" + name + "' (" + operands + "): " + e.what());
  }
  ++graph->op_counts[type];
  node.kind = detail::NodeKind::op;
  node.name = name;
  node.op = std::move(op);
  for (const Value& v : inputs) node.inputs.push_back(v.id());
  return graph->value(graph->add_node(std::move(node)));
}

}  // namespace clnn
