// add, sub, mul, div, pow, prelu, maximum, minimum, the comparisons and where with numpy
// broadcasting, and scale.
#include <algorithm>
#include <memory>

#include "cl/kernel_call.hpp"
#include "clnn/error.hpp"
#include "clnn/ops.hpp"
#include "context_impl.hpp"
#include "kernel_codes.h"
#include "ops/common.hpp"
#include "ops/op.hpp"
#include "ops/shape_util.hpp"

namespace clnn::detail {

namespace {

// Codes of cl_kernels/broadcast.cl (add, sub and mul also of elementwise.cl's fast kernels).
enum BinaryCode : cl_int {
  kAdd = BIN_ADD,
  kSub = BIN_SUB,
  kMul = BIN_MUL,
  kDiv = BIN_DIV,
  kPow = BIN_POW,
  kPrelu = BIN_PRELU,
  kMax = BIN_MAX,
  kMin = BIN_MIN,
  kEqual = BIN_EQUAL,
  kLess = BIN_LESS,
  kLessEqual = BIN_LESS_EQUAL,
  kGreater = BIN_GREATER,
  kGreaterEqual = BIN_GREATER_EQUAL
};

constexpr std::size_t kMaxBroadcastRank = 8;

// numpy broadcasting (ops/shape_util.hpp), up to the kernels' rank.
Shape broadcast_shape(const std::string& op, const Shape& a, const Shape& b) {
  const std::optional<Shape> out = broadcast_shapes(a, b);
  if (!out) throw ShapeError(shape_mismatch(op, "shapes do not broadcast", a, b));
  if (out->size() > kMaxBroadcastRank)
    throw ShapeError(op + ": rank " + std::to_string(out->size()) + " is above 8");
  return *out;
}

// An operand's extents left-padded with 1s to the output's rank, and its strides there (0 where
// it is broadcast).
struct Operand {
  Shape dims;
  std::vector<std::int64_t> strides;
};

Operand aligned(const Shape& shape, const Shape& out) {
  Operand o{Shape(out.size() - shape.size(), 1), std::vector<std::int64_t>(out.size(), 0)};
  o.dims.insert(o.dims.end(), shape.begin(), shape.end());
  std::int64_t stride = 1;
  for (std::size_t k = out.size(); k-- > 0;) {
    o.strides[k] = o.dims[k] == 1 && out[k] != 1 ? 0 : stride;
    stride *= o.dims[k];
  }
  return o;
}

bool is_suffix(const Shape& part, const Shape& whole) {
  return part.size() <= whole.size() &&
         std::equal(part.begin(), part.end(), whole.end() - long(part.size()));
}

class BinaryOp : public Op {
 public:
  explicit BinaryOp(BinaryCode code) : code_(code) {}
  std::string type() const override {
    static const char* names[] = {"add",        "sub",     "mul",          "div",   "pow",
                                  "prelu",      "maximum", "minimum",      "equal", "less",
                                  "less_equal", "greater", "greater_equal"};
    return names[code_];
  }

  Shape infer_shape(const std::vector<Shape>& in) const override {
    return broadcast_shape(type(), in[0], in[1]);
  }

  // A relu or clip after add, sub or mul (a residual block's) is applied as the direct kernels
  // store, instead of in a pass of its own over the output (resnet50 at batch 32 on 2 cores:
  // 74 ms of relu passes); in training a relu alone, whose gradient backward masks by the output.
  bool takes_epilogue(const Epilogue&) const override { return code_ <= kMul; }
  EpilogueBackward backward_with_epilogue(const Epilogue& e) const override {
    return code_ <= kMul && e.masks_from_output() ? EpilogueBackward::from_output
                                                  : EpilogueBackward::refused;
  }
  bool sums_operands(const std::vector<Shape>& in, const Shape& out) const override {
    return code_ == kAdd && in[0] == out && in[1] == out;
  }

