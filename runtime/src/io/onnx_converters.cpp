// The ONNX operators clnn imports: one table row per operator type, naming the attributes it
// reads and how it becomes clnn operators. Every read goes through Node's checked accessors.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <optional>

#include "checked_int.hpp"
#include "clnn/ops.hpp"
#include "io/onnx_fold.hpp"
#include "io/onnx_lowerings.hpp"
#include "io/onnx_node.hpp"
#include "io/onnx_patterns.hpp"
#include "ops/norm_composite.hpp"
#include "ops/shape_util.hpp"
#include "ops/window.hpp"

namespace clnn::onnx::detail {

namespace {

using clnn::detail::CheckedInt;
using clnn::detail::Element;
using clnn::detail::element_of;

constexpr std::int64_t kMaxInt64 = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMinInt64 = std::numeric_limits<std::int64_t>::min();

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

// Input i as device data: a value, or integers or booleans known at load as floats.
Value as_floats(const Node& n, int i) {
  const HostTensor* known = n.known(i);
  if (!known || known->is_float()) return n.input(i);
  HostTensor t;
  t.type = clnn::detail::Element::float32;
  t.shape = known->shape;
  for (std::int64_t v : known->ints) t.floats.push_back(float(v));
  return n.constant_value("input" + std::to_string(i), t);
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
  PoolOptions o;
  o.kernel = n.per_dimension("kernel_shape", dims, 1, 1);
  o.strides = n.per_dimension("strides", dims, 1, 1);  // ONNX's default, not the kernel
  const Ints dilations = n.per_dimension("dilations", dims, 1, 1);
  o.dilations = as_given(n, "dilations", dilations);
  o.ceil_mode = n.flag("ceil_mode", false);
  o.count_include_pad = n.flag("count_include_pad", false);
  if (!max &&
      std::any_of(dilations.begin(), dilations.end(), [](std::int64_t d) { return d != 1; }))
    n.unsupported("AveragePool with dilations");  // opset 19
  window(n, x.shape(), o.kernel, o.strides, dilations, o.pads_begin, o.pads_end);
  if (!max) return {avg_pool(x, o)};
  const bool column_major = n.flag("storage_order", false);  // for Indices only
  if (n.has_output(1)) return {max_pool(x, o), max_pool_indices(x, o, column_major)};
  return {max_pool(x, o)};
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
    // Bounds computed at run time clamp through maximum and minimum.
    const bool known_lo = !n.has_input(1) || n.known(1), known_hi = !n.has_input(2) || n.known(2);
    if (!known_lo || !known_hi) {
      Value y = n.input(0);
      if (n.has_input(1)) y = known_lo ? clip(y, n.constant_float(1), hi) : maximum(y, n.input(1));
      if (n.has_input(2))
        y = known_hi ? clip(y, -std::numeric_limits<float>::infinity(), n.constant_float(2))
                     : minimum(y, n.input(2));
      return {y};
    }
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

// numpy's matmul: 1-D operands gain (and lose) a dimension, batch dimensions broadcast. A 2-D
// right operand folds the left's batch into rows (one product); otherwise both are expanded to
// the common batch and folded into one batch dimension.
// MatMul as clnn's 2-D or batched products, plus `bias` [N] on every row where given (the caller
// makes sure the right operand is 2-D: one product).
Value lowered_matmul(const Node& n, const std::optional<Value>& bias) {
  Value x = n.input(0), y = n.input(1);
  const bool x_vector = x.shape().size() == 1, y_vector = y.shape().size() == 1;
  if (x_vector) x = reshape(x, {1, x.shape()[0]});
  if (y_vector) y = reshape(y, {y.shape()[0], 1});
  const Shape sx = x.shape(), sy = y.shape();
  if (sx.empty() || sy.empty()) n.invalid("MatMul of scalars");
  const std::int64_t m = sx[sx.size() - 2], k = sx.back(), n_cols = sy.back();
  if (sy[sy.size() - 2] != k)
    n.invalid("inner extents of " + to_string(sx) + " and " + to_string(sy) + " differ");
  const Shape bx(sx.begin(), sx.end() - 2), by(sy.begin(), sy.end() - 2);
  const std::optional<Shape> broadcast = clnn::detail::broadcast_shapes(bx, by);
  if (!broadcast)
    n.invalid("batch dimensions of " + to_string(sx) + " and " + to_string(sy) +
              " do not broadcast");
  const Shape& batch = *broadcast;
  const std::int64_t count =
      std::accumulate(batch.begin(), batch.end(), std::int64_t{1}, std::multiplies<>());
  Value z;
  if (by.empty() || count == 1) {
    const Value x2 = reshape(x, {(CheckedInt(count) * m).value(), k}), y2 = reshape(y, {k, n_cols});
    z = bias ? matmul(x2, y2, *bias) : matmul(x2, y2);
  } else {
    auto folded = [&](const Value& v, std::int64_t rows, std::int64_t cols) {
      Shape full = batch;
      full.push_back(rows);
      full.push_back(cols);
      return reshape(v.shape() == full ? v : expand(v, full), {count, rows, cols});
    };
    // A 2-D left operand is shared by every batch of the right one.
    z = matmul(bx.empty() ? reshape(x, {m, k}) : folded(x, m, k), folded(y, k, n_cols));
  }
  Shape out = batch;
  if (!x_vector) out.push_back(m);
  if (!y_vector) out.push_back(n_cols);
  return reshape(z, out);
}

Outputs lower_matmul(const Node& n) {
  if (std::optional<Value> attention = fused_attention(n)) return {*attention};
  return {lowered_matmul(n, std::nullopt)};
}

// Add(MatMul(x, W), b) with W a [K, N] matrix, b of shape [N] and the product read by nothing
// else: a Linear layer, one matmul with a bias, which the product's kernel adds. The MatMul's
// own lowering then goes unused. vit_b_16's bias adds had taken 6% of a batch-32 step on the
// H100.
std::optional<Value> fused_linear(const Node& n) {
  if (n.input_count() != 2 || n.opset() < 7) return std::nullopt;
  ValueSource& source = n.source();
  for (int i = 0; i < 2; ++i) {
    const std::string& product = n.proto().input(i);
    const ::onnx::NodeProto* mm = produced_by(source, product, "MatMul");
    if (!mm || mm->input_size() != 2 || source.readers(product) != 1) continue;
    const std::optional<Shape> w = source.shape_of(mm->input(1));
    const std::optional<Shape> bias = source.shape_of(n.proto().input(1 - i));
    if (!w || w->size() != 2 || bias != Shape{w->back()}) continue;
    return lowered_matmul(Node(source, *mm), n.input(1 - i));
  }
  return std::nullopt;
}

// Add, Sub, Mul and Div. Before opset 7, broadcasting was asked for (broadcast 1) and b aligned
// at `axis` of a (default: its trailing dimensions, numpy's rule).
Outputs lower_arithmetic(const Node& n) {
  if (n.proto().op_type() == "Mul")
    if (std::optional<Value> gelu = fused_gelu(n)) return {*gelu};
  if (n.proto().op_type() == "Add")
    if (std::optional<Value> linear = fused_linear(n)) return {*linear};
  Value a = as_floats(n, 0), b = as_floats(n, 1);
  if (n.opset() < 7 && n.flag("broadcast", false) && n.has("axis")) {
    const std::size_t rank = a.shape().size();
    int axis = n.axis("axis", 0, rank);
    const auto at = std::size_t(axis < 0 ? axis + int(rank) : axis);
    if (at + b.shape().size() > rank)
      n.invalid(to_string(b.shape()) + " does not fit " + to_string(a.shape()) + " at axis " +
                std::to_string(axis));
    Shape aligned = b.shape();
    aligned.resize(rank - at, 1);
    b = reshape(b, aligned);
  }
  const std::string& op = n.proto().op_type();
  return {op == "Add" ? add(a, b) : op == "Sub" ? sub(a, b) : op == "Mul" ? mul(a, b) : div(a, b)};
}

Outputs lower_gemm(const Node& n) {
  const bool ta = n.flag("transA", false), tb = n.flag("transB", false);
  const float alpha = n.real("alpha", 1.0f);
  Value a = n.input(0), b = n.input(1);
  // C of one row, unscaled: the product's kernel adds it (matmul with a bias).
  if (n.has_input(2) && alpha == 1.0f && n.real("beta", 1.0f) == 1.0f && b.shape().size() == 2) {
    const std::int64_t columns = b.shape()[tb ? 0 : 1];
    const Value c = n.input(2);
    if (c.shape() == Shape{columns} || c.shape() == Shape{1, columns})
      return {matmul(a, b, reshape(c, {columns}), ta, tb)};
  }
  Value y = matmul(a, b, ta, tb);
  if (alpha != 1.0f) y = scale(y, alpha);
  if (n.has_input(2)) {
    Value c = n.input(2);
    if (float beta = n.real("beta", 1.0f); beta != 1.0f) c = scale(c, beta);
    y = add(y, c);  // C broadcasts to [M, N]
  }
  return {y};
}

Outputs lower_batch_norm(const Node& n) {
  if (n.proto().output_size() > 1) n.unsupported("training-mode outputs");
  if (n.flag("training_mode", false)) n.unsupported("training_mode 1");
  if (!n.flag("is_test", true)) n.unsupported("is_test 0 (training)");  // before opset 7
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
  for (int i = 0; i < n.input_count(); ++i) parts.push_back(as_floats(n, i));
  if (!n.has("axis") && n.opset() >= 4) n.malformed("attribute 'axis' is missing");
  // Before opset 4 the axis defaulted to 1.
  return {concat(parts, n.axis("axis", 1, parts.front().shape().size()))};
}

Outputs lower_dropout(const Node& n) {
  // From opset 12 a training_mode input may ask for the random mask at inference.
  if (n.has_input(2)) {
    const HostTensor* training = n.known(2);
    if (!training || training->is_float() || training->ints.size() != 1)
      n.unsupported("a training_mode input that is not a boolean known at load");
    if (training->ints[0]) n.unsupported("training_mode 1 (a random mask at inference)");
  }
  Value x = n.input(0);
  if (!n.has_output(1)) return {reshape(x, x.shape())};  // inference: the identity
  // The mask keeps every element: ones, broadcast from one constant.
  HostTensor one;
  one.type = clnn::detail::Element::float32;
  one.shape = Shape(x.shape().size(), 1);
  one.floats = {1.0f};
  return {reshape(x, x.shape()), expand(n.constant_value("mask", one), x.shape())};
}

Outputs lower_constant(const Node& n) {
  HostTensor t;
  if (n.has("value_int")) {
    t.ints = {n.integer("value_int", 0, kMinInt64, kMaxInt64)};
  } else if (n.has("value_ints")) {
    t.ints = n.ints("value_ints", kMinInt64, kMaxInt64);
    t.shape = {std::int64_t(t.ints.size())};
  } else if (n.has("value_float")) {
    t.type = clnn::detail::Element::float32;
    t.floats = {n.real("value_float", 0.0f)};
  } else {
    t = n.tensor("value");
  }
  n.define_constant(0, std::move(t));
  return {};
}

Value identity(const Value& x) {
  return reshape(x, x.shape());
}

// Cast of a value computed at run time: to float, which it already is; to integers, truncated
// toward zero (integers stay as they are); to booleans, 1 where it is not 0.
Outputs lower_cast(const Node& n) {
  const std::int64_t to = n.integer("to", 0, 0, std::numeric_limits<std::int32_t>::max());
  Value x = n.input(0);
  const std::optional<Element> type = element_of(to);
  if (!type)
    n.unsupported("Cast of a value computed at run time to element type " + std::to_string(to));
  switch (*type) {
    case Element::float32:
      return {identity(x)};
    case Element::int64:
    case Element::int32:
      return {mul(sign(x), clnn::floor(clnn::abs(x)))};
    case Element::boolean:
      return {clnn::abs(sign(x))};
  }
  return {};
}

// CastLike of a value computed at run time: to float, which it already is (a target on the
// device is float data).
Outputs lower_cast_like(const Node& n) {
  const HostTensor* target = n.known(1);
  if (target && !target->is_float())
    n.unsupported("CastLike of a value computed at run time to integers or booleans");
  return {identity(n.input(0))};
}

Outputs lower_squeeze(const Node& n) {
  Value x = n.input(0);
  return {reshape(x, squeezed_shape(n, x.shape()))};
}

Outputs lower_slice(const Node& n) {
  Value x = n.input(0);
  const auto axes = slice_axes(n, x.shape());
  for (const SliceAxis& a : axes)
    if (a.count == 0) n.unsupported("an empty result (clnn has no empty tensors)");
  return {clnn::detail::sliced(x, axes)};
}

// Gather along `axis` by indices computed at run time: x with the axis moved first, as a table
// of rows, read by embedding; the indices' dimensions then move to where the axis was.
Value gather_rows(const Value& x, std::size_t axis, const Value& indices) {
  const Shape& s = x.shape();
  const std::size_t rank = s.size(), q = indices.shape().size();
  std::vector<int> first{int(axis)};
  for (std::size_t d = 0; d < rank; ++d)
    if (d != axis) first.push_back(int(d));
  const Value moved = axis == 0 ? x : transpose(x, first);
  const std::int64_t rows = s[axis], row = element_count(s) / rows;
  const Value picked =
      embedding(reshape(moved, {rows, row}), reshape(indices, {element_count(indices.shape())}));
  Shape out = indices.shape();
  for (std::size_t d = 1; d < rank; ++d) out.push_back(moved.shape()[d]);
  const Value y = reshape(picked, out);
  if (axis == 0) return y;
  // [indices..., s[:axis]..., s[axis+1:]...] -> [s[:axis]..., indices..., s[axis+1:]...]
  std::vector<int> perm;
  for (std::size_t d = 0; d < axis; ++d) perm.push_back(int(q + d));
  for (std::size_t d = 0; d < q; ++d) perm.push_back(int(d));
  for (std::size_t d = q + axis; d < q + rank - 1; ++d) perm.push_back(int(d));
  return transpose(y, perm);
}

// Gather with indices known at load: runs of evenly spaced indices become slices, joined.
Outputs lower_gather(const Node& n) {
  Value x = n.input(0, 1, 8);
  const HostTensor* indices = n.known(1);
  const std::size_t rank = x.shape().size();
  const int given = n.axis("axis", 0, rank);
  const auto axis = std::size_t(given < 0 ? given + int(rank) : given);
  if (!indices) return {gather_rows(x, axis, n.input(1))};
  if (indices->is_float()) n.invalid("float indices");
  const Ints index = gather_indices(n, indices->ints, x.shape()[axis]);
  if (index.empty()) n.unsupported("an empty Gather");
  // A gather kernel is the target; slices serve the few runs shape and head selection make.
  constexpr std::size_t kMaxRuns = 64;
  std::vector<Value> parts;
  for (std::size_t i = 0; i < index.size();) {
    std::size_t j = i + 1;
    const std::int64_t step = j < index.size() ? index[j] - index[i] : 1;
    if (step != 0)
      while (j < index.size() && index[j] - index[j - 1] == step) ++j;
    if (parts.size() == kMaxRuns)
      n.unsupported("a Gather of more than " + std::to_string(kMaxRuns) + " runs of indices");
    std::vector<SliceAxis> ranges;
    for (std::int64_t e : x.shape()) ranges.push_back({0, 1, e});
    ranges[axis] = {index[i], step, std::int64_t(j - i)};
    parts.push_back(clnn::detail::sliced(x, ranges));
    i = j;
  }
  Value joined = parts.size() == 1 ? parts[0] : concat(parts, int(axis));
  Shape out(x.shape().begin(), x.shape().begin() + std::ptrdiff_t(axis));
  out.insert(out.end(), indices->shape.begin(), indices->shape.end());
  out.insert(out.end(), x.shape().begin() + std::ptrdiff_t(axis) + 1, x.shape().end());
  return {reshape(joined, out)};
}

Outputs lower_split(const Node& n) {
  Value x = n.input(0, 1, 8);
  const std::size_t rank = x.shape().size();
  const int given = n.axis("axis", 0, rank);
  const std::int64_t extent = x.shape()[std::size_t(given < 0 ? given + int(rank) : given)];
  Ints sizes = n.opset() >= 13 ? (n.has_input(1) ? n.constant_ints(1) : Ints{})
                               : n.ints("split", 1, kMaxInt64);
  const auto outputs = std::int64_t(n.proto().output_size());
  if (n.has("num_outputs")) {  // opset 18: parts of ceil(extent / count), the last one smaller
    if (!sizes.empty()) n.invalid("both split and num_outputs are given");
    const std::int64_t count = n.integer("num_outputs", 1, 1, kMaxInt64);
    if (count != outputs)
      n.invalid("num_outputs " + std::to_string(count) + " for " + std::to_string(outputs) +
                " outputs");
    const std::int64_t part = (extent + count - 1) / count;
    if (part * (count - 1) >= extent) n.unsupported("an empty part (clnn has no empty tensors)");
    sizes.assign(std::size_t(count - 1), part);
    sizes.push_back(extent - part * (count - 1));
  }
  if (sizes.empty()) {
    if (extent % outputs != 0)
      n.invalid("an extent of " + std::to_string(extent) + " does not split into " +
                std::to_string(outputs) + " equal parts");
    sizes.assign(std::size_t(outputs), extent / outputs);
  }
  if (std::int64_t(sizes.size()) != outputs)
    n.invalid(std::to_string(sizes.size()) + " sizes for " + std::to_string(outputs) + " outputs");
  if (std::count(sizes.begin(), sizes.end(), 0))
    n.unsupported("an empty part (clnn has no empty tensors)");
  return split(x, given, sizes);
}

Outputs lower_pad(const Node& n) {
  Value x = n.input(0, 1, 8);
  const std::size_t rank = x.shape().size();
  const std::string mode = n.text("mode", "constant", {"constant", "reflect", "edge"});
  Ints pads;
  float value = 0.0f;
  if (n.opset() < 11) {
    pads = n.ints("pads", -kMaxWindowValue, kMaxWindowValue);
    value = n.real("value", 0.0f);
  } else {
    pads = n.constant_ints(1);
    if (n.has_input(2)) value = n.constant_float(2);
    if (n.has_input(3)) {  // opset 18: the axes the pads name, the others unpadded
      const std::vector<std::size_t> axes = node_axes(n, "axes", 3, 18, rank);
      if (pads.size() != 2 * axes.size())
        n.invalid("pads has " + std::to_string(pads.size()) + " entries for " +
                  std::to_string(axes.size()) + " axes");
      Ints full(2 * rank, 0);
      for (std::size_t i = 0; i < axes.size(); ++i) {
        full[axes[i]] = pads[i];
        full[rank + axes[i]] = pads[axes.size() + i];
      }
      pads = full;
    }
  }
  if (pads.size() != 2 * rank)
    n.invalid("pads has " + std::to_string(pads.size()) + " entries for rank " +
              std::to_string(rank));
  for (std::int64_t p : pads)
    if (p < -kMaxWindowValue || p > kMaxWindowValue) n.invalid("a pad of " + std::to_string(p));
  const Ints begin(pads.begin(), pads.begin() + std::ptrdiff_t(rank)),
      end(pads.begin() + std::ptrdiff_t(rank), pads.end());
  const PadMode m = mode == "constant"  ? PadMode::constant
                    : mode == "reflect" ? PadMode::reflect
                                        : PadMode::edge;
  return {pad(x, begin, end, m, value)};
}

// DepthToSpace and SpaceToDepth: a reshape, a transpose and a reshape.
Outputs lower_depth_space(const Node& n) {
  Value x = n.input(0, 4, 4);
  const std::int64_t b = n.integer("blocksize", 0, 1, kMaxWindowValue);
  if (!n.has("blocksize")) n.malformed("attribute 'blocksize' is missing");
  const Shape& s = x.shape();
  const std::int64_t N = s[0], C = s[1], H = s[2], W = s[3];
  if (n.proto().op_type() == "SpaceToDepth") {
    if (H % b || W % b)
      n.invalid("spatial extents of " + to_string(s) + " not divisible by the block");
    Value t = transpose(reshape(x, {N, C, H / b, b, W / b, b}), {0, 3, 5, 1, 2, 4});
    return {reshape(t, {N, C * b * b, H / b, W / b})};
  }
  if (C % (b * b)) n.invalid(to_string(s) + " has channels not divisible by blocksize^2");
  const bool crd = n.text("mode", "DCR", {"DCR", "CRD"}) == "CRD";
  const std::int64_t c = C / (b * b);
  Value t = crd ? transpose(reshape(x, {N, c, b, b, H, W}), {0, 1, 4, 2, 5, 3})
                : transpose(reshape(x, {N, b, b, c, H, W}), {0, 3, 4, 1, 5, 2});
  return {reshape(t, {N, c, H * b, W * b})};
}

// node_axes' opset for an axes input Resize never has (its axes are always an attribute).
constexpr std::int64_t kNoAxesInput = std::numeric_limits<std::int64_t>::max();

// Resize (and its opset-10 form): the output shape from sizes or scales known at load; nearest
// and linear with the coordinate modes resize() has.
Outputs lower_resize(const Node& n) {
  Value x = n.input(0, 1, 8);
  const Shape& in = x.shape();
  const std::size_t rank = in.size();
  ResizeOptions o;
  const std::string mode = n.text("mode", "nearest", {"nearest", "linear", "cubic"});
  if (mode == "cubic") n.unsupported("mode cubic");
  o.mode = mode == "linear" ? ResizeMode::linear : ResizeMode::nearest;
  int scales_at = 1, sizes_at = -1;
  if (n.opset() < 11) {  // Resize-10: asymmetric coordinates, nearest rounds down
    o.coordinates = ResizeCoordinates::asymmetric;
    o.rounding = ResizeRounding::floor;
  } else {
    scales_at = 2, sizes_at = 3;
    const std::string c =
        n.text("coordinate_transformation_mode", "half_pixel",
               {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
                "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize"});
    if (c == "half_pixel_symmetric" || c == "tf_half_pixel_for_nn" || c == "tf_crop_and_resize")
      n.unsupported("coordinate_transformation_mode " + c);
    o.coordinates = c == "pytorch_half_pixel" ? ResizeCoordinates::pytorch_half_pixel
                    : c == "align_corners"    ? ResizeCoordinates::align_corners
                    : c == "asymmetric"       ? ResizeCoordinates::asymmetric
                                              : ResizeCoordinates::half_pixel;
    const std::string r = n.text("nearest_mode", "round_prefer_floor",
                                 {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"});
    o.rounding = r == "round_prefer_ceil" ? ResizeRounding::round_prefer_ceil
                 : r == "floor"           ? ResizeRounding::floor
                 : r == "ceil"            ? ResizeRounding::ceil
                                          : ResizeRounding::round_prefer_floor;
    if (n.integer("exclude_outside", 0, 0, 1) != 0) n.unsupported("exclude_outside 1");
    if (n.integer("antialias", 0, 0, 1) != 0) n.unsupported("antialias 1");
    if (n.text("keep_aspect_ratio_policy", "stretch", {"stretch", "not_larger", "not_smaller"}) !=
        "stretch")
      n.unsupported("keep_aspect_ratio_policy other than stretch");
  }
  // The axes the scales or sizes name (an attribute from opset 18), else every axis.
  std::vector<std::size_t> axes = node_axes(n, "axes", -1, kNoAxesInput, rank);
  if (axes.empty())
    for (std::size_t d = 0; d < rank; ++d) axes.push_back(d);
  // An input that is absent or empty ([0]: opset 11 and 12 need a placeholder for scales).
  auto given = [&](int i) {
    if (i < 0 || !n.has_input(i) || !n.known_shape(i)) return false;
    const Shape shape = *n.known_shape(i);
    return std::none_of(shape.begin(), shape.end(), [](std::int64_t e) { return e == 0; });
  };
  Shape out = in;
  if (given(sizes_at)) {
    if (given(scales_at)) n.invalid("both scales and sizes are given");
    const Ints sizes = n.constant_ints(sizes_at);
    if (sizes.size() != axes.size()) n.invalid("sizes must have one entry per axis");
    for (std::size_t i = 0; i < axes.size(); ++i) {
      if (sizes[i] <= 0 || sizes[i] > kMaxWindowValue) n.invalid("a size out of range");
      out[axes[i]] = sizes[i];
    }
  } else if (given(scales_at)) {
    const HostTensor* scales = n.known(scales_at);
    if (!scales || !scales->is_float()) n.unsupported("scales not known at load");
    if (scales->floats.size() != axes.size()) n.invalid("scales must have one entry per axis");
    o.scales.assign(rank, 1.0f);
    for (std::size_t i = 0; i < axes.size(); ++i) {
      const float s = scales->floats[i];
      const double extent = std::floor(double(in[axes[i]]) * double(s));
      if (!(s > 0.0f) || !(extent >= 1.0) || extent > double(kMaxWindowValue))
        n.invalid("a scale out of range");
      o.scales[axes[i]] = s;
      out[axes[i]] = std::int64_t(extent);
    }
  } else {
    n.invalid("neither scales nor sizes is given");
  }
  return {resize(x, out, o)};
}

Outputs lower_reduce(const Node& n) {
  Value x = n.input(0);
  const std::string& op = n.proto().op_type();
  // ReduceSum takes its axes as an input from opset 13; the others from opset 18.
  const auto found = node_axes(n, "axes", 1, op == "ReduceSum" ? 13 : 18, x.shape().size());
  const bool keep = n.flag("keepdims", true);
  if (found.empty() && n.flag("noop_with_empty_axes", false)) return {identity(x)};
  const std::vector<int> axes(found.begin(), found.end());  // empty: every axis
  if (op == "ReduceMean") return {mean(x, axes, keep)};
  if (op == "ReduceSum") return {sum(x, axes, keep)};
  if (op == "ReduceMax") return {reduce_max(x, axes, keep)};
  if (op == "ReduceMin") return {reduce_min(x, axes, keep)};
  if (op == "ReduceProd") return {reduce_prod(x, axes, keep)};
  if (op == "ReduceL1") return {sum(clnn::abs(x), axes, keep)};
  if (op == "ReduceLogSum") return {clnn::log(sum(x, axes, keep))};
  if (op == "ReduceLogSumExp") {  // max + log(sum(exp(x - max))): no overflow
    const Value top = reduce_max(x, axes, true);
    const Value y = add(clnn::log(sum(clnn::exp(sub(x, top)), axes, true)), top);
    if (keep) return {y};
    Shape dropped;
    for (std::size_t d = 0; d < x.shape().size(); ++d)
      if (!axes.empty() && std::find(axes.begin(), axes.end(), int(d)) == axes.end())
        dropped.push_back(x.shape()[d]);
    return {reshape(y, dropped)};
  }
  const Value squares = sum(mul(x, x), axes, keep);
  return {op == "ReduceL2" ? clnn::sqrt(squares) : squares};  // ReduceSumSquare
}

// Sum, Mean, Max and Min of any number of operands, broadcast.
Outputs lower_variadic(const Node& n) {
  if (n.input_count() == 0) n.malformed("no inputs");
  const std::string& op = n.proto().op_type();
  Value acc = as_floats(n, 0);
  for (int i = 1; i < n.input_count(); ++i) {
    Value v = as_floats(n, i);
    acc = op == "Max" ? maximum(acc, v) : op == "Min" ? minimum(acc, v) : add(acc, v);
  }
  if (op == "Mean" && n.input_count() > 1) acc = scale(acc, 1.0f / float(n.input_count()));
  return {n.input_count() == 1 ? identity(acc) : acc};
}

// Comparisons and logic of values computed at run time: 1 for true, 0 for false.
Outputs lower_logic(const Node& n) {
  const std::string& op = n.proto().op_type();
  Value a = as_floats(n, 0);
  if (op == "Not") return {add(scale(a, -1.0f), 1.0f)};
  Value b = as_floats(n, 1);
  if (op == "Equal") return {equal(a, b)};
  if (op == "Less") return {less(a, b)};
  if (op == "LessOrEqual") return {less_equal(a, b)};
  if (op == "Greater") return {greater(a, b)};
  if (op == "GreaterOrEqual") return {greater_equal(a, b)};
  if (op == "And") return {mul(a, b)};
  if (op == "Or") return {maximum(a, b)};
  return {clnn::abs(sub(a, b))};  // Xor of 0s and 1s
}

Outputs lower_where(const Node& n) {
  return {where(as_floats(n, 0), as_floats(n, 1), as_floats(n, 2))};
}

Outputs lower_arg(const Node& n) {
  Value x = n.input(0, 1, 8);
  const int axis = n.axis("axis", 0, x.shape().size());
  const bool keep = n.flag("keepdims", true), last = n.flag("select_last_index", false);
  return {n.proto().op_type() == "ArgMax" ? argmax(x, axis, keep, last)
                                          : argmin(x, axis, keep, last)};
}

// 1 at the first largest element along the axis, 0 elsewhere. Before opset 13, over x
// flattened to 2-D at the axis.
Outputs lower_hardmax(const Node& n) {
  Value x = n.input(0, 1, 8);
  const std::size_t rank = x.shape().size();
  if (n.opset() >= 13) {
    const int axis = n.axis("axis", -1, rank);
    return {equal(positions(x, axis), argmax(x, axis, true))};
  }
  int axis = n.axis("axis", 1, rank);
  Value flat = flatten(x, axis < 0 ? axis + int(rank) : axis);
  return {reshape(equal(positions(flat, 1), argmax(flat, 1, true)), x.shape())};
}

// The upper (or lower) triangle of the last two dimensions from diagonal k on, zeros elsewhere.
Outputs lower_trilu(const Node& n) {
  Value x = n.input(0, 2, 8);
  const bool upper = n.flag("upper", true);
  std::int64_t k = 0;
  if (n.has_input(1)) {
    const Ints given = n.constant_ints(1);
    if (given.size() != 1) n.invalid("k must be one integer");
    k = given[0];
  }
  const std::int64_t rows = x.shape()[x.shape().size() - 2], cols = x.shape().back();
  HostTensor mask, zero;
  mask.type = zero.type = clnn::detail::Element::float32;
  mask.shape = {rows, cols};
  // j - i lies in (-rows, cols): clamping k there changes no comparison.
  k = std::clamp(k, -rows, cols);
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j)
      mask.floats.push_back((upper ? j - i >= k : j - i <= k) ? 1.0f : 0.0f);
  zero.floats = {0.0f};
  return {where(n.constant_value("mask", mask), x, n.constant_value("zero", zero))};
}

Outputs lower_layer_norm(const Node& n) {
  if (n.integer("stash_type", 1, 1, 1) != 1) n.unsupported("stash_type other than float");
  Value x = n.input(0, 1, 8);
  const int axis = n.axis("axis", -1, x.shape().size());
  const float eps = n.real("epsilon", 1e-5f);
  // The fused operator keeps its statistics inside; the composed one gives them as values.
  if (!n.has_output(1) && !n.has_output(2))
    return {layer_norm(x, n.input(1), optional_input(n, 2), axis, eps)};
  auto parts = clnn::detail::layer_norm_parts(x, n.input(1), optional_input(n, 2), axis, eps);
  return {parts.y, parts.mean, parts.inv_std};
}

// GroupNormalization: scale and bias per group in opset 18 (per channel from opset 21).
Outputs lower_group_norm(const Node& n) {
  if (n.integer("stash_type", 1, 1, 1) != 1) n.unsupported("stash_type other than float");
  Value x = n.input(0, kMinSpatialRank, 8);
  if (!n.has("num_groups")) n.malformed("attribute 'num_groups' is missing");
  const std::int64_t channels = x.shape()[1];
  const std::int64_t groups = n.integer("num_groups", 1, 1, channels);
  if (channels % groups != 0)
    n.invalid(std::to_string(groups) + " groups do not divide " + std::to_string(channels) +
              " channels");
  Value scale_in = n.input(1), bias = n.input(2);
  if (n.opset() < 21 && scale_in.shape() == Shape{groups} && bias.shape() == Shape{groups}) {
    const Shape spread{groups, channels / groups};
    scale_in = reshape(expand(reshape(scale_in, {groups, 1}), spread), {channels});
    bias = reshape(expand(reshape(bias, {groups, 1}), spread), {channels});
  }
  return {group_norm(x, groups, scale_in, bias, n.real("epsilon", 1e-5f))};
}

// TopK: k from the attribute (before opset 10) or an input known at load; the positions are
// floats holding whole numbers. `sorted` 0 allows any order, so the sorted one serves.
Outputs lower_top_k(const Node& n) {
  Value x = n.input(0, 1, 8);
  const std::size_t rank = x.shape().size();
  const int given = n.axis("axis", -1, rank);
  const std::int64_t extent = x.shape()[std::size_t(given < 0 ? given + int(rank) : given)];
  std::int64_t k = 0;
  if (n.opset() < 10) {
    k = n.integer("k", 0, 0, kMaxInt64);
  } else {
    const Ints ks = n.constant_ints(1);
    if (ks.size() != 1) n.invalid("K must be one integer");
    k = ks[0];
  }
  if (k == 0) n.unsupported("k = 0 (an empty result; clnn has no empty tensors)");
  if (k < 0 || k > extent)
    n.invalid("k = " + std::to_string(k) + " for an axis of " + std::to_string(extent));
  n.flag("sorted", true);
  const TopK top = top_k(x, k, given, n.flag("largest", true));
  return {top.values, top.positions};
}

// LRN: x / (bias + alpha / size * the sum of squares over `size` neighbouring channels)^beta.
// The window sum is an average pool over the channels (zeros past the ends) times size.
Outputs lower_lrn(const Node& n) {
  Value x = n.input(0, kMinSpatialRank, 8);
  if (!n.has("size")) n.malformed("attribute 'size' is missing");
  const Shape& s = x.shape();
  const std::int64_t size = n.integer("size", 1, 1, kMaxWindowValue);
  const float alpha = n.real("alpha", 1e-4f), beta = n.real("beta", 0.75f),
              bias = n.real("bias", 1.0f);
  if (!(bias > 0.0f)) n.unsupported("bias " + std::to_string(bias) + " (clnn takes bias > 0)");
  const std::int64_t channels = s[1], spatial = element_count(s) / (s[0] * channels);
  PoolOptions window;
  window.kernel = {size, 1};
  window.strides = {1, 1};
  window.pads_begin = {(size - 1) / 2, 0};
  window.pads_end = {size - 1 - (size - 1) / 2, 0};
  window.count_include_pad = true;
  const Value squares = reshape(mul(x, x), {s[0], 1, channels, spatial});
  const Value mean_square = reshape(avg_pool(squares, window), s);
  // base^-beta as exp(-beta log base): base >= bias > 0.
  const Value base = add(scale(mean_square, alpha), bias);
  return {mul(x, clnn::exp(scale(clnn::log(base), -beta)))};
}

// RMSNormalization (opset 23): x / sqrt(mean(x^2 over the axes from `axis` on) + epsilon) * scale.
Outputs lower_rms_norm(const Node& n) {
  if (n.integer("stash_type", 1, 1, 1) != 1) n.unsupported("stash_type other than float");
  Value x = n.input(0, 1, 8);
  const std::size_t rank = x.shape().size();
  const int given = n.axis("axis", -1, rank);
  std::vector<int> axes;
  for (int d = given < 0 ? given + int(rank) : given; d < int(rank); ++d) axes.push_back(d);
  const Value mean_square = mean(mul(x, x), axes, true);
  const Value normalized =
      mul(x, reciprocal(clnn::sqrt(add(mean_square, n.real("epsilon", 1e-5f)))));
  return {mul(normalized, n.input(1))};
}

// Gelu (opset 20): exact, or with the tanh approximation
// 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))).
Outputs lower_gelu(const Node& n) {
  Value x = n.input(0);
  if (n.text("approximate", "none", {"none", "tanh"}) == "none") return {gelu(x)};
  const float sqrt_2_over_pi = 0.7978845608028654f;
  const Value inner = scale(add(x, scale(mul(mul(x, x), x), 0.044715f)), sqrt_2_over_pi);
  return {mul(scale(x, 0.5f), add(clnn::tanh(inner), 1.0f))};
}

Outputs lower_instance_norm(const Node& n) {
  return {instance_norm(n.input(0, kMinSpatialRank, kMaxSpatialRank), n.input(1), n.input(2),
                        n.real("epsilon", 1e-5f))};
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

Value negate(const Value& x) {
  return scale(x, -1.0f);
}

const std::map<std::string, Converter> kConverters{
    {"Relu", {{}, unary<relu>}},
    {"Sigmoid", {{}, unary<sigmoid>}},
    {"Tanh", {{}, unary<clnn::tanh>}},
    {"Sqrt", {{}, unary<clnn::sqrt>}},
    {"Exp", {{}, unary<clnn::exp>}},
    {"Identity", {{}, unary<identity>}},
    {"LeakyRelu",
     {{"alpha"},
      [](const Node& n) -> Outputs { return {leaky_relu(n.input(0), n.real("alpha", 0.01f))}; }}},
    {"Elu",
     {{"alpha"},
      [](const Node& n) -> Outputs { return {elu(n.input(0), n.real("alpha", 1.0f))}; }}},
    {"Selu",
     {{"alpha", "gamma"},
      [](const Node& n) -> Outputs {
        return {selu(n.input(0), n.real("alpha", 1.67326319217681884765625f),
                     n.real("gamma", 1.05070102214813232421875f))};
      }}},
    {"HardSigmoid",
     {{"alpha", "beta"},
      [](const Node& n) -> Outputs {
        return {hard_sigmoid(n.input(0), n.real("alpha", 0.2f), n.real("beta", 0.5f))};
      }}},
    {"Clip", {{"min", "max"}, lower_clip}},
    {"Softmax", {{"axis"}, lower_softmax}},
    {"LogSoftmax", {{"axis"}, lower_softmax}},
    {"Add", {{"axis", "broadcast"}, lower_arithmetic}},
    {"Sub", {{"axis", "broadcast"}, lower_arithmetic}},
    {"Mul", {{"axis", "broadcast"}, lower_arithmetic}},
    {"Div", {{"axis", "broadcast"}, lower_arithmetic}},
    {"Pow", {{}, binary<clnn::pow>}},
    {"PRelu", {{}, lower_prelu}},
    {"MatMul", {{}, lower_matmul}},
    {"Einsum", {{"equation"}, lower_einsum}},
    {"Gemm", {{"alpha", "beta", "broadcast", "transA", "transB"}, lower_gemm}},
    {"Conv", {{"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"}, lower_conv}},
    {"ConvTranspose",
     {{"auto_pad", "dilations", "group", "kernel_shape", "output_padding", "output_shape", "pads",
       "strides"},
      lower_conv_transpose}},
    {"MaxPool",
     {{"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"},
      lower_pool}},
    {"AveragePool",
     {{"auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape", "pads",
       "strides"},
      lower_pool}},
    {"GlobalAveragePool", {{}, unary<global_avg_pool>}},
    {"GlobalMaxPool", {{}, lower_global_max_pool}},
    {"BatchNormalization",
     {{"epsilon", "is_test", "momentum", "spatial", "training_mode"}, lower_batch_norm}},
    {"Flatten", {{"axis"}, lower_flatten}},
    {"Reshape", {{"allowzero", "shape"}, lower_reshape}},
    {"Transpose", {{"perm"}, lower_transpose}},
    {"Concat", {{"axis"}, lower_concat}},
    {"Dropout", {{"ratio", "seed", "is_test"}, lower_dropout}},
    {"Constant", {{"value", "value_float", "value_int", "value_ints"}, lower_constant}},
    // Math functions and activations.
    {"Neg", {{}, unary<negate>}},
    {"Abs", {{}, unary<clnn::abs>}},
    {"Log", {{}, unary<clnn::log>}},
    {"Reciprocal", {{}, unary<reciprocal>}},
    {"Floor", {{}, unary<clnn::floor>}},
    {"Ceil", {{}, unary<clnn::ceil>}},
    {"Round", {{}, unary<clnn::round>}},
    {"Sign", {{}, unary<sign>}},
    {"Erf", {{}, unary<clnn::erf>}},
    {"Gelu", {{"approximate"}, lower_gelu}},
    {"Softplus", {{}, unary<softplus>}},
    {"Softsign", {{}, unary<softsign>}},
    {"HardSwish", {{}, unary<hard_swish>}},
    {"Mish", {{}, unary<mish>}},
    {"Sin", {{}, unary<clnn::sin>}},
    {"Cos", {{}, unary<clnn::cos>}},
    {"Tan", {{}, unary<clnn::tan>}},
    {"Asin", {{}, unary<clnn::asin>}},
    {"Acos", {{}, unary<clnn::acos>}},
    {"Atan", {{}, unary<clnn::atan>}},
    {"Sinh", {{}, unary<clnn::sinh>}},
    {"Cosh", {{}, unary<clnn::cosh>}},
    {"Asinh", {{}, unary<clnn::asinh>}},
    {"Acosh", {{}, unary<clnn::acosh>}},
    {"Atanh", {{}, unary<clnn::atanh>}},
    {"Celu",
     {{"alpha"},
      [](const Node& n) -> Outputs { return {celu(n.input(0), n.real("alpha", 1.0f))}; }}},
    {"ThresholdedRelu",
     {{"alpha"},
      [](const Node& n) -> Outputs {
        return {thresholded_relu(n.input(0), n.real("alpha", 1.0f))};
      }}},
    {"Shrink",
     {{"bias", "lambd"},
      [](const Node& n) -> Outputs {
        return {shrink(n.input(0), n.real("bias", 0.0f), n.real("lambd", 0.5f))};
      }}},
    {"Max", {{}, lower_variadic}},
    {"Min", {{}, lower_variadic}},
    {"Sum", {{}, lower_variadic}},
    {"Mean", {{}, lower_variadic}},
    // Reductions and normalization.
    {"ReduceMean", {{"axes", "keepdims", "noop_with_empty_axes"}, lower_reduce}},
    {"ReduceSum", {{"axes", "keepdims", "noop_with_empty_axes"}, lower_reduce}},
    {"ReduceSumSquare", {{"axes", "keepdims", "noop_with_empty_axes"}, lower_reduce}},
    {"ReduceL1", {{"axes", "keepdims", "noop_with_empty_axes"}, lower_reduce}},
    {"ReduceL2", {{"axes", "keepdims", "noop_with_empty_axes"}, lower_reduce}},
    {"ReduceLogSum", {{"axes", "keepdims", "noop_with_empty_axes"}, lower_reduce}},
    {"ReduceLogSumExp", {{"axes", "keepdims", "noop_with_empty_axes"}, lower_reduce}},
    {"ReduceMax", {{"axes", "keepdims", "noop_with_empty_axes"}, lower_reduce}},
    {"ReduceMin", {{"axes", "keepdims", "noop_with_empty_axes"}, lower_reduce}},
    {"ReduceProd", {{"axes", "keepdims", "noop_with_empty_axes"}, lower_reduce}},
    {"LayerNormalization", {{"axis", "epsilon", "stash_type"}, lower_layer_norm}},
    {"InstanceNormalization", {{"epsilon"}, lower_instance_norm}},
    {"LRN", {{"alpha", "beta", "bias", "size"}, lower_lrn}},
    {"RMSNormalization", {{"axis", "epsilon", "stash_type"}, lower_rms_norm}},
    {"GroupNormalization", {{"epsilon", "num_groups", "stash_type"}, lower_group_norm}},
    // Moving data: slices, pads, broadcasts.
    {"Slice", {{"starts", "ends", "axes"}, lower_slice}},
    {"Gather", {{"axis"}, lower_gather}},
    {"GatherElements", {{"axis"}, lower_gather_elements}},
    {"NegativeLogLikelihoodLoss", {{"ignore_index", "reduction"}, lower_nll_loss}},
    {"SoftmaxCrossEntropyLoss", {{"ignore_index", "reduction"}, lower_softmax_cross_entropy}},
    {"Split", {{"axis", "num_outputs", "split"}, lower_split}},
    {"Pad", {{"mode", "pads", "value"}, lower_pad}},
    {"Expand",
     {{},
      [](const Node& n) -> Outputs {
        const Ints shape = n.constant_ints(1);
        return {expand(n.input(0), Shape(shape.begin(), shape.end()))};
      }}},
    {"Tile", {{}, [](const Node& n) -> Outputs { return {tile(n.input(0), n.constant_ints(1))}; }}},
    {"Squeeze", {{"axes"}, lower_squeeze}},
    {"Unsqueeze", {{"axes"}, lower_squeeze}},
    {"DepthToSpace", {{"blocksize", "mode"}, lower_depth_space}},
    {"Resize",
     {{"mode", "coordinate_transformation_mode", "nearest_mode", "cubic_coeff_a", "exclude_outside",
       "extrapolation_value", "antialias", "axes", "keep_aspect_ratio_policy"},
      lower_resize}},
    {"SpaceToDepth", {{"blocksize"}, lower_depth_space}},
    {"Cast", {{"to", "saturate"}, lower_cast}},  // saturate: float8 targets only
    {"CastLike", {{"saturate"}, lower_cast_like}},
    // Evaluated while importing only (constant folding, io/onnx_fold.cpp): shape arithmetic.
    {"Shape", {{"start", "end"}, nullptr}},
    {"Size", {{}, nullptr}},
    {"ConstantOfShape", {{"value"}, nullptr}},
    {"Range", {{}, nullptr}},
    {"Mod", {{"fmod"}, nullptr}},
    {"ScatterND", {{"reduction"}, nullptr}},
    // Logic: folded where the inputs are known, else 0s and 1s on the device.
    {"Equal", {{}, lower_logic}},
    {"Less", {{}, lower_logic}},
    {"LessOrEqual", {{}, lower_logic}},
    {"Greater", {{}, lower_logic}},
    {"GreaterOrEqual", {{}, lower_logic}},
    {"And", {{}, lower_logic}},
    {"Or", {{}, lower_logic}},
    {"Xor", {{}, lower_logic}},
    {"Not", {{}, lower_logic}},
    {"Where", {{}, lower_where}},
    {"ArgMax", {{"axis", "keepdims", "select_last_index"}, lower_arg}},
    {"ArgMin", {{"axis", "keepdims", "select_last_index"}, lower_arg}},
    {"TopK", {{"axis", "k", "largest", "sorted"}, lower_top_k}},
    {"Hardmax", {{"axis"}, lower_hardmax}},
    {"Trilu", {{"upper"}, lower_trilu}},
};

}  // namespace

const Converter* find_converter(const std::string& op_type) {
  auto it = kConverters.find(op_type);
  return it == kConverters.end() ? nullptr : &it->second;
}

}  // namespace clnn::onnx::detail
