// slice, pad, expand, tile and split: copies where each output coordinate reads an affine
// function of one input coordinate (elementwise.cl's `window` kernel). Slice and constant
// padding are one-to-one, so each one's gradient is the other's window; expand's gradient sums
// over the broadcast axes (the reduction engine); tile, split and the reflect and edge pads are
// built from these.
#include "ops/window.hpp"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <memory>

#include "checked_int.hpp"
#include "cl/kernel_call.hpp"
#include "clnn/ops.hpp"
#include "context_impl.hpp"
#include "ops/common.hpp"
#include "ops/op.hpp"
#include "ops/shape_util.hpp"

namespace clnn::detail {

namespace {

constexpr std::size_t kMaxWindowRank = 8;

// Input coordinate = (output coordinate * mul + add) / div, per axis.
struct AxisMap {
  std::int64_t mul = 1, add = 0, div = 1;
};

// One axis of a window launch: output extent, input extent and the map between them.
struct WindowAxis {
  std::int64_t out, in;
  AxisMap map;
};

bool is_identity(const WindowAxis& a) {
  return a.map.mul == 1 && a.map.add == 0 && a.map.div == 1 && a.out == a.in;
}

// The axes with each one merged into the one inside it where the two read as one run: the inner
// axis is copied whole and the outer one is shifted by whole rows (mul 1, div 1: slices along it,
// padding of it), or both are broadcast. A slice of [32, 56, 56, 96] along its second axis is two
// axes so, not four.
std::vector<WindowAxis> merged(std::vector<WindowAxis> axes) {
  std::vector<WindowAxis> out;  // innermost first
  for (std::size_t k = axes.size(); k-- > 0;) {
    WindowAxis a = axes[k];
    if (a.out == 1 && a.in == 1 && a.map.add == 0) continue;  // always coordinate 0
    if (!out.empty()) {
      WindowAxis& inner = out.back();
      if (is_identity(inner) && a.map.mul == 1 && a.map.div == 1) {
        inner = {a.out * inner.out, a.in * inner.in, {1, a.map.add * inner.in, 1}};
        continue;
      }
      const bool broadcasts = a.map.mul == 0 && a.map.add == 0 && a.in == 1;
      if (broadcasts && inner.map.mul == 0 && inner.map.add == 0 && inner.in == 1) {
        inner.out *= a.out;
        continue;
      }
    }
    out.push_back(a);
  }
  std::reverse(out.begin(), out.end());
  return out;
}

// Whether every coordinate and offset of a window fits the kernel's 32-bit arithmetic.
bool fits_int32(const std::vector<WindowAxis>& axes, std::int64_t out_size, std::int64_t in_size) {
  constexpr std::int64_t limit = std::numeric_limits<std::int32_t>::max();
  if (out_size > limit || in_size > limit) return false;
  for (const WindowAxis& a : axes) {
    if (std::abs(a.map.mul) > limit || std::abs(a.map.add) > limit || std::abs(a.map.div) > limit ||
        std::abs(a.map.mul) * a.out + std::abs(a.map.add) > limit)
      return false;
  }
  return true;
}

// y = beta * y + x (of shape x_shape, y's rank) read through `maps`.
void window(ContextImpl& ctx, const Tensor& x, const Shape& x_shape, const Tensor& y,
            const std::vector<AxisMap>& maps, float pad, float beta) {
  std::vector<WindowAxis> axes;
  for (std::size_t d = 0; d < maps.size(); ++d) axes.push_back({y.shape()[d], x_shape[d], maps[d]});
  axes = merged(std::move(axes));
  // Four at a time where the innermost axis moves whole float4s: copied without a step, its
  // extents and shift multiples of 4 (each float4 then lies wholly inside or outside x).
  const bool float4s = !axes.empty() && axes.back().map.mul == 1 && axes.back().map.div == 1 &&
                       axes.back().out % 4 == 0 && axes.back().in % 4 == 0 &&
                       axes.back().map.add % 4 == 0;
  if (float4s) {
    axes.back().out /= 4;
    axes.back().in /= 4;
    axes.back().map.add /= 4;
  }
  const std::int64_t unit = float4s ? 4 : 1, n = y.size() / unit;
  Shape out_dims, in_dims;
  std::vector<std::int64_t> mul, add, div;
  for (const WindowAxis& a : axes) {
    out_dims.push_back(a.out);
    in_dims.push_back(a.in);
    mul.push_back(a.map.mul);
    add.push_back(a.map.add);
    div.push_back(a.map.div);
  }
  const bool narrow = fits_int32(axes, n, element_count(x_shape, "window") / unit);
  cl_kernel k = ctx.kernel("elementwise", float4s ? "window4" : "window");
  set_args(k, mem(x), mem(y), cl_ulong(n), cl_int(axes.size()), pack_long8(out_dims),
           pack_long8(in_dims), pack_long8(row_major_strides(in_dims)), pack_long8(mul),
           pack_long8(add), pack_long8(div), pad, beta, cl_int(narrow));
  ctx.enqueue_elementwise(k, std::size_t(n));
}

void check_rank(const std::string& op, const Shape& shape) {
  if (shape.size() > kMaxWindowRank || shape.empty())
    throw ShapeError(op + ": rank " + std::to_string(shape.size()) + " (takes 1 to 8)");
}

// Slice (steps of any sign) and constant padding: output coordinate o reads input coordinate
// o * step + start, or the pad value outside the input.
class AffineWindowOp : public Op {
 public:
  AffineWindowOp(std::string name, Shape in, std::vector<SliceAxis> axes, float pad)
      : name_(std::move(name)), in_(std::move(in)), axes_(std::move(axes)), pad_(pad) {}
  std::string type() const override { return name_; }

