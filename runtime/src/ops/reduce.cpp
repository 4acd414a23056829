// sum and mean over axes. A node reduces one contiguous run of axes; the builders split any set
// of axes into such runs, innermost first.
#include <algorithm>
#include <memory>
#include <set>

#include "clnn/ops.hpp"
#include "ops/common.hpp"
#include "ops/op.hpp"
#include "ops/shape_util.hpp"

namespace clnn::detail {

namespace {

class SumOp : public Op {
 public:
  SumOp(std::size_t begin, std::size_t end, bool keep_dims, bool mean)
      : begin_(begin), end_(end), keep_dims_(keep_dims), mean_(mean) {}
  std::string type() const override { return mean_ ? "mean" : "sum"; }

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
    reduce_middle(args.ctx, *args.inputs[0], nullptr, args.output, v, scale(v), 0.0f);
  }

  void backward(const BackwardArgs& args) const override {
    if (Tensor* gx = args.grad_inputs[0]) {
      auto v = middle_axis(gx->shape(), begin_, end_);
      broadcast_middle(args.ctx, args.grad_output, *gx, v, scale(v), args.betas[0]);
    }
  }

  Needs backward_needs() const override { return {false, false}; }

  bool to_onnx(OnnxNode& node) const override {
    std::vector<std::int64_t> axes;
    for (std::size_t d = begin_; d < end_; ++d) axes.push_back(std::int64_t(d));
    node.ints["keepdims"] = keep_dims_ ? 1 : 0;
    if (mean_) {
      node.op_type = "ReduceMean";  // opset 13: axes is an attribute
      node.int_lists["axes"] = axes;
    } else {
      node.op_type = "ReduceSum";  // opset 13: axes is an input
      node.int_inputs = {axes};
    }
    return !axes.empty();
  }

 private:
  float scale(const MiddleAxis& v) const { return mean_ ? 1.0f / float(v.r) : 1.0f; }
  std::size_t begin_, end_;
  bool keep_dims_, mean_;
};

Value reduce(const Value& v, const std::vector<int>& axes, bool keep_dims, bool mean) {
  const std::size_t rank = v.shape().size();
  const std::string op = mean ? "mean" : "sum";
  std::set<std::size_t> chosen;
  for (int axis : axes) chosen.insert(normalize_axis(axis, rank, op));
  if (axes.empty())
    for (std::size_t d = 0; d < rank; ++d) chosen.insert(d);
  Value out = v;
  if (chosen.empty())  // a scalar: nothing to reduce, but the result is still a new node
    return GraphAccess::add(std::make_shared<SumOp>(0, 0, keep_dims, mean), {v});
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
    out = GraphAccess::add(std::make_shared<SumOp>(begin, end, keep_dims, mean), {out});
  return out;
}

}  // namespace

}  // namespace clnn::detail

namespace clnn {

Value sum(const Value& v, const std::vector<int>& axes, bool keep_dims) {
  return detail::reduce(v, axes, keep_dims, false);
}
Value mean(const Value& v, const std::vector<int>& axes, bool keep_dims) {
  return detail::reduce(v, axes, keep_dims, true);
}

}  // namespace clnn
