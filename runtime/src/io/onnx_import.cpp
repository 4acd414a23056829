// ONNX import: the graph's inputs, initializers and nodes in order; each node goes through its
// converter (io/onnx_converters.cpp). Initializers become parameters (or graph state where an
// operator updates them), int64 tensors (shapes, axes) host constants.
#include <filesystem>
#include <limits>
#include <map>
#include <set>

#include "clnn/init.hpp"
#include "clnn/onnx.hpp"
#include "io/onnx_fold.hpp"
#include "io/onnx_integers.hpp"
#include "io/onnx_node.hpp"
#include "io/onnx_tensor.hpp"

namespace clnn::onnx {

namespace {

using clnn::detail::Element;
using clnn::detail::element_of;
using detail::HostTensor;
using clnn::detail::onnx_element_name;

class Importer : public detail::ValueSource {
 public:
  Importer(const ::onnx::ModelProto& model, std::string path, const LoadOptions& options)
      : model_(model), path_(std::move(path)), options_(options) {
    folder_ = std::filesystem::path(path_).parent_path().string();
    if (folder_.empty()) folder_ = ".";
  }

  // The largest extent a symbolic dimension may be given.
  static constexpr std::int64_t kMaxSymbolicExtent = std::numeric_limits<std::int32_t>::max();