  Shape infer_shape(const std::vector<Shape>& in) const override {
    if (in[0] != in_)
      throw ShapeError(shape_mismatch(name_, "built for another input shape", in[0], in_));
    Shape out;
    for (const SliceAxis& a : axes_) {
      if (a.count <= 0) throw ShapeError(name_ + ": an empty result from " + to_string(in_));
      out.push_back(a.count);
    }
    check_rank(name_, out);
    return out;
  }

  void forward(const ForwardArgs& args) const override {
    std::vector<AxisMap> maps;
    for (const SliceAxis& a : axes_) maps.push_back({a.step, a.start, 1});
    window(args.ctx, *args.inputs[0], in_, args.output, maps, pad_, 0.0f);
  }

  void backward(const BackwardArgs& args) const override {
    Tensor* gx = args.grad_inputs[0];
    if (!gx) return;
    // Input coordinate i came from output coordinate (i - start) / step where that divides.
    std::vector<AxisMap> maps;
    for (const SliceAxis& a : axes_) maps.push_back({1, -a.start, a.step});
    window(args.ctx, args.grad_output, args.grad_output.shape(), *gx, maps, 0.0f, args.betas[0]);
  }

  Needs backward_needs() const override { return {false, false}; }
  bool view_of_input(StridedView& view) const override {
    return name_ == "slice" && view.shape() == in_ && view.slice(axes_);
  }

  bool to_onnx(OnnxNode& node) const override {
    std::vector<std::int64_t> starts, ends, axes, steps, pads_begin, pads_end;
    const bool padding = name_ == "pad";
    for (std::size_t d = 0; d < axes_.size(); ++d) {
      const SliceAxis& a = axes_[d];
      if (padding) {
        pads_begin.push_back(-a.start);
        pads_end.push_back(a.count - in_[d] + a.start);
        continue;
      }
      if (a.start == 0 && a.step == 1 && a.count == in_[d]) continue;
      const std::int64_t end = a.start + a.count * a.step;
      starts.push_back(a.start);
      // Past the front, ONNX needs an end below -extent (-1 would count from the back).
      ends.push_back(end < 0 ? std::numeric_limits<std::int64_t>::min() : end);
      axes.push_back(std::int64_t(d));
      steps.push_back(a.step);
    }
    node.op_type = padding ? "Pad" : "Slice";
    if (padding) {
      pads_begin.insert(pads_begin.end(), pads_end.begin(), pads_end.end());
      node.int_inputs = {pads_begin};
      node.float_inputs = {pad_};
    } else {
      node.int_inputs = {starts, ends, axes, steps};
    }
    return true;
  }

 private:
  std::string name_;
  Shape in_;
  std::vector<SliceAxis> axes_;
  float pad_;
};

// numpy broadcasting of x to a shape; the gradient sums over the broadcast axes.
class ExpandOp : public Op {
 public:
  explicit ExpandOp(Shape target) : target_(std::move(target)) {}
  std::string type() const override { return "expand"; }

