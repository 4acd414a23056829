// Constant folding at load: host evaluation of the operators shape subgraphs use, on tensors
// known while importing. Every size, index and axis is checked before use.
#include "io/onnx_fold.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <set>

#include "checked_int.hpp"
#include "ops/shape_util.hpp"

namespace clnn::onnx::detail {

namespace {

using clnn::detail::CheckedInt;
using clnn::detail::Element;
using clnn::detail::element_of;

// The largest tensor folding makes (ConstantOfShape, Expand, Range): 2^26 elements, 256 MB of
// floats; a model asking for more is refused rather than filling the host's memory.
constexpr std::int64_t kMaxFoldedElements = std::int64_t{1} << 26;

std::int64_t checked_count(const Node& n, const Shape& shape) {
  CheckedInt count = 1;
  for (std::int64_t d : shape) {
    if (d < 0) n.invalid("negative extent in " + to_string(shape));
    count = count * d;
  }
  if (count.value() > kMaxFoldedElements)
    n.unsupported("a folded tensor of shape " + to_string(shape) + " (more than 2^26 elements)");
  return count.value();
}

HostTensor make(const Node& n, Element type, Shape shape) {
  HostTensor t;
  const auto count = std::size_t(checked_count(n, shape));
  t.type = type;
  t.shape = std::move(shape);
  if (t.is_float())
    t.floats.assign(count, 0.0f);
  else
    t.ints.assign(count, 0);
  return t;
}

// The known inputs, or nullopt when any present one is not known.
std::optional<std::vector<const HostTensor*>> known_inputs(const Node& n) {
  std::vector<const HostTensor*> in;
  for (int i = 0; i < n.input_count(); ++i) {
    if (!n.has_input(i)) {
      in.push_back(nullptr);
      continue;
    }
    const HostTensor* t = n.known(i);
    if (!t) return std::nullopt;
    in.push_back(t);
  }
  return in;
}

const HostTensor& required(const Node& n, const std::vector<const HostTensor*>& in, int i) {
  if (std::size_t(i) >= in.size() || !in[std::size_t(i)])
    n.malformed("missing input " + std::to_string(i));
  return *in[std::size_t(i)];
}

const HostTensor& integers(const Node& n, const std::vector<const HostTensor*>& in, int i) {
  const HostTensor& t = required(n, in, i);
  if (t.is_float()) n.invalid("input " + std::to_string(i) + " must hold integers");
  return t;
}

Shape broadcast(const Node& n, const Shape& a, const Shape& b) {
  const std::optional<Shape> out = clnn::detail::broadcast_shapes(a, b);
  if (!out) n.invalid("shapes " + to_string(a) + " and " + to_string(b) + " do not broadcast");
  return *out;
}

// For each element of `out`, the element of a tensor of shape `s` (broadcast to it) it reads.
std::vector<std::size_t> broadcast_sources(const Shape& out, const Shape& s) {
  std::size_t total = 1;
  for (auto d : out) total *= std::size_t(d);
  std::vector<std::size_t> src(total);
  const std::size_t lead = out.size() - s.size();
  for (std::size_t i = 0; i < total; ++i) {
    std::size_t rest = i, offset = 0, stride = 1;
    for (std::size_t d = out.size(); d-- > 0;) {
      const std::size_t c = rest % std::size_t(out[d]);
      rest /= std::size_t(out[d]);
      if (d < lead) continue;
      const auto extent = std::size_t(s[d - lead]);
      if (extent != 1) offset += c * stride;
      stride *= extent;
    }
    src[i] = offset;
  }
  return src;
}

double as_real(const HostTensor& t, std::size_t i) {
  return t.is_float() ? double(t.floats[i]) : double(t.ints[i]);
}

// An elementwise operator over broadcast operands: `real` on floats, `integer` on integers (both
// operands of one kind), giving `result` (nullopt: the operands' type).
using RealOp = std::function<double(double, double)>;
using IntOp = std::function<std::int64_t(const Node&, std::int64_t, std::int64_t)>;

HostTensor elementwise(const Node& n, const std::vector<const HostTensor*>& operands,
                       const RealOp& real, const IntOp& integer,
                       std::optional<Element> result = std::nullopt) {
  Shape shape;
  for (const HostTensor* t : operands) {
    if (t->is_float() != operands[0]->is_float()) n.invalid("operands of different element types");
    shape = broadcast(n, shape, t->shape);
  }
  const bool floats = operands[0]->is_float();
  HostTensor out = make(n, result.value_or(operands[0]->type), shape);
  std::vector<std::vector<std::size_t>> src;
  for (const HostTensor* t : operands) src.push_back(broadcast_sources(shape, t->shape));
  for (std::size_t i = 0; i < out.size(); ++i) {
    double r = 0;
    std::int64_t v = 0;
    for (std::size_t k = 0; k < operands.size(); ++k) {
      const std::size_t j = src[k][i];
      if (k == 0) {
        if (floats)
          r = as_real(*operands[0], j);
        else
          v = operands[0]->ints[j];
      } else if (floats) {
        r = real(r, as_real(*operands[k], j));
      } else {
        v = integer(n, v, operands[k]->ints[j]);
      }
    }
    if (out.is_float())
      out.floats[i] = float(floats ? r : double(v));
    else
      out.ints[i] = floats ? std::int64_t(r) : v;
  }
  return out;
}

IntOp checked(std::function<CheckedInt(CheckedInt, CheckedInt)> f) {
  return [f](const Node&, std::int64_t a, std::int64_t b) { return f(a, b).value(); };
}

std::int64_t int_divide(const Node& n, std::int64_t a, std::int64_t b) {
  if (b == 0) n.invalid("integer division by zero");
  if (a == std::numeric_limits<std::int64_t>::min() && b == -1) n.invalid("division overflows");
  return a / b;  // truncation, as ONNX Runtime's Div on integers
}

IntOp from_bool(std::function<bool(std::int64_t, std::int64_t)> f) {
  return [f](const Node&, std::int64_t a, std::int64_t b) { return std::int64_t(f(a, b)); };
}

HostTensor fold_arithmetic(const Node& n, const std::vector<const HostTensor*>& in) {
  const std::string& op = n.proto().op_type();
  const std::vector<const HostTensor*> operands{&required(n, in, 0), &required(n, in, 1)};
  if (op == "Add")
    return elementwise(n, operands, std::plus<>(), checked([](auto a, auto b) { return a + b; }));
  if (op == "Sub")
    return elementwise(n, operands, std::minus<>(), checked([](auto a, auto b) { return a - b; }));
  if (op == "Mul")
    return elementwise(n, operands, std::multiplies<>(),
                       checked([](auto a, auto b) { return a * b; }));
  return elementwise(n, operands, std::divides<>(), int_divide);
}

// Pow: the base's element type (an integer base keeps the power's integer part). PyTorch
// exports an attention scale computed from a shape, head_dim ** -0.5, as one: folded, it is a
// known scalar that the attention pattern takes.
HostTensor fold_pow(const Node& n, const std::vector<const HostTensor*>& in) {
  const HostTensor &x = required(n, in, 0), &y = required(n, in, 1);
  const Shape shape = broadcast(n, x.shape, y.shape);
  HostTensor out = make(n, x.type, shape);
  const auto from_x = broadcast_sources(shape, x.shape), from_y = broadcast_sources(shape, y.shape);
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (!out.is_float() && !y.is_float() && y.ints[from_y[i]] >= 0) {
      // Exactly, by squaring: doubles lose integers above 2^53.
      CheckedInt power = 1, base = x.ints[from_x[i]];
      for (std::int64_t e = y.ints[from_y[i]]; e > 0; e /= 2) {
        if (e % 2) power = power * base;
        if (e > 1) base = base * base;
      }
      out.ints[i] = power.value();  // CheckedInt threw where it overflowed
      continue;
    }
    const double r = std::pow(as_real(x, from_x[i]), as_real(y, from_y[i]));
    if (out.is_float()) {
      out.floats[i] = float(r);
    } else {
      if (!(std::abs(r) < 9.2e18)) n.invalid("an integer power out of range");
      out.ints[i] = std::int64_t(r);
    }
  }
  return out;
}

// Mod: fmod 0 takes the divisor's sign (Python's %), fmod 1 the dividend's (C's fmod).
HostTensor fold_mod(const Node& n, const std::vector<const HostTensor*>& in) {
  const bool c_style = n.flag("fmod", false);
  const std::vector<const HostTensor*> operands{&required(n, in, 0), &required(n, in, 1)};
  if (operands[0]->is_float() && !c_style) n.invalid("Mod of floats needs fmod 1");
  return elementwise(
      n, operands, [](double a, double b) { return std::fmod(a, b); },
      [c_style](const Node& node, std::int64_t a, std::int64_t b) {
        if (b == 0) node.invalid("integer division by zero");
        if (b == -1) return std::int64_t{0};  // also where a / b would overflow
        std::int64_t r = a % b;
        if (!c_style && r != 0 && (r < 0) != (b < 0)) r += b;
        return r;
      });
}

HostTensor fold_compare(const Node& n, const std::vector<const HostTensor*>& in) {
  const std::string& op = n.proto().op_type();
  const std::vector<const HostTensor*> operands{&required(n, in, 0), &required(n, in, 1)};
  auto compare = [&](auto f) {
    return elementwise(
        n, operands, [f](double a, double b) { return double(f(a, b)); }, from_bool(f),
        Element::boolean);
  };
  if (op == "Equal") return compare([](auto a, auto b) { return a == b; });
  if (op == "Less") return compare([](auto a, auto b) { return a < b; });
  if (op == "LessOrEqual") return compare([](auto a, auto b) { return a <= b; });
  if (op == "Greater") return compare([](auto a, auto b) { return a > b; });
  if (op == "GreaterOrEqual") return compare([](auto a, auto b) { return a >= b; });
  // And, Or, Xor on booleans.
  for (const HostTensor* t : operands)
    if (t->type != Element::boolean) n.invalid("operands must be booleans");
  if (op == "And") return compare([](auto a, auto b) { return a && b; });
  if (op == "Or") return compare([](auto a, auto b) { return a || b; });
  return compare([](auto a, auto b) { return bool(a) != bool(b); });
}

// Min, Max, Sum and Mean over any number of operands.
HostTensor fold_variadic(const Node& n, const std::vector<const HostTensor*>& in) {
  const std::string& op = n.proto().op_type();
  std::vector<const HostTensor*> operands;
  for (int i = 0; i < n.input_count(); ++i) operands.push_back(&required(n, in, i));
  if (operands.empty()) n.malformed("no inputs");
  if (op == "Min")
    return elementwise(
        n, operands, [](double a, double b) { return std::fmin(a, b); },
        [](const Node&, std::int64_t a, std::int64_t b) { return std::min(a, b); });
  if (op == "Max")
    return elementwise(
        n, operands, [](double a, double b) { return std::fmax(a, b); },
        [](const Node&, std::int64_t a, std::int64_t b) { return std::max(a, b); });
  HostTensor sum =
      elementwise(n, operands, std::plus<>(), checked([](auto a, auto b) { return a + b; }));
  if (op == "Mean") {
    if (!sum.is_float()) n.invalid("Mean of integers");
    for (float& v : sum.floats) v /= float(operands.size());
  }
  return sum;
}

HostTensor fold_unary(const Node& n, const std::vector<const HostTensor*>& in) {
  const std::string& op = n.proto().op_type();
  HostTensor out = required(n, in, 0);
  if (op == "Not") {
    if (out.type != Element::boolean) n.invalid("Not takes booleans");
    for (auto& v : out.ints) v = !v;
    return out;
  }
  for (auto& v : out.ints) {
    if (v == std::numeric_limits<std::int64_t>::min()) n.invalid("negation overflows");
    v = op == "Neg" ? -v : std::abs(v);
  }
  for (auto& v : out.floats) v = op == "Neg" ? -v : std::fabs(v);
  return out;
}

// Floor, Ceil and Sqrt of floats (image sizes computed in a model's shape subgraph).
HostTensor fold_rounding(const Node& n, const std::vector<const HostTensor*>& in) {
  const std::string& op = n.proto().op_type();
  HostTensor out = required(n, in, 0);
  if (!out.is_float()) n.invalid(op + " takes floats");
  for (auto& v : out.floats)
    v = op == "Floor" ? std::floor(v) : op == "Ceil" ? std::ceil(v) : std::sqrt(v);
  return out;
}

HostTensor fold_where(const Node& n, const std::vector<const HostTensor*>& in) {
  const HostTensor &c = required(n, in, 0), &a = required(n, in, 1), &b = required(n, in, 2);
  if (c.type != Element::boolean) n.invalid("the condition must hold booleans");
  if (a.type != b.type) n.invalid("the branches differ in element type");
  const Shape shape = broadcast(n, broadcast(n, c.shape, a.shape), b.shape);
  HostTensor out = make(n, a.type, shape);
  auto sc = broadcast_sources(shape, c.shape), sa = broadcast_sources(shape, a.shape),
       sb = broadcast_sources(shape, b.shape);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const bool pick_a = c.ints[sc[i]] != 0;
    if (out.is_float())
      out.floats[i] = pick_a ? a.floats[sa[i]] : b.floats[sb[i]];
    else
      out.ints[i] = pick_a ? a.ints[sa[i]] : b.ints[sb[i]];
  }
  return out;
}

