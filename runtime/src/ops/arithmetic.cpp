// add, sub, mul (equal shapes, or a trailing-part operand repeated over leading dimensions)
// and scale.
#include <algorithm>
#include <memory>

#include "cl/kernel_call.hpp"
#include "clnn/error.hpp"
#include "clnn/ops.hpp"
#include "context_impl.hpp"
#include "ops/common.hpp"
#include "ops/op.hpp"

namespace clnn::detail {

namespace {

// Codes of cl_kernels/elementwise.cl.
enum BinaryCode : cl_int { kAdd = 0, kSub = 1, kMul = 2 };

class BinaryOp : public Op {
 public:
  explicit BinaryOp(BinaryCode code) : code_(code) {}
  std::string type() const override {
    return code_ == kAdd ? "add" : code_ == kSub ? "sub" : "mul";
  }

  Shape infer_shape(const std::vector<Shape>& in) const override {
    const Shape &a = in[0], &b = in[1];
    if (a == b) return a;
    if (b.size() < a.size() && std::equal(b.begin(), b.end(), a.end() - long(b.size()))) return a;
    throw ShapeError(shape_mismatch(
        type(), "shapes must be equal or the second a trailing part of the first", a, b));
  }

  void forward(const ForwardArgs& args) const override {
    const Tensor &a = *args.inputs[0], &b = *args.inputs[1];
    cl_kernel k = args.ctx.kernel("elementwise", "binary_forward");
    set_args(k, mem(a), mem(b), mem(args.output), count(a), count(b), static_cast<cl_int>(code_));
    args.ctx.enqueue_elementwise(k, static_cast<std::size_t>(a.size()));
  }

  void backward(const BackwardArgs& args) const override {
    const Tensor& gy = args.grad_output;
    const std::size_t n = static_cast<std::size_t>(gy.size());
    const std::size_t nb = static_cast<std::size_t>(element_count(args.inputs[1]->shape()));
    const Tensor* a = code_ == kMul ? args.inputs[0] : nullptr;
    const Tensor* b = code_ == kMul ? args.inputs[1] : nullptr;
    if (Tensor* ga = args.grad_inputs[0])
      scaled_product(args.ctx, gy, b, nb, *ga, 1.0f, args.betas[0]);
    if (Tensor* gb = args.grad_inputs[1]) {
      const float s = code_ == kSub ? -1.0f : 1.0f;
      if (nb == n)
        scaled_product(args.ctx, gy, a, n, *gb, s, args.betas[1]);
      else  // b was repeated over the leading dimensions: sum its gradient over them
        reduce_middle(args.ctx, gy, a, *gb, {1, n / nb, nb}, s, args.betas[1]);
    }
  }

  Needs backward_needs() const override { return {code_ == kMul, false}; }

 private:
  BinaryCode code_;
};

class ScaleOp : public Op {
 public:
  explicit ScaleOp(float s) : s_(s) {}
  std::string type() const override { return "scale"; }
  Shape infer_shape(const std::vector<Shape>& in) const override { return in[0]; }
  void forward(const ForwardArgs& args) const override {
    axpby(args.ctx, s_, *args.inputs[0], 0.0f, args.output,
          static_cast<std::size_t>(args.output.size()));
  }
  void backward(const BackwardArgs& args) const override {
    if (Tensor* gx = args.grad_inputs[0])
      axpby(args.ctx, s_, args.grad_output, args.betas[0], *gx,
            static_cast<std::size_t>(gx->size()));
  }
  Needs backward_needs() const override { return {false, false}; }

 private:
  float s_;
};

}  // namespace

}  // namespace clnn::detail

namespace clnn {

using detail::BinaryOp;

Value add(const Value& a, const Value& b) {
  return GraphAccess::add(std::make_shared<BinaryOp>(detail::kAdd), {a, b});
}
Value sub(const Value& a, const Value& b) {
  return GraphAccess::add(std::make_shared<BinaryOp>(detail::kSub), {a, b});
}
Value mul(const Value& a, const Value& b) {
  return GraphAccess::add(std::make_shared<BinaryOp>(detail::kMul), {a, b});
}
Value scale(const Value& v, float s) {
  return GraphAccess::add(std::make_shared<detail::ScaleOp>(s), {v});
}

}  // namespace clnn
