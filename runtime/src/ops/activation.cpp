// Elementwise activations and math functions (relu, sigmoid, gelu, ..., log, erf, the
// trigonometric family: one kernel built per function) and softmax / log_softmax; relu, clip and
// GELU as epilogues (ops/epilogue.hpp).
#include <cmath>
#include <cstdio>
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

// Codes of cl_kernels/activation.cl (kernel_codes.h); the derivative reads x or y as marked.
struct Activation {
  const char* name;
  cl_int code;
  bool derivative_from_output;
  const char* onnx;  // the ONNX operator, or nullptr
};
constexpr Activation kRelu{"relu", ACT_RELU, false, "Relu"};
constexpr Activation kLeakyRelu{"leaky_relu", ACT_LEAKY_RELU, false, "LeakyRelu"};
constexpr Activation kSigmoid{"sigmoid", ACT_SIGMOID, true, "Sigmoid"};
constexpr Activation kTanh{"tanh", ACT_TANH, true, "Tanh"};
constexpr Activation kElu{"elu", ACT_ELU, false, "Elu"};
constexpr Activation kGelu{"gelu", ACT_GELU, false, nullptr};
constexpr Activation kSqrt{"sqrt", ACT_SQRT, true, "Sqrt"};
constexpr Activation kExp{"exp", ACT_EXP, true, "Exp"};
constexpr Activation kSelu{"selu", ACT_SELU, false, "Selu"};
constexpr Activation kHardSigmoid{"hard_sigmoid", ACT_HARD_SIGMOID, false, "HardSigmoid"};
constexpr Activation kClip{"clip", ACT_CLIP, false, "Clip"};
constexpr Activation kAbs{"abs", ACT_ABS, false, "Abs"};
constexpr Activation kLog{"log", ACT_LOG, false, "Log"};
constexpr Activation kReciprocal{"reciprocal", ACT_RECIPROCAL, false, "Reciprocal"};
constexpr Activation kFloor{"floor", ACT_FLOOR, false, "Floor"};
constexpr Activation kCeil{"ceil", ACT_CEIL, false, "Ceil"};
constexpr Activation kRound{"round", ACT_ROUND, false, "Round"};
constexpr Activation kSign{"sign", ACT_SIGN, false, "Sign"};
constexpr Activation kErf{"erf", ACT_ERF, false, "Erf"};
constexpr Activation kSoftplus{"softplus", ACT_SOFTPLUS, false, "Softplus"};
constexpr Activation kSoftsign{"softsign", ACT_SOFTSIGN, false, "Softsign"};
constexpr Activation kHardSwish{"hard_swish", ACT_HARD_SWISH, false, "HardSwish"};
constexpr Activation kMish{"mish", ACT_MISH, false, nullptr};
constexpr Activation kSin{"sin", ACT_SIN, false, "Sin"};
constexpr Activation kCos{"cos", ACT_COS, false, "Cos"};
constexpr Activation kTan{"tan", ACT_TAN, false, "Tan"};
constexpr Activation kAsin{"asin", ACT_ASIN, false, "Asin"};
constexpr Activation kAcos{"acos", ACT_ACOS, false, "Acos"};
constexpr Activation kAtan{"atan", ACT_ATAN, false, "Atan"};
constexpr Activation kSinh{"sinh", ACT_SINH, false, "Sinh"};
constexpr Activation kCosh{"cosh", ACT_COSH, false, "Cosh"};
constexpr Activation kAsinh{"asinh", ACT_ASINH, false, "Asinh"};
constexpr Activation kAcosh{"acosh", ACT_ACOSH, false, "Acosh"};
constexpr Activation kAtanh{"atanh", ACT_ATANH, false, "Atanh"};
constexpr Activation kCelu{"celu", ACT_CELU, false, "Celu"};
constexpr Activation kThresholdedRelu{"thresholded_relu", ACT_THRESHOLDED_RELU, false,
                                      "ThresholdedRelu"};
constexpr Activation kShrink{"shrink", ACT_SHRINK, false, "Shrink"};
constexpr Activation kShift{"add_scalar", ACT_SHIFT, false, "Add"};