std::optional<HostTensor> fold_shape(const Node& n) {
  std::optional<Shape> shape = n.known_shape(0);
  if (!shape) return std::nullopt;
  const std::string& op = n.proto().op_type();
  HostTensor out;
  out.type = Element::int64;
  if (op == "Size") {
    out.ints = {checked_count(n, *shape)};
    return out;
  }
  const auto rank = std::int64_t(shape->size());
  auto clamp_end = [&](std::int64_t v) {
    if (v < 0) v += rank;
    return std::clamp<std::int64_t>(v, 0, rank);
  };
  constexpr auto lo = std::numeric_limits<std::int64_t>::min();
  constexpr auto hi = std::numeric_limits<std::int64_t>::max();
  const std::int64_t start = clamp_end(n.integer("start", 0, lo, hi));
  const std::int64_t end = clamp_end(n.integer("end", rank, lo, hi));
  for (std::int64_t d = start; d < end; ++d) out.ints.push_back((*shape)[std::size_t(d)]);
  out.shape = {std::int64_t(out.ints.size())};
  return out;
}

// `out` converted to `type`.
HostTensor cast_to(const Node& n, HostTensor out, Element type) {
  if (out.is_float() && type != Element::float32) {
    for (float v : out.floats) {
      if (!std::isfinite(v) || std::fabs(v) >= 9.2e18f) n.invalid("a float out of integer range");
      out.ints.push_back(type == Element::boolean ? v != 0.0f : std::int64_t(v));
    }
    out.floats.clear();
  } else if (!out.is_float() && type == Element::float32) {
    for (auto v : out.ints) out.floats.push_back(float(v));
    out.ints.clear();
  } else if (type == Element::boolean) {
    for (auto& v : out.ints) v = v != 0;
  } else if (type == Element::int32) {
    for (auto& v : out.ints) v = std::int32_t(v);  // ONNX's wrap-around, as a C cast
  }
  out.type = type;
  return out;
}

