// ONNX export: the graph's nodes in order, each operator described by Op::to_onnx.
#include <onnx/onnx_pb.h>

#include <algorithm>

#include "clnn/onnx.hpp"
#include "files.hpp"
#include "graph/graph_data.hpp"

namespace clnn::onnx {

namespace {

void set_float_type(::onnx::ValueInfoProto* info, const std::string& name, const Shape& shape) {
  info->set_name(name);
  auto* tensor = info->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(::onnx::TensorProto::FLOAT);
  auto* dims = tensor->mutable_shape();
  for (auto d : shape) dims->add_dim()->set_dim_value(d);
}

void add_float_initializer(::onnx::GraphProto* g, const std::string& name, const Shape& shape,
                           const std::vector<float>& values) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(::onnx::TensorProto::FLOAT);
  for (auto d : shape) t->add_dims(d);
  t->set_raw_data(
      std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
}

void add_int_initializer(::onnx::GraphProto* g, const std::string& name,
                         const std::vector<std::int64_t>& values) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(::onnx::TensorProto::INT64);
  t->add_dims(std::int64_t(values.size()));
  for (auto v : values) t->add_int64_data(v);
}

}  // namespace

void save(const Graph& graph, const std::string& path, const std::vector<Value>& outputs,
          const Executor* trained) {
  auto data = GraphAccess::data(graph);
  const std::vector<bool> wanted = detail::dependencies(*data, outputs, "onnx::save: output");

  ::onnx::ModelProto model;
  model.set_ir_version(8);
  model.set_producer_name("clnn");
  model.add_opset_import()->set_version(17);
  auto* g = model.mutable_graph();
  g->set_name("clnn");
  // Node ids grow as the graph is built, so id order is a topological order.
  for (std::size_t id = 0; id < data->nodes.size(); ++id) {
    if (!wanted[id]) continue;
    const detail::Node& n = data->nodes[id];
    switch (n.kind) {
      case detail::NodeKind::input:
        set_float_type(g->add_input(), n.name, n.shape);
        break;
      case detail::NodeKind::parameter:
      case detail::NodeKind::state: {
        std::vector<float> values;
        if (trained)
          values = (n.kind == detail::NodeKind::parameter ? trained->parameter(n.name)
                                                          : trained->state(n.name))
                       .to_host();
        else
          values = n.initializer(n.shape);
        add_float_initializer(g, n.name, n.shape, values);
        break;
      }
      case detail::NodeKind::op: {
        detail::OnnxNode desc;
        if (!n.op->to_onnx(desc))
          throw UnsupportedError("onnx::save: node '" + n.name + "' (" + n.op->type() +
                                 ") has no ONNX equivalent");
        // Inputs ONNX takes as int64 go through a Cast first; so does an int64 output after.
        auto cast = [&](const std::string& from, const std::string& to, int type) {
          auto* c = g->add_node();
          c->set_name(to);
          c->set_op_type("Cast");
          c->add_input(from);
          c->add_output(to);
          auto* a = c->add_attribute();
          a->set_name("to");
          a->set_type(::onnx::AttributeProto::INT);
          a->set_i(type);
        };
        std::vector<std::string> inputs;
        for (std::size_t i = 0; i < n.inputs.size(); ++i) {
          inputs.push_back(data->nodes[std::size_t(n.inputs[i])].name);
          if (std::count(desc.index_inputs.begin(), desc.index_inputs.end(), i)) {
            cast(inputs.back(), n.name + "_index" + std::to_string(i), ::onnx::TensorProto::INT64);
            inputs.back() = n.name + "_index" + std::to_string(i);
          }
        }
        auto* node = g->add_node();
        node->set_name(n.name);
        node->set_op_type(desc.op_type);
        for (const std::string& input : inputs) node->add_input(input);
        for (std::size_t i = 0; i < desc.int_inputs.size(); ++i) {
          const std::string name = n.name + "_int" + std::to_string(i);
          add_int_initializer(g, name, desc.int_inputs[i]);
          node->add_input(name);
        }
        for (std::size_t i = 0; i < desc.float_inputs.size(); ++i) {
          const std::string name = n.name + "_float" + std::to_string(i);
          add_float_initializer(g, name, {}, {desc.float_inputs[i]});
          node->add_input(name);
        }
        for (int i = 0; i < desc.output; ++i)
          node->add_output(n.name + "_unused" + std::to_string(i));
        node->add_output(desc.index_output ? n.name + "_positions" : n.name);
        if (desc.index_output) cast(n.name + "_positions", n.name, ::onnx::TensorProto::FLOAT);
        for (const auto& [key, value] : desc.ints) {
          auto* a = node->add_attribute();
          a->set_name(key);
          a->set_type(::onnx::AttributeProto::INT);
          a->set_i(value);
        }
        for (const auto& [key, value] : desc.floats) {
          auto* a = node->add_attribute();
          a->set_name(key);
          a->set_type(::onnx::AttributeProto::FLOAT);
          a->set_f(value);
        }
        for (const auto& [key, values] : desc.int_lists) {
          auto* a = node->add_attribute();
          a->set_name(key);
          a->set_type(::onnx::AttributeProto::INTS);
          for (auto v : values) a->add_ints(v);
        }
        break;
      }
    }
  }
  for (const Value& v : outputs) set_float_type(g->add_output(), v.name(), v.shape());
  std::string bytes;
  if (!model.SerializeToString(&bytes)) throw IoError(path, "cannot serialize the model");
  detail::write_file_atomically(path, bytes);
}

}  // namespace clnn::onnx
