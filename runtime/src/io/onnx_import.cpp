// ONNX import: nodes become clnn operators, initializers parameters (or graph state where an
// operator updates them), int64 tensors (shapes, axes) host constants.
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <numeric>

#include "clnn/init.hpp"
#include "clnn/onnx.hpp"
#include "clnn/ops.hpp"
#include "io/onnx_tensor.hpp"

namespace clnn::onnx {

namespace {

using detail::HostTensor;
using Ints = std::vector<std::int64_t>;

// A node's attributes by name, with defaults.
class Attributes {
 public:
  explicit Attributes(const ::onnx::NodeProto& node) {
    for (const auto& a : node.attribute()) map_[a.name()] = &a;
  }
  bool has(const std::string& name) const { return map_.count(name) != 0; }
  std::int64_t i(const std::string& name, std::int64_t fallback) const {
    auto it = map_.find(name);
    return it == map_.end() ? fallback : it->second->i();
  }
  float f(const std::string& name, float fallback) const {
    auto it = map_.find(name);
    return it == map_.end() ? fallback : it->second->f();
  }
  std::string s(const std::string& name, const std::string& fallback) const {
    auto it = map_.find(name);
    return it == map_.end() ? fallback : it->second->s();
  }
  Ints ints(const std::string& name) const {
    auto it = map_.find(name);
    return it == map_.end() ? Ints{} : Ints(it->second->ints().begin(), it->second->ints().end());
  }
  const ::onnx::TensorProto* tensor(const std::string& name) const {
    auto it = map_.find(name);
    return it == map_.end() ? nullptr : &it->second->t();
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [name, a] : map_) out.push_back(name);
    return out;
  }

 private:
  std::map<std::string, const ::onnx::AttributeProto*> map_;
};

class Importer {
 public:
  Importer(const ::onnx::ModelProto& model, std::string folder)
      : model_(model), folder_(std::move(folder)) {}

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
      out.outputs.emplace_back(output.name(), value(output.name(), "the graph outputs"));
    out.graph = g_;
    return out;
  }

 private:
  using Converter = std::function<std::vector<Value>(const ::onnx::NodeProto&, const Attributes&)>;

  std::string where(const ::onnx::NodeProto& node) const {
    const std::string name = !node.name().empty()     ? node.name()
                             : node.output_size() > 0 ? node.output(0)
                                                      : std::string("unnamed");
    return "node '" + name + "' (" + node.op_type() + ")";
  }

  [[noreturn]] void unsupported(const ::onnx::NodeProto& node, const std::string& what) const {
    throw UnsupportedError(where(node) + ": " + what);
  }

  // A float value by name: an earlier output, an input, or an initializer made a parameter (or
  // graph state) on first use.
  Value value(const std::string& name, const std::string& user, bool as_state = false) {
    if (auto it = values_.find(name); it != values_.end()) return it->second;
    auto init = initializers_.find(name);
    if (init == initializers_.end())
      throw IoError(folder_, user + " reads '" + name + "', which nothing defines");
    HostTensor t = detail::decode_tensor(*init->second, "initializer '" + name + "'", folder_);
    if (!t.is_float)
      throw UnsupportedError(user + " takes the integer tensor '" + name + "' as data");
    auto data = std::make_shared<std::vector<float>>(std::move(t.floats));
    init::Initializer fill = [data](const Shape&) { return *data; };
    Value v = as_state ? g_.state(name, t.shape, fill) : g_.parameter(name, t.shape, fill);
    values_[name] = v;
    return v;
  }

  // An int64 tensor known when importing (an initializer or Constant): shapes, axes.
  Ints constant_ints(const ::onnx::NodeProto& node, const std::string& name) {
    if (auto it = int_constants_.find(name); it != int_constants_.end()) return it->second;
    auto init = initializers_.find(name);
    if (init == initializers_.end())
      unsupported(node, "'" + name + "' must be a constant integer tensor");
    HostTensor t = detail::decode_tensor(*init->second, "initializer '" + name + "'", folder_);
    if (t.is_float) unsupported(node, "'" + name + "' must be an integer tensor");
    return int_constants_[name] = t.ints;
  }

