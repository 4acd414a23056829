// max_pool and avg_pool over 1, 2 or 3 spatial dimensions (kernel, strides, pads, ceil mode,
// count_include_pad), and global_avg_pool.
#include <memory>

#include "cl/kernel_call.hpp"
#include "clnn/error.hpp"
#include "clnn/ops.hpp"
#include "context_impl.hpp"
#include "ops/common.hpp"
#include "ops/op.hpp"
#include "ops/spatial.hpp"

namespace clnn::detail {

namespace {

class PoolOp : public Op {
 public:
  PoolOp(bool max, PoolOptions options) : max_(max), options_(std::move(options)) {}
  std::string type() const override { return max_ ? "max_pool" : "avg_pool"; }

  Shape infer_shape(const std::vector<Shape>& in) const override {
    Window w = window(in[0]);
    for (std::size_t t = 0; t < 3; ++t)
      if (w.pad_begin[t] >= w.kernel[t] || w.pad_end[t] >= w.kernel[t])
        throw ShapeError(type() + ": pads must be smaller than the kernel");
    return window_output_shape(w, w.c);
  }

  void forward(const ForwardArgs& args) const override {
    const Window w = window(args.inputs[0]->shape());
    cl_kernel k = args.ctx.kernel("pool", max_ ? "max_pool_forward" : "avg_pool_forward");
    if (max_)
      set_args(k, mem(*args.inputs[0]), mem(args.output), w.packed(), w.packed_out(),
               cl_long(w.n * w.c));
    else
      set_args(k, mem(*args.inputs[0]), mem(args.output), w.packed(), w.packed_out(), ends(w),
               cl_long(w.n * w.c));
    args.ctx.enqueue_elementwise(k, std::size_t(args.output.size()));
  }

  void backward(const BackwardArgs& args) const override {
    Tensor* gx = args.grad_inputs[0];
    if (!gx) return;
    const Window w = window(gx->shape());
    cl_kernel k = args.ctx.kernel("pool", max_ ? "max_pool_backward" : "avg_pool_backward");
    if (max_)
      set_args(k, mem(*args.inputs[0]), mem(args.grad_output), mem(*gx), w.packed(), w.packed_out(),
               cl_long(w.n * w.c), args.betas[0]);
    else
      set_args(k, mem(args.grad_output), mem(*gx), w.packed(), w.packed_out(), ends(w),
               cl_long(w.n * w.c), args.betas[0]);
    args.ctx.enqueue_elementwise(k, std::size_t(gx->size()));
  }

  // Max pooling finds each window's maximum again in backward; averaging needs nothing.
  Needs backward_needs() const override { return {max_, false}; }

 private:
  Window window(const Shape& x) const {
    WindowSpec spec;
    spec.kernel = options_.kernel;
    spec.strides = options_.strides.empty() ? options_.kernel : options_.strides;
    spec.pads_begin = options_.pads_begin;
    spec.pads_end = options_.pads_end;
    spec.ceil_mode = options_.ceil_mode;
    return make_window(type(), x, spec);
  }

  cl_int4 ends(const Window& w) const {
    cl_int4 e{};
    for (int t = 0; t < 3; ++t) e.s[t] = cl_int(w.pad_end[std::size_t(t)]);
    e.s[3] = options_.count_include_pad ? 1 : 0;
    return e;
  }

  bool max_;
  PoolOptions options_;
};

}  // namespace

}  // namespace clnn::detail

namespace clnn {

Value max_pool(const Value& x, const PoolOptions& options) {
  return GraphAccess::add(std::make_shared<detail::PoolOp>(true, options), {x});
}

Value avg_pool(const Value& x, const PoolOptions& options) {
  return GraphAccess::add(std::make_shared<detail::PoolOp>(false, options), {x});
}

Value global_avg_pool(const Value& x) {
  const std::size_t rank = x.shape().size();
  if (rank < 3)
    throw ShapeError("global_avg_pool: input " + to_string(x.shape()) +
                     " has no spatial dimensions");
  std::vector<int> spatial;
  for (std::size_t d = 2; d < rank; ++d) spatial.push_back(int(d));
  return mean(x, spatial, true);
}

}  // namespace clnn