HostTensor fold_cast(const Node& n, const std::vector<const HostTensor*>& in) {
  const std::int64_t to = n.integer("to", 0, 0, 1 << 20);
  const std::optional<Element> type = element_of(to);
  if (!type) n.unsupported("Cast to element type " + std::to_string(to));
  return cast_to(n, required(n, in, 0), *type);
}

// CastLike: to the element type of input 1.
HostTensor fold_cast_like(const Node& n, const std::vector<const HostTensor*>& in) {
  return cast_to(n, required(n, in, 0), required(n, in, 1).type);
}

HostTensor fold_constant_of_shape(const Node& n, const std::vector<const HostTensor*>& in) {
  const HostTensor& dims = integers(n, in, 0);
  if (dims.shape.size() != 1) n.invalid("the shape input must be 1-D");
  HostTensor value;
  value.type = Element::float32;
  value.floats = {0.0f};
  if (n.has("value")) {
    value = n.tensor("value");
    if (value.size() != 1) n.invalid("attribute 'value' must hold one element");
  }
  HostTensor out = make(n, value.type, Shape(dims.ints.begin(), dims.ints.end()));
  if (out.is_float())
    std::fill(out.floats.begin(), out.floats.end(), value.floats[0]);
  else
    std::fill(out.ints.begin(), out.ints.end(), value.ints[0]);
  return out;
}