  // A float scalar known when importing (Clip's bounds).
  float constant_float(const ::onnx::NodeProto& node, const std::string& name) {
    const ::onnx::TensorProto* t = nullptr;
    if (auto it = initializers_.find(name); it != initializers_.end()) t = it->second;
    if (auto it = float_constants_.find(name); it != float_constants_.end()) return it->second;
    if (!t) unsupported(node, "'" + name + "' must be a constant");
    HostTensor h = detail::decode_tensor(*t, "initializer '" + name + "'", folder_);
    if (!h.is_float || h.floats.size() != 1)
      unsupported(node, "'" + name + "' must be a float scalar");
    return h.floats[0];
  }

  Value input(const ::onnx::NodeProto& node, int i, bool as_state = false) {
    if (i >= node.input_size() || node.input(i).empty())
      throw IoError(folder_, where(node) + ": missing input " + std::to_string(i));
    return value(node.input(i), where(node), as_state);
  }

  bool has_input(const ::onnx::NodeProto& node, int i) const {
    return i < node.input_size() && !node.input(i).empty();
  }

  void check_attributes(const ::onnx::NodeProto& node, const Attributes& a,
                        const std::vector<std::string>& known) {
    for (const auto& name : a.names())
      if (std::find(known.begin(), known.end(), name) == known.end())
        unsupported(node, "attribute '" + name + "'");
  }

