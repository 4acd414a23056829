// resize: nearest or linear interpolation to a new shape (cl_kernels/resize.cl), with the
// coordinate transformation modes ONNX's Resize names; the gradient gathers, no atomics.
#include <cmath>
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

constexpr std::size_t kMaxResizeRank = 8;

int code(ResizeCoordinates c) {
  switch (c) {
    case ResizeCoordinates::asymmetric:
      return RESIZE_ASYMMETRIC;
    case ResizeCoordinates::align_corners:
      return RESIZE_ALIGN_CORNERS;
    case ResizeCoordinates::pytorch_half_pixel:
      return RESIZE_PYTORCH_HALF_PIXEL;
    case ResizeCoordinates::half_pixel:
      break;
  }
  return RESIZE_HALF_PIXEL;
}

int code(ResizeRounding r) {
  switch (r) {
    case ResizeRounding::round_prefer_ceil:
      return RESIZE_PREFER_CEIL;
    case ResizeRounding::floor:
      return RESIZE_FLOOR;
    case ResizeRounding::ceil:
      return RESIZE_CEIL;
    case ResizeRounding::round_prefer_floor:
      break;
  }
  return RESIZE_PREFER_FLOOR;
}

class ResizeOp : public Op {
 public:
  ResizeOp(Shape out, ResizeOptions options) : out_(std::move(out)), options_(std::move(options)) {}
  std::string type() const override { return "resize"; }

  Shape infer_shape(const std::vector<Shape>& in) const override {
    const Shape& x = in[0];
    if (x.size() != out_.size() || x.size() > kMaxResizeRank)
      throw ShapeError(
          shape_mismatch(type(), "the output must have x's rank (at most 8)", x, out_));
    for (std::int64_t e : out_)
      if (e <= 0) throw ShapeError(shape_mismatch(type(), "empty output extent", x, out_));
    if (!options_.scales.empty() && options_.scales.size() != x.size())
      throw ShapeError(type() + ": " + std::to_string(options_.scales.size()) + " scales for x " +
                       to_string(x));
    for (std::size_t d = 0; d < options_.scales.size(); ++d) {
      const float s = options_.scales[d];
      // ONNX's rule, which the gradient's search window relies on: the output extent is the
      // input's times the scale, rounded down.
      if (!(s > 0.0f) || !std::isfinite(s) ||
          out_[d] != std::int64_t(std::floor(double(x[d]) * double(s))))
        throw ShapeError(type() + ": scale " + std::to_string(s) + " of axis " + std::to_string(d) +
                         " must be positive and give its output extent " + std::to_string(out_[d]) +
                         " from " + std::to_string(x[d]));
    }
    return out_;
  }

  void forward(const ForwardArgs& args) const override {
    const Tensor& x = *args.inputs[0];
    cl_kernel k = args.ctx.kernel("resize", "resize_forward");
    set_args(k, mem(x), mem(args.output), count(args.output), cl_int(x.shape().size()),
             pack_long8(x.shape()), pack_long8(out_), scales(x.shape()),
             cl_int(options_.mode == ResizeMode::linear), cl_int(code(options_.coordinates)),
             cl_int(code(options_.rounding)));
    args.ctx.enqueue_elementwise(k, std::size_t(args.output.size()));
  }

  void backward(const BackwardArgs& args) const override {
    Tensor* gx = args.grad_inputs[0];
    if (!gx) return;
    cl_kernel k = args.ctx.kernel("resize", "resize_backward");
    set_args(k, mem(args.grad_output), mem(*gx), count(*gx), cl_int(gx->shape().size()),
             pack_long8(gx->shape()), pack_long8(out_), scales(gx->shape()),
             cl_int(options_.mode == ResizeMode::linear), cl_int(code(options_.coordinates)),
             cl_int(code(options_.rounding)), args.betas[0]);
    args.ctx.enqueue_elementwise(k, std::size_t(gx->size()));
  }

  Needs backward_needs() const override { return {false, false}; }

 private:
  // The scale of each axis: the given ones, else output over input extent.
  cl_float8 scales(const Shape& x) const {
    cl_float8 s{};
    for (std::size_t d = 0; d < x.size(); ++d)
      s.s[d] = options_.scales.empty() ? float(out_[d]) / float(x[d]) : options_.scales[d];
    return s;
  }

  Shape out_;
  ResizeOptions options_;
};

}  // namespace

}  // namespace clnn::detail

namespace clnn {

Value resize(const Value& x, const Shape& out, const ResizeOptions& options) {
  return GraphAccess::add(std::make_shared<detail::ResizeOp>(out, options), {x});
}

}  // namespace clnn
