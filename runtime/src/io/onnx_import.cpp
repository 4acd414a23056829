// ONNX import: the graph's inputs, initializers and nodes in order; each node goes through its
// converter (io/onnx_converters.cpp). Initializers become parameters (or graph state where an
// operator updates them), int64 tensors (shapes, axes) host constants.
#include <filesystem>
#include <map>

#include "clnn/init.hpp"
#include "clnn/onnx.hpp"
#include "io/onnx_fold.hpp"
#include "io/onnx_node.hpp"
#include "io/onnx_tensor.hpp"

namespace clnn::onnx {

namespace {

using detail::HostTensor;

class Importer : public detail::ValueSource {
 public:
  Importer(const ::onnx::ModelProto& model, std::string path)
      : model_(model), path_(std::move(path)) {
    folder_ = std::filesystem::path(path_).parent_path().string();
    if (folder_.empty()) folder_ = ".";
  }

  Model run() {
    Model out;
    for (const auto& opset : model_.opset_import())
      if (opset.domain().empty() || opset.domain() == "ai.onnx") out.opset = opset.version();
    if (out.opset == 0) throw UnsupportedError("the model imports no default-domain opset");
    // Opsets before 7 differ from later ones in attributes (consumed_inputs, broadcast, ...),
    // which the attribute checks refuse; where only a default moved, the converter follows it.
    if (out.opset < 1 || out.opset > 17)
      throw UnsupportedError("opset " + std::to_string(out.opset) + " (clnn imports 1 to 17)");
    opset_ = out.opset;
    const auto& graph = model_.graph();
    for (const auto& t : graph.initializer()) initializers_[t.name()] = &t;
    for (const auto& input : graph.input()) {
      if (initializers_.count(input.name())) continue;  // older models list initializers too
      const auto& type = input.type().tensor_type();
      if (type.elem_type() != ::onnx::TensorProto::FLOAT)
        throw UnsupportedError("input '" + input.name() + "' is not float32");
      Shape shape;
      for (const auto& d : type.shape().dim()) {
        if (!d.has_dim_value() || d.dim_value() <= 0)
          throw UnsupportedError("input '" + input.name() + "' has a symbolic or empty dimension");
        shape.push_back(d.dim_value());
      }
      Value v = g_.input(input.name(), shape);
      values_[input.name()] = v;
      out.inputs.emplace_back(input.name(), v);
    }
    for (const auto& node : graph.node()) convert(node);
    for (const auto& output : graph.output())
      out.outputs.emplace_back(output.name(), value(output.name(), "the graph outputs", false));
    out.graph = g_;
    return out;
  }

  // A float value by name: an earlier output, an input, a float Constant or an initializer
  // (made graph state or a parameter on first use).
  Value value(const std::string& name, const std::string& user, bool as_state) override {
    if (auto it = values_.find(name); it != values_.end()) return it->second;
    HostTensor t;
    auto init = initializers_.find(name);
    if (auto it = constants_.find(name); it != constants_.end())
      t = it->second;  // small: a Constant's output, or an initializer read as a constant too
    else if (init != initializers_.end())
      t = decode(*init->second, "initializer '" + name + "'");  // not kept: weights are large
    else
      throw IoError(path_, user + " reads '" + name + "', which nothing defines");
    if (!t.is_float())
      throw UnsupportedError(user + " takes the integer tensor '" + name + "' as data");
    auto data = std::make_shared<std::vector<float>>(std::move(t.floats));
    init::Initializer fill = [data](const Shape&) { return *data; };
    // A Constant's output is state: it is not trained.
    const bool state = as_state || init == initializers_.end();
    Value v = state ? g_.state(name, t.shape, fill) : g_.parameter(name, t.shape, fill);
    values_[name] = v;
    return v;
  }

  const HostTensor* constant(const std::string& name) override {
    if (auto it = constants_.find(name); it != constants_.end()) return &it->second;
    auto init = initializers_.find(name);
    if (init == initializers_.end()) return nullptr;
    return &(constants_[name] = decode(*init->second, "initializer '" + name + "'"));
  }

  void define_constant(const std::string& name, HostTensor tensor) override {
    constants_[name] = std::move(tensor);
  }

  std::optional<Shape> shape_of(const std::string& name) override {
    if (auto it = values_.find(name); it != values_.end()) return it->second.shape();
    if (auto it = constants_.find(name); it != constants_.end()) return it->second.shape;
    if (auto it = initializers_.find(name); it != initializers_.end())
      return Shape(it->second->dims().begin(), it->second->dims().end());
    return std::nullopt;
  }

  HostTensor decode(const ::onnx::TensorProto& tensor, const std::string& where) override {
    return clnn::detail::decode_tensor(tensor, where, folder_);
  }

  std::int64_t opset() const override { return opset_; }
  const std::string& path() const override { return path_; }

 private:
  void convert(const ::onnx::NodeProto& proto) {
    if (proto.output_size() == 0)
      throw IoError(path_, "node '" + proto.name() + "' (" + proto.op_type() + ") has no outputs");
    const detail::Converter* converter = detail::find_converter(proto.op_type());
    const bool default_domain = proto.domain().empty() || proto.domain() == "ai.onnx";
    detail::Node node(*this, proto);
    if (!default_domain) node.unsupported("domain '" + proto.domain() + "'");
    if (!converter) node.unsupported("operator " + proto.op_type());
    node.allow_only(converter->attributes);
    detail::Outputs outputs;
    try {
      if (auto folded = detail::fold(node)) {
        if (proto.output_size() != 1) node.unsupported("more than one output");
        node.define_constant(0, std::move(*folded));
        return;
      }
      if (!converter->lower)
        node.unsupported("operator " + proto.op_type() + " on values computed at run time");
      outputs = converter->lower(node);
    } catch (const ShapeError& e) {
      const std::string what = e.what();
      // Checked accessors name the node already; errors of the clnn operators do not.
      throw ShapeError(what.rfind(node.where(), 0) == 0 ? what : node.where() + ": " + what);
    }
    for (int i = 0; i < proto.output_size(); ++i) {
      if (!node.has_output(i)) continue;
      if (std::size_t(i) < outputs.size())
        values_[proto.output(i)] = outputs[std::size_t(i)];
      else if (!constants_.count(proto.output(i)))
        node.unsupported("output " + std::to_string(i));
    }
  }

  const ::onnx::ModelProto& model_;
  std::string path_, folder_;
  std::int64_t opset_ = 0;
  Graph g_;
  std::map<std::string, Value> values_;
  std::map<std::string, const ::onnx::TensorProto*> initializers_;
  std::map<std::string, HostTensor> constants_;  // decoded initializers and Constant outputs
};

}  // namespace

Model load(const std::string& path) {
  auto model = clnn::detail::read_message<::onnx::ModelProto>(path);
  if (!model.has_graph()) throw IoError(path, "the model has no graph");
  try {
    return Importer(model, path).run();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {  // protobuf's own checks
    throw IoError(path, std::string("malformed model: ") + e.what());
  }
}

}  // namespace clnn::onnx