  void convert(const ::onnx::NodeProto& node) {
    if (node.output_size() == 0) throw IoError(folder_, where(node) + ": the node has no outputs");
    if (!node.domain().empty() && node.domain() != "ai.onnx")
      unsupported(node, "domain '" + node.domain() + "'");
    static const std::map<std::string, std::vector<std::string>> known_attributes{
        {"Relu", {}},
        {"Sigmoid", {}},
        {"Tanh", {}},
        {"LeakyRelu", {"alpha"}},
        {"Elu", {"alpha"}},
        {"Softmax", {"axis"}},
        {"LogSoftmax", {"axis"}},
        {"Add", {}},
        {"Sub", {}},
        {"Mul", {}},
        {"MatMul", {}},
        {"Div", {}},
        {"ConvTranspose",
         {"auto_pad", "dilations", "group", "kernel_shape", "output_padding", "output_shape",
          "pads", "strides"}},
        {"Pow", {}},
        {"PRelu", {}},
        {"Gemm", {"alpha", "beta", "transA", "transB"}},
        {"Conv", {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"}},
        {"MaxPool",
         {"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order",
          "strides"}},
        {"AveragePool",
         {"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"}},
        {"GlobalAveragePool", {}},
        {"BatchNormalization", {"epsilon", "momentum", "spatial"}},
        {"Flatten", {"axis"}},
        {"Reshape", {"allowzero"}},
        {"Transpose", {"perm"}},
        {"Concat", {"axis"}},
        {"Dropout", {"ratio", "seed", "is_test"}},
        {"Identity", {}},
        {"Constant", {"value"}},
        {"Sqrt", {}},
        {"Exp", {}},
        {"Selu", {"alpha", "gamma"}},
        {"HardSigmoid", {"alpha", "beta"}},
        {"Clip", {"min", "max"}},
        {"GlobalMaxPool", {}},
    };
    auto known = known_attributes.find(node.op_type());
    if (known == known_attributes.end()) unsupported(node, "operator " + node.op_type());
    Attributes a(node);
    check_attributes(node, a, known->second);
    std::vector<Value> outputs;
    try {
      outputs = lower(node, a);
    } catch (const ShapeError& e) {
      throw ShapeError(where(node) + ": " + e.what());
    }
    if (node.op_type() == "Constant") return;
    for (int i = 0; i < node.output_size(); ++i) {
      if (node.output(i).empty()) continue;
      if (std::size_t(i) >= outputs.size()) unsupported(node, "output " + std::to_string(i));
      values_[node.output(i)] = outputs[std::size_t(i)];
    }
  }

  // Per spatial dimension pads and options, from ONNX's pads [b..., e...] or auto_pad.
  void window(const ::onnx::NodeProto& node, const Attributes& a, const Shape& x,
              const Ints& kernel, const Ints& strides, const Ints& dilations, Ints& begin,
              Ints& end) {
    const std::size_t dims = kernel.size();
    Ints pads = a.ints("pads");
    const std::string autopad = a.s("auto_pad", "NOTSET");
    begin.assign(dims, 0);
    end.assign(dims, 0);
    if (autopad == "NOTSET") {
      if (!pads.empty() && pads.size() != 2 * dims)
        throw ShapeError("pads must have 2 entries per spatial dimension");
      for (std::size_t d = 0; d < dims && !pads.empty(); ++d)
        begin[d] = pads[d], end[d] = pads[d + dims];
    } else if (autopad == "SAME_UPPER" || autopad == "SAME_LOWER") {
      for (std::size_t d = 0; d < dims; ++d) {
        const std::int64_t in = x[d + 2], s = strides.empty() ? 1 : strides[d];
        const std::int64_t dil = dilations.empty() ? 1 : dilations[d];
        const std::int64_t out = (in + s - 1) / s;
        const std::int64_t total =
            std::max<std::int64_t>(0, (out - 1) * s + (kernel[d] - 1) * dil + 1 - in);
        begin[d] = autopad == "SAME_UPPER" ? total / 2 : total - total / 2;
        end[d] = total - begin[d];
      }
    } else if (autopad != "VALID") {
      unsupported(node, "auto_pad " + autopad);
    }
  }

  // ONNX softmax before opset 13 works on x flattened to 2-D at `axis`.
  Value softmax_like(const ::onnx::NodeProto& node, const Attributes& a, bool log_mode) {
    Value x = input(node, 0);
    const auto rank = std::int64_t(x.shape().size());
    if (opset_ >= 13) {
      int axis = int(a.i("axis", -1));
      return log_mode ? log_softmax(x, axis) : softmax(x, axis);
    }
    std::int64_t axis = a.i("axis", 1);
    if (axis < 0) axis += rank;
    Value flat = flatten(x, int(axis));
    Value y = log_mode ? log_softmax(flat, 1) : softmax(flat, 1);
    return reshape(y, x.shape());
  }

  std::vector<Value> lower(const ::onnx::NodeProto& node, const Attributes& a) {
    const std::string& op = node.op_type();
    if (op == "Relu") return {relu(input(node, 0))};
    if (op == "Sigmoid") return {sigmoid(input(node, 0))};
    if (op == "Tanh") return {clnn::tanh(input(node, 0))};
    if (op == "LeakyRelu") return {leaky_relu(input(node, 0), a.f("alpha", 0.01f))};
    if (op == "Elu") return {elu(input(node, 0), a.f("alpha", 1.0f))};
    if (op == "Softmax") return {softmax_like(node, a, false)};
    if (op == "LogSoftmax") return {softmax_like(node, a, true)};
    if (op == "Identity") return {reshape(input(node, 0), input(node, 0).shape())};
    if (op == "Sqrt") return {clnn::sqrt(input(node, 0))};
    if (op == "Exp") return {clnn::exp(input(node, 0))};
    if (op == "Selu")
      return {selu(input(node, 0), a.f("alpha", 1.67326319217681884765625f),
                   a.f("gamma", 1.05070102214813232421875f))};
    if (op == "HardSigmoid")
      return {hard_sigmoid(input(node, 0), a.f("alpha", 0.2f), a.f("beta", 0.5f))};
    if (op == "Clip") {
      float lo = -std::numeric_limits<float>::infinity(),
            hi = std::numeric_limits<float>::infinity();
      if (opset_ < 11) {
        lo = a.f("min", lo);
        hi = a.f("max", hi);
      } else {
        if (has_input(node, 1)) lo = constant_float(node, node.input(1));
        if (has_input(node, 2)) hi = constant_float(node, node.input(2));
      }
      return {clip(input(node, 0), lo, hi)};
    }
    if (op == "GlobalMaxPool") {
      Value x = input(node, 0);
      if (x.shape().size() < 3) throw ShapeError("GlobalMaxPool needs spatial dimensions");
      PoolOptions o;
      o.kernel.assign(x.shape().begin() + 2, x.shape().end());
      return {max_pool(x, o)};
    }
    if (op == "Add") return {add(input(node, 0), input(node, 1))};
    if (op == "Sub") return {sub(input(node, 0), input(node, 1))};
    if (op == "Mul") return {mul(input(node, 0), input(node, 1))};
    if (op == "Div") return {div(input(node, 0), input(node, 1))};
    if (op == "Pow") return {clnn::pow(input(node, 0), input(node, 1))};
    if (op == "PRelu") {
      Value x = input(node, 0), slope = input(node, 1);
      // Before opset 7 a slope of C values applied per channel (axis 1).
      if (opset_ < 7 && slope.shape().size() == 1 && x.shape().size() > 2 &&
          slope.shape()[0] == x.shape()[1]) {
        Shape per_channel{slope.shape()[0]};
        per_channel.resize(x.shape().size() - 1, 1);
        slope = reshape(slope, per_channel);
      }
      return {prelu(x, slope)};
    }
    if (op == "MatMul") {
      Value x = input(node, 0), y = input(node, 1);
      const Shape &sx = x.shape(), &sy = y.shape();
      if (sx.size() < 2 || sy.size() < 2)
        unsupported(node, "MatMul of " + to_string(sx) + " and " + to_string(sy));
      if (sx.size() <= 3 && sy.size() <= 3) return {matmul(x, y)};
      // More batch dimensions: equal ones fold into one.
      if (sx.size() != sy.size() || !std::equal(sx.begin(), sx.end() - 2, sy.begin()))
        unsupported(node, "MatMul broadcasting batch dimensions of " + to_string(sx) + " and " +
                              to_string(sy));
      const std::int64_t batch =
          std::accumulate(sx.begin(), sx.end() - 2, std::int64_t{1}, std::multiplies<>());
      Value z = matmul(reshape(x, {batch, sx[sx.size() - 2], sx.back()}),
                       reshape(y, {batch, sy[sy.size() - 2], sy.back()}));
      Shape out(sx.begin(), sx.end() - 2);
      out.push_back(sx[sx.size() - 2]);
      out.push_back(sy.back());
      return {reshape(z, out)};
    }
    if (op == "Gemm") {
      Value y =
          matmul(input(node, 0), input(node, 1), a.i("transA", 0) != 0, a.i("transB", 0) != 0);
      if (float alpha = a.f("alpha", 1.0f); alpha != 1.0f) y = scale(y, alpha);
      if (has_input(node, 2)) {
        Value c = input(node, 2);
        if (float beta = a.f("beta", 1.0f); beta != 1.0f) c = scale(c, beta);
        y = add(y, c);  // C broadcasts to [M, N]
      }
      return {y};
    }
    if (op == "Conv") {
      Value x = input(node, 0), w = input(node, 1);
      Ints kernel(w.shape().begin() + 2, w.shape().end());
      if (a.has("kernel_shape") && a.ints("kernel_shape") != kernel)
        throw ShapeError("kernel_shape differs from the weights'");
      ConvOptions o;
      o.strides = a.ints("strides");
      o.dilations = a.ints("dilations");
      o.groups = a.i("group", 1);
      window(node, a, x.shape(), kernel, o.strides, o.dilations, o.pads_begin, o.pads_end);
      std::optional<Value> bias;
      if (has_input(node, 2)) bias = input(node, 2);
      return {conv(x, w, bias, o)};
    }
    if (op == "ConvTranspose") {
      Value x = input(node, 0), w = input(node, 1);
      const std::size_t dims = x.shape().size() - 2;
      Ints kernel(w.shape().begin() + 2, w.shape().end());
      if (a.has("kernel_shape") && a.ints("kernel_shape") != kernel)
        throw ShapeError("kernel_shape differs from the weights'");
      ConvTransposeOptions o;
      o.groups = a.i("group", 1);
      o.strides = a.ints("strides");
      o.dilations = a.ints("dilations");
      o.output_padding = a.ints("output_padding");
      if (o.strides.empty()) o.strides.assign(dims, 1);
      if (o.dilations.empty()) o.dilations.assign(dims, 1);
      if (o.output_padding.empty()) o.output_padding.assign(dims, 0);
      const std::string autopad = a.s("auto_pad", "NOTSET");
      Ints output_shape = a.ints("output_shape");
      if (output_shape.size() == dims + 2)
        output_shape.erase(output_shape.begin(), output_shape.begin() + 2);
      if (autopad != "NOTSET" && autopad != "VALID" && output_shape.empty())
        for (std::size_t d = 0; d < dims; ++d)
          output_shape.push_back(x.shape()[d + 2] * o.strides[d]);
      if (!output_shape.empty()) {
        // The padding that gives the requested output (ONNX's rule; SAME_UPPER pads the start
        // less).
        for (std::size_t d = 0; d < dims; ++d) {
          const std::int64_t total = o.strides[d] * (x.shape()[d + 2] - 1) + o.output_padding[d] +
                                     (kernel[d] - 1) * o.dilations[d] + 1 - output_shape[d];
          if (total < 0) {  // a larger output than the input covers: extra zeros at the end
            o.output_padding[d] -= total;
            o.pads_begin.push_back(0);
            o.pads_end.push_back(0);
            continue;
          }
          const std::int64_t half = total / 2;
          o.pads_begin.push_back(autopad == "SAME_UPPER" ? half : total - half);
          o.pads_end.push_back(autopad == "SAME_UPPER" ? total - half : half);
        }
      } else if (autopad == "NOTSET") {
        Ints pads = a.ints("pads");
        if (!pads.empty() && pads.size() != 2 * dims)
          throw ShapeError("pads must have 2 entries per spatial dimension");
        for (std::size_t d = 0; d < dims && !pads.empty(); ++d)
          o.pads_begin.push_back(pads[d]), o.pads_end.push_back(pads[d + dims]);
      }
      std::optional<Value> bias;
      if (has_input(node, 2)) bias = input(node, 2);
      return {conv_transpose(x, w, bias, o)};
    }
    if (op == "MaxPool" || op == "AveragePool") {
      Value x = input(node, 0);
      PoolOptions o;
      o.kernel = a.ints("kernel_shape");
      o.strides = a.ints("strides");
      if (o.strides.empty())
        o.strides.assign(o.kernel.size(), 1);  // ONNX's default, not the kernel
      o.ceil_mode = a.i("ceil_mode", 0) != 0;
      o.count_include_pad = a.i("count_include_pad", 0) != 0;
      o.dilations = a.ints("dilations");
      if (a.i("storage_order", 0) != 0) unsupported(node, "storage_order 1");
      if (node.output_size() > 1 && !node.output(1).empty())
        unsupported(node, "the Indices output");
      window(node, a, x.shape(), o.kernel, o.strides, o.dilations, o.pads_begin, o.pads_end);
      return {op == "MaxPool" ? max_pool(x, o) : avg_pool(x, o)};
    }
    if (op == "GlobalAveragePool") return {global_avg_pool(input(node, 0))};
    if (op == "BatchNormalization") {
      if (node.output_size() > 1) unsupported(node, "training-mode outputs");
      if (a.i("spatial", 1) != 1) unsupported(node, "spatial 0 (per-element statistics)");
      return {batch_norm(input(node, 0), input(node, 1), input(node, 2), input(node, 3, true),
                         input(node, 4, true), 0.1f, a.f("epsilon", 1e-5f))};
    }
    if (op == "Flatten") {
      Value x = input(node, 0);
      std::int64_t axis = a.i("axis", 1);
      return {flatten(x, int(axis))};
    }
    if (op == "Reshape") {
      Value x = input(node, 0);
      Ints target = opset_ >= 5 ? constant_ints(node, node.input(1)) : a.ints("shape");
      const bool allow_zero = a.i("allowzero", 0) != 0;
      for (std::size_t d = 0; d < target.size(); ++d)
        if (target[d] == 0 && !allow_zero) {
          if (d >= x.shape().size())
            throw ShapeError("a 0 in the target shape past the input's rank");
          target[d] = x.shape()[d];
        }
      return {reshape(x, target)};
    }
    if (op == "Transpose") {
      Value x = input(node, 0);
      Ints perm = a.ints("perm");
      std::vector<int> p(x.shape().size());
      if (perm.empty())
        std::iota(p.rbegin(), p.rend(), 0);
      else
        std::transform(perm.begin(), perm.end(), p.begin(), [](std::int64_t v) { return int(v); });
      if (perm.size() > p.size()) throw ShapeError("perm longer than the rank");
      return {transpose(x, p)};
    }
    if (op == "Concat") {
      std::vector<Value> parts;
      for (int i = 0; i < node.input_size(); ++i) parts.push_back(input(node, i));
      if (!a.has("axis") && opset_ >= 4) throw ShapeError("Concat needs an axis");
      return {concat(parts, int(a.i("axis", 1)))};  // before opset 4 the axis defaulted to 1
    }
    if (op == "Dropout") {
      if (node.output_size() > 1 && !node.output(1).empty()) unsupported(node, "the mask output");
      Value x = input(node, 0);
      return {reshape(x, x.shape())};  // inference: the identity
    }
    if (op == "Constant") {
      const ::onnx::TensorProto* t = a.tensor("value");
      if (!t) unsupported(node, "a Constant without a tensor 'value'");
      HostTensor h = detail::decode_tensor(*t, where(node), folder_);
      if (!h.is_float) {
        int_constants_[node.output(0)] = h.ints;
      } else {
        if (h.floats.size() == 1) float_constants_[node.output(0)] = h.floats[0];
        auto data = std::make_shared<std::vector<float>>(std::move(h.floats));
        values_[node.output(0)] =
            g_.state(node.output(0), h.shape, [data](const Shape&) { return *data; });
      }
      return {};
    }
    unsupported(node, "operator " + op);
  }

  const ::onnx::ModelProto& model_;
  std::string folder_;
  std::int64_t opset_ = 0;
  Graph g_;
  std::map<std::string, Value> values_;
  std::map<std::string, const ::onnx::TensorProto*> initializers_;
  std::map<std::string, Ints> int_constants_;
  std::map<std::string, float> float_constants_;  // scalar Constant outputs
};

}  // namespace

Model load(const std::string& path) {
  auto model = detail::read_message<::onnx::ModelProto>(path);
  if (!model.has_graph()) throw IoError(path, "the model has no graph");
  std::string folder = std::filesystem::path(path).parent_path().string();
  try {
    return Importer(model, folder.empty() ? "." : folder).run();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {  // protobuf's checks, std::stoull on bad external data
    throw IoError(path, std::string("malformed model: ") + e.what());
  }
}

}  // namespace clnn::onnx
