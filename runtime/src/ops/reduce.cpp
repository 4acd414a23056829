// sum, mean, max, min and prod over axes. A node reduces one contiguous run of axes; the builders
// split any set of axes into such runs, innermost first.
#include <algorithm>
#include <memory>
#include <set>

#include "cl/kernel_call.hpp"
#include "clnn/ops.hpp"
#include "context_impl.hpp"
#include "kernel_codes.h"
#include "ops/common.hpp"
#include "ops/op.hpp"
#include "ops/shape_util.hpp"

namespace clnn::detail {

namespace {

enum class Reduce { sum, mean, max, min, prod };

const char* reduce_name(Reduce kind) {
  static const char* names[] = {"sum", "mean", "max", "min", "prod"};
  return names[int(kind)];
}

// The REDUCE_ code of kernel_codes.h for max, min and prod.
int combine_code(Reduce kind) {
  return kind == Reduce::max ? REDUCE_MAX : kind == Reduce::min ? REDUCE_MIN : REDUCE_PROD;
}

class ReduceOp : public Op {
 public:
  ReduceOp(std::size_t begin, std::size_t end, bool keep_dims, Reduce kind)
      : begin_(begin), end_(end), keep_dims_(keep_dims), kind_(kind) {}
  std::string type() const override { return reduce_name(kind_); }

  Shape infer_shape(const std::vector<Shape>& in) const override {
    Shape out;
    for (std::size_t d = 0; d < in[0].size(); ++d) {
      if (d < begin_ || d >= end_)
        out.push_back(in[0][d]);
      else if (keep_dims_)
        out.push_back(1);
    }
    return out;
  }

  void forward(const ForwardArgs& args) const override {
    auto v = middle_axis(args.inputs[0]->shape(), begin_, end_);
    if (summing())
      reduce_middle(args.ctx, *args.inputs[0], nullptr, args.output, v, scale(v), 0.0f);
    else
      combine_middle(args.ctx, combine_code(kind_), *args.inputs[0], args.output, v);
  }

  void backward(const BackwardArgs& args) const override {
    Tensor* gx = args.grad_inputs[0];
    if (!gx) return;
    auto v = middle_axis(gx->shape(), begin_, end_);
    if (summing())
      return broadcast_middle(args.ctx, args.grad_output, *gx, v, scale(v), args.betas[0]);
    cl_kernel k = args.ctx.kernel("reduce", "reduce_select_backward",
                                  "-DREDUCE_OP=" + std::to_string(combine_code(kind_)));
    set_args(k, mem(*args.inputs[0]), mem(args.output), mem(args.grad_output), mem(*gx),
             cl_ulong(v.outer), cl_ulong(v.r), cl_ulong(v.inner), args.betas[0]);
    args.ctx.enqueue_elementwise(k, std::size_t(gx->size()));
  }

  // max, min and prod read x and y to route the gradient.
  Needs backward_needs() const override { return {!summing(), !summing()}; }

  bool to_onnx(OnnxNode& node) const override {
    std::vector<std::int64_t> axes;
    for (std::size_t d = begin_; d < end_; ++d) axes.push_back(std::int64_t(d));
    node.ints["keepdims"] = keep_dims_ ? 1 : 0;
    static const char* onnx[] = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd"};
    node.op_type = onnx[int(kind_)];
    if (kind_ == Reduce::sum)
      node.int_inputs = {axes};  // opset 13: ReduceSum's axes are an input, the others' not
    else
      node.int_lists["axes"] = axes;
    return !axes.empty();
  }