HostTensor fold_range(const Node& n, const std::vector<const HostTensor*>& in) {
  const HostTensor &start = required(n, in, 0), &limit = required(n, in, 1),
                   &delta = required(n, in, 2);
  for (const HostTensor* t : {&start, &limit, &delta})
    if (t->size() != 1 || t->type != start.type) n.invalid("inputs must be scalars of one type");
  const double s = as_real(start, 0), l = as_real(limit, 0), d = as_real(delta, 0);
  if (d == 0 || !std::isfinite(s) || !std::isfinite(l) || !std::isfinite(d))
    n.invalid("Range needs finite bounds and a nonzero delta");
  const double steps = std::max(0.0, std::ceil((l - s) / d));
  if (steps > double(kMaxFoldedElements)) n.unsupported("a Range of more than 2^26 elements");
  HostTensor out = make(n, start.type, {std::int64_t(steps)});
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out.is_float())
      out.floats[i] = float(s + double(i) * d);
    else
      out.ints[i] = start.ints[0] + std::int64_t(i) * delta.ints[0];
  }
  return out;
}

// Copies `src` rearranged: output element i reads source element map(i).
HostTensor gathered(const Node& n, const HostTensor& src, Shape shape,
                    const std::function<std::size_t(std::size_t)>& map) {
  HostTensor out = make(n, src.type, std::move(shape));
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out.is_float())
      out.floats[i] = src.floats[map(i)];
    else
      out.ints[i] = src.ints[map(i)];
  }
  return out;
}