std::string activation_options(const Activation& act) {
  return "-DACTIVATION=" + std::to_string(act.code);
}

// y = act(x) elementwise; y may be x.
void activation_forward(ContextImpl& ctx, const Activation& act, float p, float q, const Tensor& x,
                        const Tensor& y) {
  cl_kernel k = ctx.kernel("activation", "activation_forward", activation_options(act));
  set_args(k, mem(x), mem(y), count(y), p, q);
  ctx.enqueue_float4s(k, static_cast<std::size_t>(y.size()));
}

// gx = beta gx + gy times the derivative at x (or, where the derivative is read from the output,
// at y); gx may be gy.
void activation_backward(ContextImpl& ctx, const Activation& act, float p, float q, const Tensor& x,
                         const Tensor& y, const Tensor& gy, const Tensor& gx, float beta) {
  cl_kernel k = ctx.kernel("activation", "activation_backward", activation_options(act));
  set_args(k, mem(x), mem(y), mem(gy), mem(gx), count(gx), p, q, beta);
  ctx.enqueue_float4s(k, static_cast<std::size_t>(gx.size()));
}

class ActivationOp : public Op {
 public:
  ActivationOp(Activation act, float p, float q) : act_(act), p_(p), q_(q) {}
  std::string type() const override { return act_.name; }
  Shape infer_shape(const std::vector<Shape>& in) const override { return in[0]; }

  void forward(const ForwardArgs& args) const override {
    activation_forward(args.ctx, act_, p_, q_, *args.inputs[0], args.output);
  }

  void backward(const BackwardArgs& args) const override {
    Tensor* gx = args.grad_inputs[0];
    if (!gx) return;
    // The operand the derivative does not read may have been released: gy stands in for it.
    const Tensor& x = act_.derivative_from_output ? args.grad_output : *args.inputs[0];
    const Tensor& y = act_.derivative_from_output ? args.output : args.grad_output;
    activation_backward(args.ctx, act_, p_, q_, x, y, args.grad_output, *gx, args.betas[0]);
  }

  Needs backward_needs() const override {
    return {!act_.derivative_from_output, act_.derivative_from_output};
  }

  std::optional<Epilogue> as_epilogue() const override {
    if (act_.code == kRelu.code) return Epilogue{true, 0.0f, INFINITY, false};
    if (act_.code == kClip.code) return Epilogue{true, p_, q_, true};
    if (act_.code == kGelu.code) return Epilogue{true, 0.0f, 0.0f, false, true};
    return std::nullopt;
  }

  bool to_onnx(OnnxNode& node) const override {
    if (!act_.onnx) return false;  // GELU and Mish have no operator in the exported opset
    node.op_type = act_.onnx;
    const std::string type = act_.onnx;
    if (type == "LeakyRelu" || type == "Elu") node.floats["alpha"] = p_;
    if (type == "Selu") node.floats = {{"alpha", p_}, {"gamma", q_}};
    if (type == "HardSigmoid") node.floats = {{"alpha", p_}, {"beta", q_}};
    if (type == "Clip") node.float_inputs = {p_, q_};
    if (type == "Celu" || type == "ThresholdedRelu") node.floats["alpha"] = p_;
    if (type == "Shrink") node.floats = {{"bias", p_}, {"lambd", q_}};
    if (type == "Add") node.float_inputs = {p_};
    return true;
  }

 private:
  Activation act_;
  float p_, q_;  // the activation's parameters (slope, alpha, bounds, ...)
};

class SoftmaxOp : public Op {
 public:
  SoftmaxOp(int axis, bool log_mode) : axis_(axis), log_(log_mode) {}
  std::string type() const override { return log_ ? "log_softmax" : "softmax"; }

  Shape infer_shape(const std::vector<Shape>& in) const override {
    normalize_axis(axis_, in[0].size(), type());
    return in[0];
  }