 private:
  bool summing() const { return kind_ == Reduce::sum || kind_ == Reduce::mean; }
  float scale(const MiddleAxis& v) const {
    return kind_ == Reduce::mean ? 1.0f / float(v.r) : 1.0f;
  }
  std::size_t begin_, end_;
  bool keep_dims_;
  Reduce kind_;
};

// 0, 1, ... along one axis of v's shape, extent 1 elsewhere; reads nothing of v.
class PositionsOp : public Op {
 public:
  explicit PositionsOp(int axis) : axis_(axis) {}
  std::string type() const override { return "positions"; }
  Shape infer_shape(const std::vector<Shape>& in) const override {
    const std::size_t axis = normalize_axis(axis_, in[0].size(), type());
    Shape out(in[0].size(), 1);
    out[axis] = in[0][axis];
    return out;
  }
  void forward(const ForwardArgs& args) const override {
    cl_kernel k = args.ctx.kernel("elementwise", "iota");
    set_args(k, mem(args.output), count(args.output));
    args.ctx.enqueue_elementwise(k, std::size_t(args.output.size()));
  }
  void backward(const BackwardArgs&) const override {}
  Needs backward_needs() const override { return {false, false}; }
  bool differentiable(std::size_t) const override { return false; }

 private:
  int axis_;
};

Value reduce(const Value& v, const std::vector<int>& axes, bool keep_dims, Reduce kind) {
  const std::size_t rank = v.shape().size();
  const std::string op = reduce_name(kind);
  std::set<std::size_t> chosen;
  for (int axis : axes) chosen.insert(normalize_axis(axis, rank, op));
  if (axes.empty())
    for (std::size_t d = 0; d < rank; ++d) chosen.insert(d);
  Value out = v;
  if (chosen.empty())  // a scalar: nothing to reduce, but the result is still a new node
    return GraphAccess::add(std::make_shared<ReduceOp>(0, 0, keep_dims, kind), {v});
  // Runs of consecutive axes, reduced from the last so earlier axis numbers stay valid.
  std::vector<std::pair<std::size_t, std::size_t>> runs;
  for (std::size_t d : chosen) {
    if (!runs.empty() && runs.back().second == d)
      runs.back().second = d + 1;
    else
      runs.emplace_back(d, d + 1);
  }
  std::reverse(runs.begin(), runs.end());
  for (auto [begin, end] : runs)
    out = GraphAccess::add(std::make_shared<ReduceOp>(begin, end, keep_dims, kind), {out});
  return out;
}

}  // namespace

}  // namespace clnn::detail

namespace clnn {

Value sum(const Value& v, const std::vector<int>& axes, bool keep_dims) {
  return detail::reduce(v, axes, keep_dims, detail::Reduce::sum);
}
Value mean(const Value& v, const std::vector<int>& axes, bool keep_dims) {
  return detail::reduce(v, axes, keep_dims, detail::Reduce::mean);
}
Value positions(const Value& v, int axis) {
  return GraphAccess::add(std::make_shared<detail::PositionsOp>(axis), {v});
}

namespace {

// The first (or last) position along `axis` where v equals its extremum: the smallest (largest)
// position among the matches, so every step is a parallel reduction.
Value arg_extremum(const Value& v, int axis, bool keep_dims, bool last, bool max) {
  const Value top = max ? reduce_max(v, {axis}, true) : reduce_min(v, {axis}, true);
  const Value at = positions(v, axis);
  const float extent = float(v.shape()[detail::normalize_axis(axis, v.shape().size(), "argmax")]);
  // Positions that do not match read past the axis (first) or before it (last).
  const Value miss = add(scale(at, 0.0f), last ? -1.0f : extent);
  const Value candidates = where(equal(v, top), at, miss);
  return last ? reduce_max(candidates, {axis}, keep_dims)
              : reduce_min(candidates, {axis}, keep_dims);
}

}  // namespace

Value argmax(const Value& v, int axis, bool keep_dims, bool last) {
  return arg_extremum(v, axis, keep_dims, last, true);
}
Value argmin(const Value& v, int axis, bool keep_dims, bool last) {
  return arg_extremum(v, axis, keep_dims, last, false);
}

Value reduce_max(const Value& v, const std::vector<int>& axes, bool keep_dims) {
  return detail::reduce(v, axes, keep_dims, detail::Reduce::max);
}
Value reduce_min(const Value& v, const std::vector<int>& axes, bool keep_dims) {
  return detail::reduce(v, axes, keep_dims, detail::Reduce::min);
}
Value reduce_prod(const Value& v, const std::vector<int>& axes, bool keep_dims) {
  return detail::reduce(v, axes, keep_dims, detail::Reduce::prod);
}

}  // namespace clnn