HostTensor fold_reshape(const Node& n, const std::vector<const HostTensor*>& in) {
  const HostTensor& x = required(n, in, 0);
  Ints target = integers(n, in, 1).ints;
  std::int64_t known = 1, inferred = -1;
  for (std::size_t d = 0; d < target.size(); ++d) {
    if (target[d] == 0 && !n.flag("allowzero", false)) {
      if (d >= x.shape.size()) n.invalid("a 0 past the input's rank");
      target[d] = x.shape[d];
    }
    if (target[d] == -1 && inferred < 0)
      inferred = std::int64_t(d);
    else if (target[d] < 0)
      n.invalid("bad target extent in " + to_string(target));
    else
      known = (CheckedInt(known) * target[d]).value();
  }
  const auto total = std::int64_t(x.size());
  if (inferred >= 0) {
    if (known == 0 || total % known) n.invalid("cannot infer the -1 extent");
    target[std::size_t(inferred)] = total / known;
  }
  if (checked_count(n, target) != total)
    n.invalid("element counts differ: " + to_string(x.shape) + " to " + to_string(target));
  HostTensor out = x;
  out.shape = target;
  return out;
}

HostTensor fold_unsqueeze(const Node& n, const std::vector<const HostTensor*>& in) {
  HostTensor out = required(n, in, 0);
  out.shape = squeezed_shape(n, out.shape);
  return out;
}

HostTensor fold_concat(const Node& n, const std::vector<const HostTensor*>& in) {
  std::vector<const HostTensor*> parts;
  for (int i = 0; i < n.input_count(); ++i) parts.push_back(&required(n, in, i));
  if (parts.empty()) n.malformed("no inputs");
  const std::size_t rank = parts[0]->shape.size();
  if (rank == 0) n.invalid("Concat of scalars");
  int axis = n.axis("axis", 1, rank);
  const std::size_t a = std::size_t(axis < 0 ? axis + int(rank) : axis);
  Shape shape = parts[0]->shape;
  shape[a] = 0;
  for (const HostTensor* p : parts) {
    if (p->type != parts[0]->type || p->shape.size() != rank) n.invalid("mismatched operands");
    for (std::size_t d = 0; d < rank; ++d)
      if (d != a && p->shape[d] != shape[d]) n.invalid("mismatched operand shapes");
    shape[a] = (CheckedInt(shape[a]) + p->shape[a]).value();
  }
  HostTensor out = make(n, parts[0]->type, shape);
  std::size_t inner = 1, outer = 1;
  for (std::size_t d = a + 1; d < rank; ++d) inner *= std::size_t(shape[d]);
  for (std::size_t d = 0; d < a; ++d) outer *= std::size_t(shape[d]);
  std::size_t at = 0;
  for (std::size_t o = 0; o < outer; ++o)
    for (const HostTensor* p : parts) {
      const std::size_t block = std::size_t(p->shape[a]) * inner;
      for (std::size_t j = 0; j < block; ++j, ++at) {
        if (out.is_float())
          out.floats[at] = p->floats[o * block + j];
        else
          out.ints[at] = p->ints[o * block + j];
      }
    }
  return out;
}

}  // namespace