  void forward(const ForwardArgs& args) const override {
    auto v = view(args.output.shape());
    auto& ctx = args.ctx;
    if (by_rows(ctx.reduction_plan, v)) {
      cl_kernel k = ctx.kernel("softmax", "softmax_rows_forward");
      const RowTeams teams = row_teams(ctx, v.outer, v.r);
      set_args(k, mem(*args.inputs[0]), mem(args.output), cl_ulong(v.outer), cl_ulong(v.r),
               cl_int(log_), team_memory(teams));
      return enqueue_row_teams(ctx, k, v.outer, teams);
    }
    cl_kernel k = ctx.kernel("softmax", "softmax_forward");
    set_args(k, mem(*args.inputs[0]), mem(args.output), cl_ulong(v.outer), cl_ulong(v.r),
             cl_ulong(v.inner), cl_int(log_));
    ctx.enqueue_elementwise(k, v.outer * v.inner);
  }

  void backward(const BackwardArgs& args) const override {
    Tensor* gx = args.grad_inputs[0];
    if (!gx) return;
    auto v = view(args.output.shape());
    auto& ctx = args.ctx;
    if (by_rows(ctx.reduction_plan, v)) {
      cl_kernel k = ctx.kernel("softmax", "softmax_rows_backward");
      const RowTeams teams = row_teams(ctx, v.outer, v.r);
      set_args(k, mem(args.output), mem(args.grad_output), mem(*gx), cl_ulong(v.outer),
               cl_ulong(v.r), cl_int(log_), args.betas[0], team_memory(teams));
      return enqueue_row_teams(ctx, k, v.outer, teams);
    }
    cl_kernel k = ctx.kernel("softmax", "softmax_backward");
    set_args(k, mem(args.output), mem(args.grad_output), mem(*gx), cl_ulong(v.outer), cl_ulong(v.r),
             cl_ulong(v.inner), cl_int(log_), args.betas[0]);
    ctx.enqueue_elementwise(k, v.outer * v.inner);
  }

  Needs backward_needs() const override { return {false, true}; }

  bool to_onnx(OnnxNode& node) const override {
    node.op_type = log_ ? "LogSoftmax" : "Softmax";
    node.ints["axis"] = axis_;
    return true;
  }

 private:
  MiddleAxis view(const Shape& shape) const {
    std::size_t axis = normalize_axis(axis_, shape.size(), type());
    return middle_axis(shape, axis, axis + 1);
  }
  // On GPUs, contiguous rows take a team of work-items each (RowTeams: a work-item per row
  // walked swin_t's rows of 49 three times alone, at 7% of the H200's bandwidth); CPUs give every
  // row a work-item (ReductionPlan::item_per_row).
  static bool by_rows(const ReductionPlan& plan, const MiddleAxis& v) {
    return !plan.item_per_row && v.inner == 1;
  }
  int axis_;
  bool log_;
};

Value activation(const Value& v, Activation act, float p = 0.0f, float q = 0.0f) {
  return GraphAccess::add(std::make_shared<ActivationOp>(act, p, q), {v});
}

}  // namespace

std::string epilogue_options(const Epilogue& e) {
  if (!e.on) return "";
  if (e.gelu) return " -DEPILOGUE_GELU=1";
  return " -DEPILOGUE_LO=" + float_literal(e.lo) + " -DEPILOGUE_HI=" + float_literal(e.hi) +
         (e.passes_lo ? " -DEPILOGUE_PASSES_LO" : "");
}

void apply_epilogue(ContextImpl& ctx, const Tensor& y, const Epilogue& e) {
  if (!e.on) return;
  if (e.gelu) return activation_forward(ctx, kGelu, 0.0f, 0.0f, y, y);
  // Clip with lo and hi is relu where they are 0 and infinity: the same fmin(fmax()).
  activation_forward(ctx, kClip, e.lo, e.hi, y, y);
}

void mask_by_epilogue(ContextImpl& ctx, const Tensor& y, const Tensor& g, const Epilogue& e) {
  if (!e.masks_from_output()) throw Error("mask_by_epilogue: the output does not say the mask");
  // relu's backward with its output standing for its operand (> 0 exactly where it was), in
  // place: each element's gradient is read before it is written.
  activation_backward(ctx, kRelu, 0.0f, 0.0f, y, y, g, g, 0.0f);
}

}  // namespace clnn::detail