  Shape infer_shape(const std::vector<Shape>& in) const override {
    const Shape& x = in[0];
    for (std::int64_t d : target_)
      if (d <= 0) throw ShapeError(shape_mismatch("expand", "bad target extent", x, target_));
    const std::optional<Shape> broadcast = broadcast_shapes(x, target_);
    if (!broadcast)
      throw ShapeError(shape_mismatch("expand", "shapes do not broadcast", x, target_));
    const Shape& out = *broadcast;
    check_rank("expand", out);
    element_count(out, "expand");
    return out;
  }

  void forward(const ForwardArgs& args) const override {
    const Shape in = aligned(args.inputs[0]->shape(), args.output.shape());
    std::vector<AxisMap> maps;
    for (std::size_t d = 0; d < in.size(); ++d) maps.push_back({in[d] == 1 ? 0 : 1, 0, 1});
    // x is read through its shape aligned to the output's rank: same elements, leading 1s.
    window(args.ctx, *args.inputs[0], in, args.output, maps, 0.0f, 0.0f);
  }

  void backward(const BackwardArgs& args) const override {
    Tensor* gx = args.grad_inputs[0];
    if (!gx) return;
    const Shape& out = args.grad_output.shape();
    sum_to_shape(args.ctx, args.grad_output, out, *gx, aligned(gx->shape(), out), args.betas[0]);
  }

  Needs backward_needs() const override { return {false, false}; }

  bool to_onnx(OnnxNode& node) const override {
    node.op_type = "Expand";
    node.int_inputs = {target_};
    return true;
  }

 private:
  static Shape aligned(const Shape& x, const Shape& out) {
    Shape s(out.size() - x.size(), 1);
    s.insert(s.end(), x.begin(), x.end());
    return s;
  }
  Shape target_;
};

Value affine_window(const std::string& name, const Value& v, std::vector<SliceAxis> axes,
                    float pad) {
  return GraphAccess::add(std::make_shared<AffineWindowOp>(name, v.shape(), std::move(axes), pad),
                          {v});
}

std::size_t checked_axis(const std::string& op, int axis, std::size_t rank) {
  return normalize_axis(axis, rank, op);
}

// One axis of v sliced, the others whole.
Value slice_axis(const Value& v, std::size_t axis, SliceAxis range) {
  std::vector<SliceAxis> axes;
  for (std::int64_t extent : v.shape()) axes.push_back({0, 1, extent});
  axes[axis] = range;
  return affine_window("slice", v, axes, 0.0f);
}

}  // namespace

Value sliced(const Value& v, std::vector<SliceAxis> axes) {
  return affine_window("slice", v, std::move(axes), 0.0f);
}

SliceAxis slice_range(std::int64_t extent, std::int64_t start, std::int64_t end,
                      std::int64_t step) {
  if (step == 0 || step == std::numeric_limits<std::int64_t>::min())
    throw ShapeError("slice: step " + std::to_string(step) + " is not allowed");
  if (start < 0) start += extent;
  if (end < 0) end += extent;
  if (step > 0) {
    start = std::clamp<std::int64_t>(start, 0, extent);
    end = std::clamp<std::int64_t>(end, 0, extent);
  } else {
    start = std::clamp<std::int64_t>(start, 0, extent - 1);
    end = std::clamp<std::int64_t>(end, -1, extent - 1);
  }
  // Both ends lie in [-1, extent]: the distance cannot overflow.
  const std::int64_t span = step > 0 ? end - start : start - end;
  const std::int64_t stride = step > 0 ? step : -step;
  return {start, step, span <= 0 ? 0 : 1 + (span - 1) / stride};
}

}  // namespace clnn::detail