  void forward(const ForwardArgs& args) const override {
    const Tensor &a = *args.inputs[0], &b = *args.inputs[1];
    if (fast(a.shape(), b.shape(), args.output.shape())) {
      binary_repeated(args.ctx, a, b, args.output, code_, args.epilogue);
      return;
    }
    // bias + x as exporters write it: the same with the operands swapped.
    if ((code_ == kAdd || code_ == kMul) && fast(b.shape(), a.shape(), args.output.shape())) {
      binary_repeated(args.ctx, b, a, args.output, code_, args.epilogue);
      return;
    }
    const Shape& out = args.output.shape();
    broadcast_binary(args.ctx, a, aligned(a.shape(), out).strides, b,
                     aligned(b.shape(), out).strides, args.output, code_);
    apply_epilogue(args.ctx, args.output, args.epilogue);
  }

  void backward(const BackwardArgs& args) const override {
    const Tensor &a = *args.inputs[0], &b = *args.inputs[1], &gy = args.grad_output;
    const Shape& out = gy.shape();
    if (fast(a.shape(), b.shape(), out)) return backward_fast(args);
    for (int which = 0; which < 2; ++which) {
      Tensor* g = args.grad_inputs[std::size_t(which)];
      if (!g) continue;
      const bool direct = g->shape() == out;  // else fold the broadcast gradient back
      const Tensor& target = direct ? *g : args.workspace;
      const BroadcastView v =
          collapsed(out, aligned(a.shape(), out).strides, aligned(b.shape(), out).strides);
      cl_kernel k = args.ctx.kernel("broadcast", "broadcast_binary_grad");
      set_args(k, mem(a), mem(b), mem(gy), mem(target), count(gy), cl_int(v.dims.size()),
               pack_long8(v.dims), pack_long8(v.a), pack_long8(v.b), cl_int(code_), cl_int(which),
               direct ? args.betas[std::size_t(which)] : 0.0f);
      args.ctx.enqueue_elementwise(k, std::size_t(gy.size()));
      if (direct) continue;
      sum_to_shape(args.ctx, args.workspace, out, *g, aligned(g->shape(), out).dims,
                   args.betas[std::size_t(which)]);
    }
  }

  Needs backward_needs() const override { return {code_ != kAdd && code_ != kSub, false}; }

  bool to_onnx(OnnxNode& node) const override {
    static const char* names[] = {"Add",         "Sub",     "Mul",           "Div",   "Pow",
                                  "PRelu",       "Max",     "Min",           "Equal", "Less",
                                  "LessOrEqual", "Greater", "GreaterOrEqual"};
    // A comparison's boolean output is float 0 and 1 in clnn, which Equal & co. do not give.
    if (code_ >= kEqual) return false;
    node.op_type = names[code_];
    return true;
  }

  bool differentiable(std::size_t) const override { return code_ < kEqual; }

  std::size_t workspace_floats(const std::vector<Shape>& in, const Shape& out) const override {
    return fast(in[0], in[1], out) || (in[0] == out && in[1] == out)
               ? 0
               : std::size_t(element_count(out));
  }

 private:
  // add, sub and mul of an output-shaped a with an equal or trailing-part b have direct kernels.
  bool fast(const Shape& a, const Shape& b, const Shape& out) const {
    return code_ <= kMul && a == out && is_suffix(b, out);
  }

  void backward_fast(const BackwardArgs& args) const {
    const Tensor& gy = args.grad_output;
    const std::size_t n = std::size_t(gy.size());
    const std::size_t nb = std::size_t(element_count(args.inputs[1]->shape()));
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

  BinaryCode code_;
};

// where(c, a, b) = c != 0 ? a : b, the three broadcast together; c gets no gradient.
class WhereOp : public Op {
 public:
  std::string type() const override { return "where"; }

  Shape infer_shape(const std::vector<Shape>& in) const override {
    return broadcast_shape(type(), broadcast_shape(type(), in[0], in[1]), in[2]);
  }