  Model run() {
    Model out;
    for (const auto& opset : model_.opset_import())
      if (opset.domain().empty() || opset.domain() == "ai.onnx") out.opset = opset.version();
    if (out.opset == 0) throw UnsupportedError("the model imports no default-domain opset");
    // Opsets before 7 differ from later ones in attributes (consumed_inputs, broadcast, ...),
    // which the attribute checks refuse; where only a default moved, the converter follows it.
    if (out.opset < 1 || out.opset > detail::kMaxOpset)
      throw UnsupportedError("opset " + std::to_string(out.opset) + " (clnn imports 1 to " +
                             std::to_string(detail::kMaxOpset) + ")");
    opset_ = out.opset;
    const auto& graph = model_.graph();
    for (const auto& t : graph.initializer()) initializers_[t.name()] = &t;
    std::size_t bound = 0;
    for (const auto& input : graph.input()) {
      if (initializers_.count(input.name())) continue;  // older models list initializers too
      const auto& type = input.type().tensor_type();
      if (auto it = options_.bound_inputs.find(input.name()); it != options_.bound_inputs.end()) {
        constants_[input.name()] = bind(input, it->second);
        ++bound;
        continue;
      }
      const std::optional<Element> element = element_of(type.elem_type());
      if (!element)
        throw UnsupportedError("input '" + input.name() + "' is " +
                               onnx_element_name(type.elem_type()));
      const bool integers = element == Element::int64 || element == Element::int32;
      if (element != Element::float32) out.integer_inputs.insert(input.name());
      // Booleans are floats holding 0 and 1 wherever they flow; integers are watched.
      if (integers) {
        device_integers_.insert(input.name());
        integer_inputs_.insert(input.name());
      }
      Shape shape;
      for (const auto& d : type.shape().dim()) {
        if (d.has_dim_value()) {
          if (d.dim_value() <= 0)
            throw UnsupportedError("input '" + input.name() + "' has an empty dimension");
          shape.push_back(d.dim_value());
          continue;
        }
        // Symbolic (or unknown): the extent the options give its name, else 1.
        const auto given = options_.dims.find(d.dim_param());
        const std::int64_t extent = given == options_.dims.end() ? 1 : given->second;
        if (extent < 1 || extent > kMaxSymbolicExtent)
          throw ShapeError("dimension '" + d.dim_param() + "' of input '" + input.name() +
                           "' is given " + std::to_string(extent) + " (1 to 2^31 - 1)");
        out.dims[d.dim_param()] = extent;
        shape.push_back(extent);
      }
      Value v = g_.input(input.name(), shape);
      values_[input.name()] = v;
      out.inputs.emplace_back(input.name(), v);
    }
    if (bound != options_.bound_inputs.size())
      for (const auto& [name, value] : options_.bound_inputs)
        if (!constants_.count(name) || initializers_.count(name))
          throw Error("a value is bound to '" + name + "', which is not an input of " + path_);
    for (const auto& node : graph.node())
      for (const auto& input : node.input()) ++readers_[input];
    for (const auto& output : graph.output()) ++readers_[output.name()];
    for (const auto& node : graph.node()) {
      for (const auto& output : node.output()) producers_[output] = &node;
      convert(node);
    }
    for (const auto& output : graph.output())
      out.outputs.emplace_back(output.name(), value(output.name(), "the graph outputs", false));
    out.values = values_;
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

  Value constant_value(const std::string& name, HostTensor values) override {
    if (values_.count(name) || constants_.count(name) || initializers_.count(name))
      throw IoError(path_, "the name '" + name + "' is taken; clnn needs it for a constant");
    constants_[name] = std::move(values);
    return value(name, name, true);
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

  bool fuse_attention() const override { return options_.fuse_attention; }

  int readers(const std::string& name) override {
    auto it = readers_.find(name);
    return it == readers_.end() ? 0 : it->second;
  }

  const ::onnx::NodeProto* producer(const std::string& name) override {
    auto it = producers_.find(name);
    return it == producers_.end() ? nullptr : it->second;
  }

  std::int64_t opset() const override { return opset_; }
  const std::string& path() const override { return path_; }

 private:
  // A bound input as a known tensor, checked against the input's declared type and shape.
  HostTensor bind(const ::onnx::ValueInfoProto& input, const BoundInput& given) const {
    const std::string where = "the value bound to input '" + input.name() + "'";
    const auto& type = input.type().tensor_type();
    HostTensor t;
    t.shape = given.shape;
    const std::optional<Element> element = element_of(type.elem_type());
    if (!element)
      throw UnsupportedError("input '" + input.name() + "' is " +
                             onnx_element_name(type.elem_type()));
    t.type = *element;
    std::int64_t count = 1;
    for (std::int64_t d : given.shape) {
      if (d < 0 || (d > 0 && count > std::numeric_limits<std::int64_t>::max() / d))
        throw ShapeError(where + " has shape " + to_string(given.shape));
      count *= d;
    }
    const auto& dims = type.shape().dim();
    bool fits = !type.has_shape() || dims.size() == int(given.shape.size());
    for (int d = 0; fits && d < dims.size(); ++d)
      fits = !dims[d].has_dim_value() || dims[d].dim_value() == given.shape[std::size_t(d)];
    if (!fits)
      throw ShapeError(where + " has shape " + to_string(given.shape) + ", unlike the input's");
    const std::size_t have = t.is_float() ? given.floats.size() : given.ints.size();
    const std::size_t other = t.is_float() ? given.ints.size() : given.floats.size();
    if (have != std::uint64_t(count) || other != 0)
      throw ShapeError(where + " holds " + std::to_string(have) + " " +
                       onnx_element_name(type.elem_type()) + " values for " +
                       std::to_string(count) + " elements");
    for (std::int64_t v : given.ints) {
      const bool ok = t.type == Element::boolean ? (v == 0 || v == 1)
                      : t.type == Element::int32 ? v == std::int32_t(v)
                                                 : true;
      if (!ok)
        throw ShapeError(where + " holds " + std::to_string(v) + ", out of its type's range");
    }
    t.ints = given.ints;
    t.floats = given.floats;
    return t;
  }

  void convert(const ::onnx::NodeProto& proto) {
    if (proto.output_size() == 0)
      throw IoError(path_, "node '" + proto.name() + "' (" + proto.op_type() + ") has no outputs");
    const detail::Converter* converter = detail::find_converter(proto.op_type());
    const bool default_domain = proto.domain().empty() || proto.domain() == "ai.onnx";
    detail::Node node(*this, proto);
    if (!default_domain) node.unsupported("domain '" + proto.domain() + "'");
    if (!converter) node.unsupported("operator " + proto.op_type());
    node.allow_only(converter->attributes);
    const bool read_integers = check_integer_inputs(node);
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
      if (detail::gives_integers(node, i, read_integers)) device_integers_.insert(proto.output(i));
    }
  }

  // Refuses integers computed at run time (floats on the device) where the operator would
  // treat them other than ONNX treats integers; whether the node reads any.
  bool check_integer_inputs(const detail::Node& node) const {
    bool any = false;
    const auto& proto = node.proto();
    for (int i = 0; i < proto.input_size(); ++i) {
      if (!device_integers_.count(proto.input(i))) continue;
      if (!detail::takes_run_time_integers(node, i))
        node.unsupported("input " + std::to_string(i) + " ('" + proto.input(i) +
                         "') holds integers computed at run time, which clnn takes as indices, "
                         "in comparisons, casts, sums and shape operators only" +
                         (integer_inputs_.count(proto.input(i))
                              ? std::string("; bind it at load (onnx::LoadOptions::bound_inputs, "
                                            "clnn-run --bind)")
                              : std::string()));
      any = true;
    }
    return any;
  }

  const ::onnx::ModelProto& model_;
  std::string path_, folder_;
  const LoadOptions& options_;
  std::int64_t opset_ = 0;
  Graph g_;
  std::map<std::string, Value> values_;
  std::map<std::string, const ::onnx::TensorProto*> initializers_;
  std::map<std::string, HostTensor> constants_;  // decoded initializers and Constant outputs
  std::map<std::string, const ::onnx::NodeProto*> producers_;  // of the nodes converted so far
  std::map<std::string, int> readers_;                         // ValueSource::readers
  std::set<std::string> device_integers_;                      // values holding integers, as floats
  std::set<std::string> integer_inputs_;                       // graph inputs among them
};

}  // namespace

Model load(const std::string& path, const LoadOptions& options) {
  auto model = clnn::detail::read_message<::onnx::ModelProto>(path);
  if (!model.has_graph()) throw IoError(path, "the model has no graph");
  try {
    return Importer(model, path, options).run();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {  // protobuf's own checks
    throw IoError(path, std::string("malformed model: ") + e.what());
  }
}

}  // namespace clnn::onnx