std::vector<std::int64_t> gather_indices(const Node& n, const std::vector<std::int64_t>& indices,
                                         std::int64_t extent) {
  std::vector<std::int64_t> index;
  for (std::int64_t i : indices) {
    if (i < -extent || i >= extent)
      n.invalid("index " + std::to_string(i) + " is out of range for extent " +
                std::to_string(extent));
    index.push_back(i < 0 ? i + extent : i);
  }
  return index;
}

namespace {

HostTensor fold_gather(const Node& n, const std::vector<const HostTensor*>& in) {
  const HostTensor &x = required(n, in, 0), &indices = integers(n, in, 1);
  const std::size_t rank = x.shape.size();
  if (rank == 0) n.invalid("Gather from a scalar");
  int axis = n.axis("axis", 0, rank);
  const std::size_t a = std::size_t(axis < 0 ? axis + int(rank) : axis);
  const std::int64_t extent = x.shape[a];
  Shape shape(x.shape.begin(), x.shape.begin() + std::ptrdiff_t(a));
  shape.insert(shape.end(), indices.shape.begin(), indices.shape.end());
  shape.insert(shape.end(), x.shape.begin() + std::ptrdiff_t(a) + 1, x.shape.end());
  std::size_t inner = 1;
  for (std::size_t d = a + 1; d < rank; ++d) inner *= std::size_t(x.shape[d]);
  const std::vector<std::int64_t> index = gather_indices(n, indices.ints, extent);
  const std::size_t count = index.size();
  return gathered(n, x, shape, [&](std::size_t i) {
    const std::size_t k = i % inner, j = (i / inner) % count, o = i / inner / count;
    return (o * std::size_t(extent) + std::size_t(index[j])) * inner + k;
  });
}

HostTensor fold_slice(const Node& n, const std::vector<const HostTensor*>& in) {
  const HostTensor& x = required(n, in, 0);
  const std::vector<SliceAxis> axes = slice_axes(n, x.shape);
  Shape shape;
  for (const SliceAxis& s : axes) shape.push_back(s.count);
  const std::vector<std::int64_t> strides = [&] {
    std::vector<std::int64_t> s(x.shape.size(), 1);
    for (std::size_t d = s.size(); d-- > 1;) s[d - 1] = s[d] * x.shape[d];
    return s;
  }();
  return gathered(n, x, shape, [&](std::size_t i) {
    std::int64_t offset = 0;
    for (std::size_t d = shape.size(); d-- > 0;) {
      const auto c = std::int64_t(i % std::size_t(shape[d]));
      i /= std::size_t(shape[d]);
      offset += (axes[d].start + c * axes[d].step) * strides[d];
    }
    return std::size_t(offset);
  });
}

HostTensor fold_transpose(const Node& n, const std::vector<const HostTensor*>& in) {
  const HostTensor& x = required(n, in, 0);
  const std::size_t rank = x.shape.size();
  Ints perm = n.ints("perm", 0, std::int64_t(rank) - 1);
  if (!n.has("perm"))
    for (std::size_t d = rank; d-- > 0;) perm.push_back(std::int64_t(d));
  std::vector<bool> seen(rank, false);
  for (std::int64_t p : perm) {
    if (seen[std::size_t(p)]) n.invalid("perm repeats " + std::to_string(p));
    seen[std::size_t(p)] = true;
  }
  if (perm.size() != rank) n.invalid("perm does not name every axis of " + to_string(x.shape));
  Shape shape;
  for (std::int64_t p : perm) shape.push_back(x.shape[std::size_t(p)]);
  std::vector<std::size_t> strides(rank, 1);
  for (std::size_t d = rank; d-- > 1;) strides[d - 1] = strides[d] * std::size_t(x.shape[d]);
  return gathered(n, x, shape, [&](std::size_t i) {
    std::size_t offset = 0;
    for (std::size_t d = rank; d-- > 0;) {
      offset += (i % std::size_t(shape[d])) * strides[std::size_t(perm[d])];
      i /= std::size_t(shape[d]);
    }
    return offset;
  });
}

// ScatterND: a copy of data where each index tuple (the last extent of indices, k of them) names
// a slice of data's trailing rank - k dimensions that the matching slice of updates replaces (or
// adds to, multiplies, or keeps the larger or smaller of: `reduction`).
HostTensor fold_scatter_nd(const Node& n, const std::vector<const HostTensor*>& in) {
  HostTensor out = required(n, in, 0);
  const HostTensor &indices = integers(n, in, 1), &updates = required(n, in, 2);
  const std::string reduction = n.text("reduction", "none", {"none", "add", "mul", "max", "min"});
  if (updates.type != out.type) n.invalid("updates differ from data in element type");
  if (indices.shape.empty()) n.invalid("indices must have at least one dimension");
  const auto k = std::size_t(indices.shape.back());
  const std::size_t rank = out.shape.size();
  if (k < 1 || k > rank)
    n.invalid("index tuples of " + std::to_string(k) + " for rank " + std::to_string(rank));
  Shape expected(indices.shape.begin(), indices.shape.end() - 1);
  expected.insert(expected.end(), out.shape.begin() + std::ptrdiff_t(k), out.shape.end());
  if (updates.shape != expected)
    n.invalid("updates " + to_string(updates.shape) + " should be " + to_string(expected));
  std::size_t slice = 1;
  for (std::size_t d = k; d < rank; ++d) slice *= std::size_t(out.shape[d]);
  const std::size_t tuples = indices.ints.size() / k;
  for (std::size_t t = 0; t < tuples; ++t) {
    std::size_t at = 0;
    for (std::size_t d = 0; d < k; ++d) {
      std::int64_t i = indices.ints[t * k + d];
      const std::int64_t extent = out.shape[d];
      if (i < -extent || i >= extent) n.invalid("index " + std::to_string(i) + " is out of range");
      at = at * std::size_t(extent) + std::size_t(i < 0 ? i + extent : i);
    }
    for (std::size_t j = 0; j < slice; ++j) {
      const std::size_t to = at * slice + j, from = t * slice + j;
      if (out.is_float()) {
        float& v = out.floats[to];
        const float u = updates.floats[from];
        v = reduction == "add"   ? v + u
            : reduction == "mul" ? v * u
            : reduction == "max" ? std::max(v, u)
            : reduction == "min" ? std::min(v, u)
                                 : u;
      } else {
        std::int64_t& v = out.ints[to];
        const std::int64_t u = updates.ints[from];
        v = reduction == "add"   ? (CheckedInt(v) + u).value()
            : reduction == "mul" ? (CheckedInt(v) * u).value()
            : reduction == "max" ? std::max(v, u)
            : reduction == "min" ? std::min(v, u)
                                 : u;
      }
    }
  }
  return out;
}

HostTensor fold_expand(const Node& n, const std::vector<const HostTensor*>& in) {
  const HostTensor& x = required(n, in, 0);
  const HostTensor& dims = integers(n, in, 1);
  const Shape shape = broadcast(n, x.shape, Shape(dims.ints.begin(), dims.ints.end()));
  checked_count(n, shape);
  const auto src = broadcast_sources(shape, x.shape);
  return gathered(n, x, shape, [&](std::size_t i) { return src[i]; });
}

using Folder = HostTensor (*)(const Node&, const std::vector<const HostTensor*>&);

const std::map<std::string, Folder> kFolders{
    {"Add", fold_arithmetic},
    {"Sub", fold_arithmetic},
    {"Mul", fold_arithmetic},
    {"Div", fold_arithmetic},
    {"Mod", fold_mod},
    {"Pow", fold_pow},
    {"Equal", fold_compare},
    {"Less", fold_compare},
    {"LessOrEqual", fold_compare},
    {"Greater", fold_compare},
    {"GreaterOrEqual", fold_compare},
    {"And", fold_compare},
    {"Or", fold_compare},
    {"Xor", fold_compare},
    {"Not", fold_unary},
    {"Neg", fold_unary},
    {"Abs", fold_unary},
    {"Floor", fold_rounding},
    {"Ceil", fold_rounding},
    {"Sqrt", fold_rounding},
    {"Min", fold_variadic},
    {"Max", fold_variadic},
    {"Sum", fold_variadic},
    {"Mean", fold_variadic},
    {"Where", fold_where},
    {"Cast", fold_cast},
    {"CastLike", fold_cast_like},
    {"ConstantOfShape", fold_constant_of_shape},
    {"Range", fold_range},
    {"Reshape", fold_reshape},
    {"Unsqueeze", fold_unsqueeze},
    {"Squeeze", fold_unsqueeze},
    {"Concat", fold_concat},
    {"Gather", fold_gather},
    {"Slice", fold_slice},
    {"Expand", fold_expand},
    {"Transpose", fold_transpose},
    {"ScatterND", fold_scatter_nd},
    {"Identity",
     [](const Node& n, const std::vector<const HostTensor*>& in) { return required(n, in, 0); }},
};

}  // namespace