  void forward(const ForwardArgs& args) const override {
    const Shape& out = args.output.shape();
    cl_kernel k = args.ctx.kernel("broadcast", "broadcast_select");
    set_args(k, mem(*args.inputs[0]), mem(*args.inputs[1]), mem(*args.inputs[2]), mem(args.output),
             count(args.output), cl_int(out.size()), pack_long8(out),
             pack_long8(strides(*args.inputs[0], out)), pack_long8(strides(*args.inputs[1], out)),
             pack_long8(strides(*args.inputs[2], out)));
    args.ctx.enqueue_elementwise(k, std::size_t(args.output.size()));
  }

  void backward(const BackwardArgs& args) const override {
    const Shape& out = args.grad_output.shape();
    for (std::size_t which = 0; which < 2; ++which) {
      Tensor* g = args.grad_inputs[which + 1];
      if (!g) continue;
      const bool direct = g->shape() == out;  // else fold the broadcast gradient back
      const Tensor& target = direct ? *g : args.workspace;
      cl_kernel k = args.ctx.kernel("broadcast", "broadcast_select_grad");
      set_args(k, mem(*args.inputs[0]), mem(args.grad_output), mem(target), count(args.grad_output),
               cl_int(out.size()), pack_long8(out), pack_long8(strides(*args.inputs[0], out)),
               cl_int(which), direct ? args.betas[which + 1] : 0.0f);
      args.ctx.enqueue_elementwise(k, std::size_t(args.grad_output.size()));
      if (!direct)
        sum_to_shape(args.ctx, args.workspace, out, *g, aligned(g->shape(), out).dims,
                     args.betas[which + 1]);
    }
  }

  Needs backward_needs() const override { return {true, false}; }  // the condition
  bool differentiable(std::size_t input) const override { return input > 0; }

  std::size_t workspace_floats(const std::vector<Shape>& in, const Shape& out) const override {
    return in[1] == out && in[2] == out ? 0 : std::size_t(element_count(out));
  }

 private:
  static std::vector<std::int64_t> strides(const Tensor& t, const Shape& out) {
    return aligned(t.shape(), out).strides;
  }
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

  bool to_onnx(OnnxNode& node) const override {
    node.op_type = "Mul";
    node.float_inputs = {s_};
    return true;
  }

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
Value div(const Value& a, const Value& b) {
  return GraphAccess::add(std::make_shared<BinaryOp>(detail::kDiv), {a, b});
}
Value pow(const Value& a, const Value& b) {
  return GraphAccess::add(std::make_shared<BinaryOp>(detail::kPow), {a, b});
}
Value prelu(const Value& x, const Value& slope) {
  return GraphAccess::add(std::make_shared<BinaryOp>(detail::kPrelu), {x, slope});
}
Value maximum(const Value& a, const Value& b) {
  return GraphAccess::add(std::make_shared<BinaryOp>(detail::kMax), {a, b});
}
Value minimum(const Value& a, const Value& b) {
  return GraphAccess::add(std::make_shared<BinaryOp>(detail::kMin), {a, b});
}
Value equal(const Value& a, const Value& b) {
  return GraphAccess::add(std::make_shared<BinaryOp>(detail::kEqual), {a, b});
}
Value less(const Value& a, const Value& b) {
  return GraphAccess::add(std::make_shared<BinaryOp>(detail::kLess), {a, b});
}
Value less_equal(const Value& a, const Value& b) {
  return GraphAccess::add(std::make_shared<BinaryOp>(detail::kLessEqual), {a, b});
}
Value greater(const Value& a, const Value& b) {
  return GraphAccess::add(std::make_shared<BinaryOp>(detail::kGreater), {a, b});
}
Value greater_equal(const Value& a, const Value& b) {
  return GraphAccess::add(std::make_shared<BinaryOp>(detail::kGreaterEqual), {a, b});
}
Value where(const Value& condition, const Value& a, const Value& b) {
  return GraphAccess::add(std::make_shared<detail::WhereOp>(), {condition, a, b});
}
Value scale(const Value& v, float s) {
  return GraphAccess::add(std::make_shared<detail::ScaleOp>(s), {v});
}

}  // namespace clnn
