// Losses: mse_loss and the fused, stable softmax_cross_entropy. Both give a scalar.
#include <memory>

#include "cl/kernel_call.hpp"
#include "clnn/error.hpp"
#include "clnn/ops.hpp"
#include "context_impl.hpp"
#include "kernel_codes.h"
#include "ops/common.hpp"
#include "ops/op.hpp"

namespace clnn::detail {

namespace {

class MseLossOp : public Op {
 public:
  std::string type() const override { return "mse_loss"; }
  Shape infer_shape(const std::vector<Shape>& in) const override {
    if (in[0] != in[1])
      throw ShapeError(shape_mismatch(type(), "prediction and target differ", in[0], in[1]));
    return {};
  }

  void forward(const ForwardArgs& args) const override {
    const Tensor &p = *args.inputs[0], &t = *args.inputs[1];
    const std::size_t n = std::size_t(p.size());
    // workspace = p - t, then the loss is sum(workspace^2) / n.
    binary_repeated(args.ctx, p, t, args.workspace, BIN_SUB);
    reduce_middle(args.ctx, args.workspace, &args.workspace, args.output, {1, n, 1},
                  1.0f / float(n), 0.0f);
  }

  void backward(const BackwardArgs& args) const override {
    const Tensor &p = *args.inputs[0], &t = *args.inputs[1];
    const float n = float(p.size());
    for (std::size_t i = 0; i < 2; ++i) {
      Tensor* g = args.grad_inputs[i];
      if (!g) continue;
      cl_kernel k = args.ctx.kernel("loss", "mse_backward");
      set_args(k, mem(p), mem(t), mem(args.grad_output), mem(*g), count(p),
               (i == 0 ? 2.0f : -2.0f) / n, args.betas[i]);
      args.ctx.enqueue_elementwise(k, std::size_t(p.size()));
    }
  }

  std::size_t workspace_floats(const std::vector<Shape>& in, const Shape&) const override {
    return std::size_t(element_count(in[0]));
  }
};

class SoftmaxCrossEntropyOp : public Op {
 public:
  std::string type() const override { return "softmax_cross_entropy"; }
  Shape infer_shape(const std::vector<Shape>& in) const override {
    const Shape &logits = in[0], &labels = in[1];
    if (logits.size() != 2 || labels.size() != 1 || labels[0] != logits[0])
      throw ShapeError(
          shape_mismatch(type(), "expected logits [B, C] and labels [B]", logits, labels));
    return {};
  }

  void forward(const ForwardArgs& args) const override {
    const Tensor &logits = *args.inputs[0], &labels = *args.inputs[1];
    const auto rows = std::size_t(logits.shape()[0]), classes = std::size_t(logits.shape()[1]);
    cl_kernel k = args.ctx.kernel("loss", "cross_entropy_rows");
    set_args(k, mem(logits), mem(labels), mem(args.workspace), cl_ulong(rows), cl_ulong(classes));
    args.ctx.enqueue_elementwise(k, rows);
    reduce_middle(args.ctx, args.workspace, nullptr, args.output, {1, rows, 1}, 1.0f / float(rows),
                  0.0f);
  }

  void backward(const BackwardArgs& args) const override {
    Tensor* gx = args.grad_inputs[0];
    if (!gx) return;
    const Tensor &logits = *args.inputs[0], &labels = *args.inputs[1];
    const auto rows = std::size_t(logits.shape()[0]), classes = std::size_t(logits.shape()[1]);
    cl_kernel k = args.ctx.kernel("loss", "cross_entropy_backward");
    set_args(k, mem(logits), mem(labels), mem(args.grad_output), mem(*gx), cl_ulong(rows),
             cl_ulong(classes), 1.0f / float(rows), args.betas[0]);
    args.ctx.enqueue_elementwise(k, rows);
  }

  bool differentiable(std::size_t input) const override { return input == 0; }
  std::size_t workspace_floats(const std::vector<Shape>& in, const Shape&) const override {
    return std::size_t(in[0][0]);
  }
};

}  // namespace

}  // namespace clnn::detail

namespace clnn {

Value mse_loss(const Value& prediction, const Value& target) {
  return GraphAccess::add(std::make_shared<detail::MseLossOp>(), {prediction, target});
}

Value softmax_cross_entropy(const Value& logits, const Value& labels) {
  return GraphAccess::add(std::make_shared<detail::SoftmaxCrossEntropyOp>(), {logits, labels});
}

}  // namespace clnn