std::optional<HostTensor> fold(const Node& n) {
  const std::string& op = n.proto().op_type();
  if (op == "Shape" || op == "Size") return fold_shape(n);
  auto folder = kFolders.find(op);
  if (folder == kFolders.end()) return std::nullopt;
  // Reshape before opset 5 took its shape as an attribute.
  if (op == "Reshape" && n.opset() < 5) return std::nullopt;
  auto in = known_inputs(n);
  if (!in || in->empty() || !(*in)[0]) return std::nullopt;
  return folder->second(n, *in);
}

std::vector<std::size_t> node_axes(const Node& n, const std::string& name, int input,
                                   std::int64_t input_from, std::size_t rank) {
  const auto r = std::int64_t(rank);
  Ints given = n.opset() >= input_from ? (n.has_input(input) ? n.constant_ints(input) : Ints{})
                                       : n.ints(name, -r, r - 1);
  std::vector<std::size_t> axes;
  for (std::int64_t a : given) {
    if (a < -r || a >= r)
      n.invalid("axis " + std::to_string(a) + " is out of range for rank " + std::to_string(rank));
    const auto axis = std::size_t(a < 0 ? a + r : a);
    if (std::count(axes.begin(), axes.end(), axis))
      n.invalid("axis " + std::to_string(a) + " repeats");
    axes.push_back(axis);
  }
  return axes;
}

