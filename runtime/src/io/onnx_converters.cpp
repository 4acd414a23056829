// The ONNX operators clnn imports: one table row per operator type, naming the attributes it
// reads and how it becomes clnn operators. Every read goes through Node's checked accessors.
#include <algorithm>
#include <limits>
#include <map>
#include <numeric>
#include <optional>

#include "checked_int.hpp"
#include "clnn/ops.hpp"
#include "io/onnx_node.hpp"

namespace clnn::onnx::detail {

namespace {

using clnn::detail::CheckedInt;

constexpr std::int64_t kMaxInt64 = std::numeric_limits<std::int64_t>::max();

// Spatial operators take [N, C, W], [N, C, H, W] or [N, C, D, H, W].
constexpr std::size_t kMinSpatialRank = 3, kMaxSpatialRank = 5;

const std::initializer_list<const char*> kAutoPads{"NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"};

bool same_padding(const std::string& autopad) {
  return autopad == "SAME_UPPER" || autopad == "SAME_LOWER";
}

// ONNX's explicit pads [begin..., end...]: none, or two per spatial dimension.
void explicit_pads(const Node& n, std::size_t dims, Ints& begin, Ints& end) {
  const Ints pads = n.ints("pads", 0, kMaxWindowValue);
  if (pads.empty()) return;
  if (pads.size() != 2 * dims)
    n.invalid("pads has " + std::to_string(pads.size()) + " entries; it takes 2 per spatial " +
              "dimension (" + std::to_string(2 * dims) + ")");
  begin.assign(pads.begin(), pads.begin() + std::ptrdiff_t(dims));
  end.assign(pads.begin() + std::ptrdiff_t(dims), pads.end());
}

// Per spatial dimension pads for convolution and pooling, from pads or auto_pad. x has rank
// dims + 2, and kernel, strides and dilations dims checked entries each.
void window(const Node& n, const Shape& x, const Ints& kernel, const Ints& strides,
            const Ints& dilations, Ints& begin, Ints& end) {
  const std::size_t dims = kernel.size();
  const std::string autopad = n.text("auto_pad", "NOTSET", kAutoPads);
  begin.assign(dims, 0);
  end.assign(dims, 0);
  if (autopad == "NOTSET") {
    explicit_pads(n, dims, begin, end);
  } else if (same_padding(autopad)) {
    for (std::size_t d = 0; d < dims; ++d) {
      const CheckedInt in = x[d + 2], s = strides[d];
      const CheckedInt out = (in + s - 1).value() / s.value();
      const std::int64_t total = std::max<std::int64_t>(
          0, ((out - 1) * s + (CheckedInt(kernel[d]) - 1) * dilations[d] + 1 - in).value());
      begin[d] = autopad == "SAME_UPPER" ? total / 2 : total - total / 2;
      end[d] = total - begin[d];
    }
  }
}

// The kernel's extents from the weights [K, C, k...], which kernel_shape may restate.
Ints weight_kernel(const Node& n, const Value& x, const Value& w) {
  if (w.shape().size() != x.shape().size())
    n.invalid("weights " + to_string(w.shape()) + " must have the rank of the input " +
              to_string(x.shape()));
  Ints kernel(w.shape().begin() + 2, w.shape().end());
  if (n.has("kernel_shape") && n.ints("kernel_shape", 1, kMaxWindowValue) != kernel)
    n.invalid("kernel_shape differs from the weights' " + to_string(w.shape()));
  return kernel;
}

// An option the clnn operator defaults itself: as the model gives it, or empty when absent (so
// an exported model states no more than the imported one did).
Ints as_given(const Node& n, const std::string& name, const Ints& values) {
  return n.ints(name, 0, kMaxWindowValue).empty() ? Ints{} : values;
}

std::optional<Value> optional_input(const Node& n, int i) {
  if (n.has_input(i)) return n.input(i);
  return std::nullopt;
}

Outputs lower_conv(const Node& n) {
  Value x = n.input(0, kMinSpatialRank, kMaxSpatialRank), w = n.input(1);
  const std::size_t dims = x.shape().size() - 2;
  const Ints kernel = weight_kernel(n, x, w);
  const Ints strides = n.per_dimension("strides", dims, 1, 1);
  const Ints dilations = n.per_dimension("dilations", dims, 1, 1);
  ConvOptions o;
  o.strides = as_given(n, "strides", strides);
  o.dilations = as_given(n, "dilations", dilations);
  o.groups = n.integer("group", 1, 1, kMaxWindowValue);
  window(n, x.shape(), kernel, strides, dilations, o.pads_begin, o.pads_end);
  return {conv(x, w, optional_input(n, 2), o)};
}

Outputs lower_conv_transpose(const Node& n) {
  Value x = n.input(0, kMinSpatialRank, kMaxSpatialRank), w = n.input(1);
  const std::size_t dims = x.shape().size() - 2;
  const Ints kernel = weight_kernel(n, x, w);
  ConvTransposeOptions o;
  o.groups = n.integer("group", 1, 1, kMaxWindowValue);
  o.strides = n.per_dimension("strides", dims, 1, 1);
  o.dilations = n.per_dimension("dilations", dims, 1, 1);
  o.output_padding = n.per_dimension("output_padding", dims, 0, 0);
  const std::string autopad = n.text("auto_pad", "NOTSET", kAutoPads);
  Ints output_shape = n.ints("output_shape", 1, kMaxWindowValue);
  if (output_shape.size() == dims + 2)  // [N, C, spatial...] is accepted too
    output_shape.erase(output_shape.begin(), output_shape.begin() + 2);
  if (!output_shape.empty() && output_shape.size() != dims)
    n.invalid("output_shape has " + std::to_string(output_shape.size()) + " entries for " +
              std::to_string(dims) + " spatial dimensions");
  if (same_padding(autopad) && output_shape.empty())
    for (std::size_t d = 0; d < dims; ++d)
      output_shape.push_back((CheckedInt(x.shape()[d + 2]) * o.strides[d]).value());
  if (!output_shape.empty()) {
    // The padding that gives the requested output (ONNX's rule; SAME_UPPER pads the start less).
    for (std::size_t d = 0; d < dims; ++d) {
      const std::int64_t total =
          (CheckedInt(o.strides[d]) * (CheckedInt(x.shape()[d + 2]) - 1) + o.output_padding[d] +
           (CheckedInt(kernel[d]) - 1) * o.dilations[d] + 1 - output_shape[d])
              .value();
      if (total < 0) {  // a larger output than the input covers: extra zeros at the end
        o.output_padding[d] = (CheckedInt(o.output_padding[d]) - total).value();
        o.pads_begin.push_back(0);
        o.pads_end.push_back(0);
        continue;
      }
      const std::int64_t half = total / 2;
      o.pads_begin.push_back(autopad == "SAME_UPPER" ? half : total - half);
      o.pads_end.push_back(autopad == "SAME_UPPER" ? total - half : half);
    }
  } else if (autopad == "NOTSET") {
    explicit_pads(n, dims, o.pads_begin, o.pads_end);
  }
  return {conv_transpose(x, w, optional_input(n, 2), o)};
}

Outputs lower_pool(const Node& n) {
  Value x = n.input(0, kMinSpatialRank, kMaxSpatialRank);
  const std::size_t dims = x.shape().size() - 2;
  const bool max = n.proto().op_type() == "MaxPool";
  if (!n.has("kernel_shape")) n.malformed("attribute 'kernel_shape' is missing");
  if (n.has_output(1)) n.unsupported("the Indices output");
  if (n.integer("storage_order", 0, 0, 1) != 0) n.unsupported("storage_order 1");
  PoolOptions o;
  o.kernel = n.per_dimension("kernel_shape", dims, 1, 1);
  o.strides = n.per_dimension("strides", dims, 1, 1);  // ONNX's default, not the kernel
  const Ints dilations = n.per_dimension("dilations", dims, 1, 1);
  o.dilations = as_given(n, "dilations", dilations);
  o.ceil_mode = n.flag("ceil_mode", false);
  o.count_include_pad = n.flag("count_include_pad", false);
  window(n, x.shape(), o.kernel, o.strides, dilations, o.pads_begin, o.pads_end);
  return {max ? max_pool(x, o) : avg_pool(x, o)};
}

Outputs lower_global_max_pool(const Node& n) {
  Value x = n.input(0, kMinSpatialRank, kMaxSpatialRank);
  PoolOptions o;
  o.kernel.assign(x.shape().begin() + 2, x.shape().end());
  return {max_pool(x, o)};
}

// Softmax and LogSoftmax: along one axis from opset 13, before that over x flattened to 2-D at
// the axis.
Outputs lower_softmax(const Node& n) {
  const bool log_mode = n.proto().op_type() == "LogSoftmax";
  Value x = n.input(0);
  const std::size_t rank = x.shape().size();
  if (n.opset() >= 13) {
    const int axis = n.axis("axis", -1, rank);
    return {log_mode ? log_softmax(x, axis) : softmax(x, axis)};
  }
  int axis = n.axis("axis", 1, rank);
  if (axis < 0) axis += int(rank);
  Value flat = flatten(x, axis);
  Value y = log_mode ? log_softmax(flat, 1) : softmax(flat, 1);
  return {reshape(y, x.shape())};
}

Outputs lower_clip(const Node& n) {
  float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
  if (n.opset() < 11) {
    lo = n.bound("min", lo);
    hi = n.bound("max", hi);
  } else {
    if (n.has_input(1)) lo = n.constant_float(1);
    if (n.has_input(2)) hi = n.constant_float(2);
  }
  return {clip(n.input(0), lo, hi)};
}

Outputs lower_prelu(const Node& n) {
  Value x = n.input(0), slope = n.input(1);
  // Before opset 7 a slope of C values applied per channel (axis 1).
  if (n.opset() < 7 && slope.shape().size() == 1 && x.shape().size() > 2 &&
      slope.shape()[0] == x.shape()[1]) {
    Shape per_channel{slope.shape()[0]};
    per_channel.resize(x.shape().size() - 1, 1);
    slope = reshape(slope, per_channel);
  }
  return {prelu(x, slope)};
}

Outputs lower_matmul(const Node& n) {
  Value x = n.input(0), y = n.input(1);
  const Shape &sx = x.shape(), &sy = y.shape();
  if (sx.size() < 2 || sy.size() < 2)
    n.unsupported("MatMul of " + to_string(sx) + " and " + to_string(sy));
  if (sx.size() <= 3 && sy.size() <= 3) return {matmul(x, y)};
  // More batch dimensions: equal ones fold into one.
  if (sx.size() != sy.size() || !std::equal(sx.begin(), sx.end() - 2, sy.begin()))
    n.unsupported("MatMul broadcasting batch dimensions of " + to_string(sx) + " and " +
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

Outputs lower_gemm(const Node& n) {
  Value y = matmul(n.input(0), n.input(1), n.flag("transA", false), n.flag("transB", false));
  if (float alpha = n.real("alpha", 1.0f); alpha != 1.0f) y = scale(y, alpha);
  if (n.has_input(2)) {
    Value c = n.input(2);
    if (float beta = n.real("beta", 1.0f); beta != 1.0f) c = scale(c, beta);
    y = add(y, c);  // C broadcasts to [M, N]
  }
  return {y};
}

Outputs lower_batch_norm(const Node& n) {
  if (n.proto().output_size() > 1) n.unsupported("training-mode outputs");
  if (n.integer("spatial", 1, 0, 1) != 1) n.unsupported("spatial 0 (per-element statistics)");
  return {batch_norm(n.input(0), n.input(1), n.input(2), n.input(3, true), n.input(4, true), 0.1f,
                     n.real("epsilon", 1e-5f))};
}

Outputs lower_flatten(const Node& n) {
  Value x = n.input(0);
  return {flatten(x, n.axis("axis", 1, x.shape().size(), true))};
}

Outputs lower_reshape(const Node& n) {
  Value x = n.input(0);
  Ints target = n.opset() >= 5 ? n.constant_ints(1) : n.ints("shape", -1, kMaxInt64);
  const bool allow_zero = n.flag("allowzero", false);
  for (std::size_t d = 0; d < target.size(); ++d)
    if (target[d] == 0 && !allow_zero) {
      if (d >= x.shape().size())
        n.invalid("a 0 in the target shape " + to_string(target) + " past the input's rank");
      target[d] = x.shape()[d];
    }
  return {reshape(x, target)};
}

Outputs lower_transpose(const Node& n) {
  Value x = n.input(0);
  const std::size_t rank = x.shape().size();
  std::vector<int> p(rank);
  if (!n.has("perm")) {
    std::iota(p.rbegin(), p.rend(), 0);
  } else {
    const Ints perm = n.ints("perm", 0, std::int64_t(rank) - 1);
    if (perm.size() != rank)
      n.invalid("perm " + to_string(perm) + " does not have one entry per axis of " +
                to_string(x.shape()));
    std::transform(perm.begin(), perm.end(), p.begin(), [](std::int64_t v) { return int(v); });
  }
  return {transpose(x, p)};
}

Outputs lower_concat(const Node& n) {
  if (n.input_count() == 0) n.malformed("no inputs");
  std::vector<Value> parts;
  for (int i = 0; i < n.input_count(); ++i) parts.push_back(n.input(i));
  if (!n.has("axis") && n.opset() >= 4) n.malformed("attribute 'axis' is missing");
  // Before opset 4 the axis defaulted to 1.
  return {concat(parts, n.axis("axis", 1, parts.front().shape().size()))};
}

Outputs lower_dropout(const Node& n) {
  if (n.has_output(1)) n.unsupported("the mask output");
  Value x = n.input(0);
  return {reshape(x, x.shape())};  // inference: the identity
}

Outputs lower_constant(const Node& n) {
  n.define_constant(0, n.tensor("value"));
  return {};
}

// The table's rows for operators that map one to one onto a clnn function.
template <Value (*f)(const Value&)>
Outputs unary(const Node& n) {
  return {f(n.input(0))};
}

template <Value (*f)(const Value&, const Value&)>
Outputs binary(const Node& n) {
  return {f(n.input(0), n.input(1))};
}

Value identity(const Value& x) {
  return reshape(x, x.shape());
}

const std::map<std::string, Converter> kConverters{
    {"Relu", {{}, unary<relu>}},
    {"Sigmoid", {{}, unary<sigmoid>}},
    {"Tanh", {{}, unary<clnn::tanh>}},
    {"Sqrt", {{}, unary<clnn::sqrt>}},
    {"Exp", {{}, unary<clnn::exp>}},
    {"Identity", {{}, unary<identity>}},
    {"LeakyRelu",
     {{"alpha"}, [](const Node& n) -> Outputs {
        return {leaky_relu(n.input(0), n.real("alpha", 0.01f))};
      }}},
    {"Elu",
     {{"alpha"},
      [](const Node& n) -> Outputs { return {elu(n.input(0), n.real("alpha", 1.0f))}; }}},
    {"Selu",
     {{"alpha", "gamma"}, [](const Node& n) -> Outputs {
        return {selu(n.input(0), n.real("alpha", 1.67326319217681884765625f),
                     n.real("gamma", 1.05070102214813232421875f))};
      }}},
    {"HardSigmoid",
     {{"alpha", "beta"}, [](const Node& n) -> Outputs {
        return {hard_sigmoid(n.input(0), n.real("alpha", 0.2f), n.real("beta", 0.5f))};
      }}},
    {"Clip", {{"min", "max"}, lower_clip}},
    {"Softmax", {{"axis"}, lower_softmax}},
    {"LogSoftmax", {{"axis"}, lower_softmax}},
    {"Add", {{}, binary<add>}},
    {"Sub", {{}, binary<sub>}},
    {"Mul", {{}, binary<mul>}},
    {"Div", {{}, binary<div>}},
    {"Pow", {{}, binary<clnn::pow>}},
    {"PRelu", {{}, lower_prelu}},
    {"MatMul", {{}, lower_matmul}},
    {"Gemm", {{"alpha", "beta", "transA", "transB"}, lower_gemm}},
    {"Conv", {{"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"}, lower_conv}},
    {"ConvTranspose",
     {{"auto_pad", "dilations", "group", "kernel_shape", "output_padding", "output_shape", "pads",
       "strides"},
      lower_conv_transpose}},
    {"MaxPool",
     {{"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"},
      lower_pool}},
    {"AveragePool",
     {{"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"},
      lower_pool}},
    {"GlobalAveragePool", {{}, unary<global_avg_pool>}},
    {"GlobalMaxPool", {{}, lower_global_max_pool}},
    {"BatchNormalization", {{"epsilon", "momentum", "spatial"}, lower_batch_norm}},
    {"Flatten", {{"axis"}, lower_flatten}},
    {"Reshape", {{"allowzero", "shape"}, lower_reshape}},
    {"Transpose", {{"perm"}, lower_transpose}},
    {"Concat", {{"axis"}, lower_concat}},
    {"Dropout", {{"ratio", "seed", "is_test"}, lower_dropout}},
    {"Constant", {{"value"}, lower_constant}},
};

}  // namespace

const Converter* find_converter(const std::string& op_type) {
  auto it = kConverters.find(op_type);
  return it == kConverters.end() ? nullptr : &it->second;
}

}  // namespace clnn::onnx::detail