namespace clnn {

using detail::SliceAxis;

Value slice(const Value& v, const std::vector<int>& axes, const std::vector<std::int64_t>& starts,
            const std::vector<std::int64_t>& ends, const std::vector<std::int64_t>& steps) {
  const Shape& shape = v.shape();
  if (starts.size() != axes.size() || ends.size() != axes.size() ||
      (!steps.empty() && steps.size() != axes.size()))
    throw ShapeError("slice: axes, starts, ends and steps differ in length");
  std::vector<SliceAxis> ranges;
  for (std::int64_t extent : shape) ranges.push_back({0, 1, extent});
  std::vector<bool> seen(shape.size(), false);
  for (std::size_t k = 0; k < axes.size(); ++k) {
    const std::size_t d = detail::checked_axis("slice", axes[k], shape.size());
    if (seen[d]) throw ShapeError("slice: axis " + std::to_string(axes[k]) + " repeats");
    seen[d] = true;
    ranges[d] = detail::slice_range(shape[d], starts[k], ends[k], steps.empty() ? 1 : steps[k]);
  }
  return detail::affine_window("slice", v, ranges, 0.0f);
}

Value pad(const Value& v, const std::vector<std::int64_t>& begin,
          const std::vector<std::int64_t>& end, PadMode mode, float value) {
  const Shape& shape = v.shape();
  if (begin.size() != shape.size() || end.size() != shape.size())
    throw ShapeError("pad: " + std::to_string(begin.size()) + " and " + std::to_string(end.size()) +
                     " pads for " + to_string(shape) + " (one pair per axis)");
  if (mode == PadMode::constant) {
    std::vector<SliceAxis> axes;
    for (std::size_t d = 0; d < shape.size(); ++d) {
      const std::int64_t count = (detail::CheckedInt(shape[d]) + begin[d] + end[d]).value();
      axes.push_back({-begin[d], 1, count});
    }
    return detail::affine_window("pad", v, axes, value);
  }
  // Reflect and edge: each padded axis becomes a concat of reversed slices or repeated edges
  // around the input (negative pads crop first).
  Value out = v;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (begin[d] < 0 || end[d] < 0) {
      const std::int64_t extent = out.shape()[d];
      out = detail::slice_axis(out, d,
                               detail::slice_range(extent, std::max<std::int64_t>(0, -begin[d]),
                                                   extent + std::min<std::int64_t>(0, end[d]), 1));
    }
    const std::int64_t b = std::max<std::int64_t>(0, begin[d]);
    const std::int64_t e = std::max<std::int64_t>(0, end[d]);
    if (b == 0 && e == 0) continue;
    const std::int64_t extent = out.shape()[d];
    if (mode == PadMode::reflect && (b >= extent || e >= extent))
      throw ShapeError("pad: reflecting " + std::to_string(std::max(b, e)) +
                       " elements of an axis of " + std::to_string(extent));
    std::vector<Value> parts;
    auto edge = [&](std::int64_t at, std::int64_t count) {
      Shape target = out.shape();
      target[d] = count;
      return expand(detail::slice_axis(out, d, {at, 1, 1}), target);
    };
    if (b > 0)
      parts.push_back(mode == PadMode::edge ? edge(0, b) : detail::slice_axis(out, d, {b, -1, b}));
    parts.push_back(out);
    if (e > 0)
      parts.push_back(mode == PadMode::edge ? edge(extent - 1, e)
                                            : detail::slice_axis(out, d, {extent - 2, -1, e}));
    out = concat(parts, int(d));
  }
  return out;
}

Value expand(const Value& v, const Shape& shape) {
  return GraphAccess::add(std::make_shared<detail::ExpandOp>(shape), {v});
}

Value tile(const Value& v, const std::vector<std::int64_t>& repeats) {
  const Shape& shape = v.shape();
  if (repeats.size() != shape.size())
    throw ShapeError("tile: " + std::to_string(repeats.size()) + " repeats for " +
                     to_string(shape));
  // [a0, a1] tiled by [r0, r1] is [1, a0, 1, a1] expanded to [r0, a0, r1, a1], reshaped; only
  // repeated axes get their extra dimension.
  Shape spread, target, out;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (repeats[d] < 1) throw ShapeError("tile: repeat " + std::to_string(repeats[d]));
    if (repeats[d] > 1) {
      spread.push_back(1);
      target.push_back(repeats[d]);
    }
    spread.push_back(shape[d]);
    target.push_back(shape[d]);
    out.push_back((detail::CheckedInt(shape[d]) * repeats[d]).value());
  }
  return reshape(expand(reshape(v, spread), target), out);
}

std::vector<Value> split(const Value& v, int axis, const std::vector<std::int64_t>& sizes) {
  const std::size_t d = detail::checked_axis("split", axis, v.shape().size());
  std::int64_t at = 0;
  std::vector<Value> parts;
  for (std::int64_t size : sizes) {
    if (size < 1 || size > v.shape()[d] - at)
      throw ShapeError("split: sizes " + to_string(sizes) + " do not fit axis " +
                       std::to_string(axis) + " of " + to_string(v.shape()));
    parts.push_back(detail::slice_axis(v, d, {at, 1, size}));
    at += size;
  }
  if (at != v.shape()[d])
    throw ShapeError("split: sizes " + to_string(sizes) + " do not cover axis " +
                     std::to_string(axis) + " of " + to_string(v.shape()));
  return parts;
}

}  // namespace clnn