namespace clnn {

Value relu(const Value& v) {
  return detail::activation(v, detail::kRelu);
}
Value leaky_relu(const Value& v, float slope) {
  return detail::activation(v, detail::kLeakyRelu, slope);
}
Value sigmoid(const Value& v) {
  return detail::activation(v, detail::kSigmoid);
}
Value tanh(const Value& v) {
  return detail::activation(v, detail::kTanh);
}
Value elu(const Value& v, float alpha) {
  return detail::activation(v, detail::kElu, alpha);
}
Value gelu(const Value& v) {
  return detail::activation(v, detail::kGelu);
}
Value sqrt(const Value& v) {
  return detail::activation(v, detail::kSqrt);
}
Value exp(const Value& v) {
  return detail::activation(v, detail::kExp);
}
Value selu(const Value& v, float alpha, float gamma) {
  return detail::activation(v, detail::kSelu, alpha, gamma);
}
Value hard_sigmoid(const Value& v, float alpha, float beta) {
  return detail::activation(v, detail::kHardSigmoid, alpha, beta);
}
Value clip(const Value& v, float min, float max) {
  if (!(min <= max))
    throw Error("clip: min " + std::to_string(min) + " is above max " + std::to_string(max));
  return detail::activation(v, detail::kClip, min, max);
}

Value abs(const Value& v) {
  return detail::activation(v, detail::kAbs);
}
Value log(const Value& v) {
  return detail::activation(v, detail::kLog);
}
Value reciprocal(const Value& v) {
  return detail::activation(v, detail::kReciprocal);
}
Value floor(const Value& v) {
  return detail::activation(v, detail::kFloor);
}
Value ceil(const Value& v) {
  return detail::activation(v, detail::kCeil);
}
Value round(const Value& v) {
  return detail::activation(v, detail::kRound);
}
Value sign(const Value& v) {
  return detail::activation(v, detail::kSign);
}
Value erf(const Value& v) {
  return detail::activation(v, detail::kErf);
}
Value softplus(const Value& v) {
  return detail::activation(v, detail::kSoftplus);
}
Value softsign(const Value& v) {
  return detail::activation(v, detail::kSoftsign);
}
Value hard_swish(const Value& v) {
  return detail::activation(v, detail::kHardSwish);
}
Value mish(const Value& v) {
  return detail::activation(v, detail::kMish);
}
Value sin(const Value& v) {
  return detail::activation(v, detail::kSin);
}
Value cos(const Value& v) {
  return detail::activation(v, detail::kCos);
}
Value tan(const Value& v) {
  return detail::activation(v, detail::kTan);
}
Value asin(const Value& v) {
  return detail::activation(v, detail::kAsin);
}
Value acos(const Value& v) {
  return detail::activation(v, detail::kAcos);
}
Value atan(const Value& v) {
  return detail::activation(v, detail::kAtan);
}
Value sinh(const Value& v) {
  return detail::activation(v, detail::kSinh);
}
Value cosh(const Value& v) {
  return detail::activation(v, detail::kCosh);
}
Value asinh(const Value& v) {
  return detail::activation(v, detail::kAsinh);
}
Value acosh(const Value& v) {
  return detail::activation(v, detail::kAcosh);
}
Value atanh(const Value& v) {
  return detail::activation(v, detail::kAtanh);
}
Value add(const Value& v, float c) {
  return detail::activation(v, detail::kShift, c);
}
Value celu(const Value& v, float alpha) {
  if (!(alpha != 0.0f)) throw Error("celu: alpha must not be 0");
  return detail::activation(v, detail::kCelu, alpha);
}
Value thresholded_relu(const Value& v, float alpha) {
  return detail::activation(v, detail::kThresholdedRelu, alpha);
}
Value shrink(const Value& v, float bias, float lambd) {
  if (!(lambd >= 0.0f)) throw Error("shrink: lambd must not be negative");
  return detail::activation(v, detail::kShrink, bias, lambd);
}

Value softmax(const Value& v, int axis) {
  return GraphAccess::add(std::make_shared<detail::SoftmaxOp>(axis, false), {v});
}
Value log_softmax(const Value& v, int axis) {
  return GraphAccess::add(std::make_shared<detail::SoftmaxOp>(axis, true), {v});
}

}  // namespace clnn