Shape squeezed_shape(const Node& n, const Shape& in) {
  const std::size_t rank = in.size();
  Shape shape;
  if (n.proto().op_type() == "Unsqueeze") {
    const std::size_t added =
        n.opset() >= 13 ? n.constant_ints(1).size() : n.ints("axes", -64, 64).size();
    const auto axes = node_axes(n, "axes", 1, 13, rank + added);
    for (std::size_t d = 0, k = 0; d < rank + added; ++d)
      shape.push_back(std::count(axes.begin(), axes.end(), d) ? 1 : in[k++]);
    return shape;
  }
  const auto axes = node_axes(n, "axes", 1, 13, rank);
  for (std::size_t d = 0; d < rank; ++d) {
    const bool named = std::count(axes.begin(), axes.end(), d) != 0;
    if (named && in[d] != 1) n.invalid("squeezing an axis of extent " + std::to_string(in[d]));
    if (!(named || (axes.empty() && in[d] == 1))) shape.push_back(in[d]);
  }
  return shape;
}

std::vector<SliceAxis> slice_axes(const Node& n, const Shape& shape) {
  const std::size_t rank = shape.size();
  Ints starts, ends, steps;
  std::vector<std::size_t> axes;
  if (n.opset() >= 10) {
    starts = n.constant_ints(1);
    ends = n.constant_ints(2);
    if (n.has_input(3)) axes = node_axes(n, "axes", 3, 10, rank);
    if (n.has_input(4)) steps = n.constant_ints(4);
  } else {
    starts = n.ints("starts", std::numeric_limits<std::int64_t>::min(),
                    std::numeric_limits<std::int64_t>::max());
    ends = n.ints("ends", std::numeric_limits<std::int64_t>::min(),
                  std::numeric_limits<std::int64_t>::max());
    axes = node_axes(n, "axes", 3, 10, rank);
  }
  if (axes.empty())
    for (std::size_t d = 0; d < starts.size() && d < rank; ++d) axes.push_back(d);
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (starts.size() != ends.size() || starts.size() != axes.size() || steps.size() != axes.size())
    n.invalid("starts, ends, axes and steps differ in length");
  std::vector<SliceAxis> out(rank);
  for (std::size_t d = 0; d < rank; ++d) out[d] = {0, 1, shape[d]};
  for (std::size_t k = 0; k < axes.size(); ++k)
    out[axes[k]] = clnn::detail::slice_range(shape[axes[k]], starts[k], ends[k], steps[k]);
  return out;
}

}  // namespace clnn::onnx::detail
