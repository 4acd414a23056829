// Test helpers: small ONNX models built in memory and written where the importer reads them.
#pragma once

#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "clnn/shape.hpp"
#include "support.hpp"

namespace clnn::test {

// A temporary folder with a model/ folder inside, where the tests write their models.
struct OnnxDir : clnn::test::TempDir {
  OnnxDir() : clnn::test::TempDir("onnx") { std::filesystem::create_directories(dir / "model"); }
};

inline void write(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

// A one-node model: y = Relu(x) + w, w an initializer; the caller may change it before writing.
inline ::onnx::ModelProto relu_add_model() {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  auto* opset = m.add_opset_import();
  opset->set_version(13);
  auto* g = m.mutable_graph();
  auto* x = g->add_input();
  x->set_name("x");
  x->mutable_type()->mutable_tensor_type()->set_elem_type(::onnx::TensorProto::FLOAT);
  x->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(3);
  auto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(::onnx::TensorProto::FLOAT);
  w->add_dims(3);
  for (float v : {1.0f, 2.0f, 3.0f}) w->add_float_data(v);
  auto* relu = g->add_node();
  relu->set_op_type("Relu");
  relu->add_input("x");
  relu->add_output("r");
  auto* add = g->add_node();
  add->set_op_type("Add");
  add->add_input("r");
  add->add_input("w");
  add->add_output("y");
  g->add_output()->set_name("y");
  return m;
}

// A model of one node 'n' of type `op` reading x (shape x_shape) and, when w_shape is given, an
// initializer w of zeros: y = op(x[, w]). Attributes and more inputs are the caller's to add.
inline ::onnx::ModelProto one_node_model(const std::string& op, const Shape& x_shape,
                                         const Shape& w_shape = {}) {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  auto* x = g->add_input();
  x->set_name("x");
  auto* type = x->mutable_type()->mutable_tensor_type();
  type->set_elem_type(::onnx::TensorProto::FLOAT);
  for (auto d : x_shape) type->mutable_shape()->add_dim()->set_dim_value(d);
  auto* node = g->add_node();
  node->set_name("n");
  node->set_op_type(op);
  node->add_input("x");
  node->add_output("y");
  if (!w_shape.empty()) {
    auto* w = g->add_initializer();
    w->set_name("w");
    w->set_data_type(::onnx::TensorProto::FLOAT);
    for (auto d : w_shape) w->add_dims(d);
    w->set_raw_data(std::string(std::size_t(element_count(w_shape)) * 4, '\0'));
    node->add_input("w");
  }
  g->add_output()->set_name("y");
  return m;
}

inline ::onnx::AttributeProto* attribute(::onnx::ModelProto& m, const std::string& name,
                                         ::onnx::AttributeProto::AttributeType type) {
  auto* a = m.mutable_graph()->mutable_node(0)->add_attribute();
  a->set_name(name);
  a->set_type(type);
  return a;
}

inline void set_ints(::onnx::ModelProto& m, const std::string& name,
                     const std::vector<std::int64_t>& v) {
  auto* a = attribute(m, name, ::onnx::AttributeProto::INTS);
  for (auto x : v) a->add_ints(x);
}

inline void set_int(::onnx::ModelProto& m, const std::string& name, std::int64_t v) {
  attribute(m, name, ::onnx::AttributeProto::INT)->set_i(v);
}

// An int64 initializer read as the node's next input (Reshape's shape).
inline void add_int_input(::onnx::ModelProto& m, const std::vector<std::int64_t>& values) {
  auto* t = m.mutable_graph()->add_initializer();
  t->set_name("ints");
  t->set_data_type(::onnx::TensorProto::INT64);
  t->add_dims(std::int64_t(values.size()));
  for (auto v : values) t->add_int64_data(v);
  m.mutable_graph()->mutable_node(0)->add_input("ints");
}

// An initializer holding integers, by name, of the given extents ({} : a scalar).
inline void add_int_initializer(::onnx::ModelProto& m, const std::string& name,
                                const std::vector<std::int64_t>& values, const Shape& dims) {
  auto* t = m.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(::onnx::TensorProto::INT64);
  for (auto d : dims) t->add_dims(d);
  for (auto v : values) t->add_int64_data(v);
}

inline ::onnx::NodeProto* add_node(::onnx::ModelProto& m, const std::string& op,
                                   const std::vector<std::string>& inputs,
                                   const std::string& output) {
  auto* node = m.mutable_graph()->add_node();
  node->set_op_type(op);
  node->set_name(output);
  for (const auto& in : inputs) node->add_input(in);
  node->add_output(output);
  return node;
}

// A model with input x (float, x_shape) and no nodes yet; its output is 'y'.
inline ::onnx::ModelProto empty_model(const Shape& x_shape, std::int64_t opset = 13) {
  auto m = one_node_model("Identity", x_shape);
  m.mutable_opset_import(0)->set_version(opset);
  m.mutable_graph()->clear_node();
  return m;
}

}  // namespace clnn::test
