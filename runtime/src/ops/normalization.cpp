// batch_norm (batch statistics and running statistics).
#include <memory>
#include <optional>
#include <string>

#include "cl/kernel_call.hpp"
#include "clnn/error.hpp"
#include "clnn/ops.hpp"
#include "context_impl.hpp"
#include "ops/common.hpp"
#include "ops/op.hpp"
#include "ops/reduction.hpp"

namespace clnn::detail {

namespace {

// x [N, C, spatial...] as N, C and S = the product of the spatial extents, read in steps of
// `vec` floats (4 where S is a multiple of 4: cl_kernels/norm.cl's VEC).
struct ChannelView {
  cl_long n, c, s, vec;
  cl_long steps_per_row() const { return s / vec; }
  cl_ulong steps() const { return cl_ulong(n * c * steps_per_row()); }
};

ChannelView channel_view(const Shape& x) {
  ChannelView v{x[0], x[1], 1, 1};
  for (std::size_t d = 2; d < x.size(); ++d) v.s *= x[d];
  v.vec = v.s % 4 == 0 ? 4 : 1;
  return v;
}

// Whether `view` lays each sample out row-major, its samples anywhere (a channel slice of a
// larger tensor: a dense block's features, read where its concat is assembled in place).
bool samples_row_major(const TensorView& view) {
  if (view.shape.size() < 2 || view.offset < 0 || view.strides[0] < 0) return false;
  const std::vector<std::int64_t> row_major = row_major_strides(view.shape);
  for (std::size_t d = 1; d < view.shape.size(); ++d)
    if (view.shape[d] != 1 && view.strides[d] != row_major[d]) return false;
  return true;
}

// The build options of norm.cl's batch-norm kernels for this view and epilogue.
std::string norm_options(const ChannelView& v, const Epilogue& epilogue) {
  return "-DVEC=" + std::to_string(v.vec) + epilogue_options(epilogue);
}

// The launches of a statistic over each channel's N * S elements (cl_kernels/norm.cl): a
// work-group per (channel, piece), the pieces cut as for a row of the reduction engine, enough
// that a few channels fill the device; then a work-group per channel merging its pieces. Each
// kernel takes `floats` floats of local memory per work-item.
struct ChannelPieces {
  ChannelPieces(const ReductionPlan& plan, const ChannelView& v, std::size_t floats)
      : plan(plan),
        channels(std::size_t(v.c)),
        pieces(row_pieces(plan, channels, std::size_t(v.n * v.steps_per_row()))),
        finish_local(row_local_size(plan, pieces)),
        floats(floats) {}
  LocalBytes piece_memory() const { return {plan.local_size * floats * sizeof(float)}; }
  LocalBytes finish_memory() const { return {finish_local * floats * sizeof(float)}; }
  void enqueue(ContextImpl& ctx, cl_kernel piece, cl_kernel finish) const {
    enqueue_rows(ctx, piece, plan, channels * pieces, plan.local_size);
    enqueue_rows(ctx, finish, plan, channels, finish_local);
  }

  const ReductionPlan& plan;
  std::size_t channels, pieces, finish_local, floats;
};

class BatchNormOp : public Op {
 public:
  BatchNormOp(float momentum, float eps) : momentum_(momentum), eps_(eps) {}
  std::string type() const override { return "batch_norm"; }

  Shape infer_shape(const std::vector<Shape>& in) const override {
    const Shape& x = in[0];
    if (x.size() < 2) throw ShapeError("batch_norm: input " + to_string(x) + " has no channels");
    const Shape channels{x[1]};
    const char* names[] = {"", "gamma", "beta", "running_mean", "running_var"};
    for (std::size_t i = 1; i < 5; ++i)
      if (in[i] != channels)
        throw ShapeError(
            shape_mismatch("batch_norm", std::string(names[i]) + " must be [C]", x, in[i]));
    return x;
  }

  void forward(const ForwardArgs& args) const override {
    const Tensor &x = *args.inputs[0], &gamma = *args.inputs[1], &beta = *args.inputs[2];
    const Tensor &running_mean = *args.inputs[3], &running_var = *args.inputs[4];
    // Where x's samples lie, in floats: as they are, or through a view of the buffer x is then
    // (inference).
    const std::optional<TensorView>& view =
        args.views ? args.views->inputs[0] : std::optional<TensorView>{};
    ChannelView v = channel_view(view ? view->shape : x.shape());
    cl_ulong x_offset = 0, x_sample = cl_ulong(v.c * v.s);
    if (view) {
      x_offset = cl_ulong(view->offset);
      x_sample = cl_ulong(view->strides[0]);
      if (x_offset % 4 != 0 || x_sample % 4 != 0) v.vec = 1;
    }
    x_offset /= cl_ulong(v.vec);  // in steps of vec floats from here
    x_sample /= cl_ulong(v.vec);
    auto& ctx = args.ctx;
    const std::string options = norm_options(v, args.epilogue);
    cl_kernel apply = ctx.kernel("norm", "bn_apply", options);
    if (args.training) {
      const ChannelPieces launch(ctx.reduction_plan, v, 3);  // (count, mean, squared deviations)
      const cl_mem partials = ctx.scratch(3 * launch.channels * launch.pieces);
      cl_kernel stats = ctx.kernel("norm", "bn_piece_statistics", options);
      set_args(stats, mem(x), partials, v.n, v.c, v.steps_per_row(), cl_long(launch.pieces),
               launch.piece_memory());
      cl_kernel finish = ctx.kernel("norm", "bn_finish_statistics", options);
      set_args(finish, partials, mem(args.saved), mem(running_mean), mem(running_var), v.c,
               cl_long(launch.pieces), momentum_, eps_, launch.finish_memory());
      launch.enqueue(ctx, stats, finish);
      // saved = (mean[C], invstd[C]): the invstd block starts C floats in.
      set_args(apply, mem(x), x_offset, x_sample, mem(args.output), mem(args.saved),
               mem(args.saved), cl_ulong(v.c), cl_int(0), eps_, mem(gamma), mem(beta), v.c,
               v.steps_per_row(), v.steps());
    } else {
      set_args(apply, mem(x), x_offset, x_sample, mem(args.output), mem(running_mean),
               mem(running_var), cl_ulong(0), cl_int(1), eps_, mem(gamma), mem(beta), v.c,
               v.steps_per_row(), v.steps());
    }
    ctx.enqueue_elementwise(apply, std::size_t(v.steps()));
  }

  // Backward masks the output's gradient by the epilogue forward applied (recomputing the value
  // before it from x), so a relu after a batch norm costs no pass of its own in training either.
  void backward(const BackwardArgs& args) const override {
    const Tensor &x = *args.inputs[0], &gamma = *args.inputs[1], &beta = *args.inputs[2];
    Tensor *gx = args.grad_inputs[0], *ggamma = args.grad_inputs[1], *gbeta = args.grad_inputs[2];
    const ChannelView v = channel_view(x.shape());
    auto& ctx = args.ctx;
    const std::string options = norm_options(v, args.epilogue);
    const ChannelPieces launch(ctx.reduction_plan, v, 2);  // (sum(gy), sum(gy * (x - mean)))
    const cl_mem partials = ctx.scratch(2 * launch.channels * launch.pieces);
    cl_kernel sums = ctx.kernel("norm", "bn_piece_sums", options);
    set_args(sums, mem(x), mem(args.grad_output), mem(args.saved), mem(gamma), mem(beta),
             partials, v.n, v.c, v.steps_per_row(), cl_long(launch.pieces),
             launch.piece_memory());
    cl_kernel finish = ctx.kernel("norm", "bn_finish_sums", options);
    set_args(finish, partials, mem(args.saved), mem(args.workspace), mem(ggamma ? *ggamma : x),
             cl_int(ggamma != nullptr), args.betas[1], mem(gbeta ? *gbeta : x),
             cl_int(gbeta != nullptr), args.betas[2], v.c, cl_long(launch.pieces),
             launch.finish_memory());
    launch.enqueue(ctx, sums, finish);
    if (gx) {
      cl_kernel input = ctx.kernel("norm", "bn_backward_input", options);
      set_args(input, mem(x), mem(args.grad_output), mem(args.saved), mem(args.workspace),
               mem(gamma), mem(beta), mem(*gx), v.c, v.steps_per_row(), float(v.n * v.s),
               v.steps(), args.betas[0]);
      ctx.enqueue_elementwise(input, std::size_t(v.steps()));
    }
  }

  bool takes_epilogue(const Epilogue&) const override { return true; }
  // Inference reads x through a view that keeps each sample row-major.
  bool reads_through(std::size_t input, const TensorView& view,
                     const std::vector<Shape>&) const override {
    return input == 0 && samples_row_major(view);
  }
  // Backward recomputes the normalized value from x, and a clamp's derivative with it.
  EpilogueBackward backward_with_epilogue(const Epilogue& e) const override {
    return e.clamps() ? EpilogueBackward::recomputed : EpilogueBackward::refused;
  }
  Needs backward_needs() const override { return {true, false}; }
  bool differentiable(std::size_t input) const override { return input < 3; }
  bool writes_input(std::size_t input) const override { return input == 3 || input == 4; }
  std::size_t saved_floats(const std::vector<Shape>& in, const Shape&) const override {
    return std::size_t(2 * in[0][1]);
  }
  std::size_t workspace_floats(const std::vector<Shape>& in, const Shape&) const override {
    return std::size_t(2 * in[0][1]);
  }

  // Counted from the kernels' passes over x (the per-channel vectors are small beside it):
  // training forward reads x once for the statistics (merging each value in: about 5
  // operations), then again to write y (normalizing: 2); inference reads x once and writes y;
  // backward sums over x and dy, then reads both again and writes dx (about 5 operations per
  // element in each pass).
  Cost cost(const CostArgs& args) const override {
    const double elements = double(element_count(args.inputs[0]));
    if (args.pass == Pass::backward) return {10.0 * elements, 4.0 * 5.0 * elements};
    if (args.training) return {7.0 * elements, 4.0 * 3.0 * elements};
    return {2.0 * elements, 4.0 * 2.0 * elements};
  }

  bool to_onnx(OnnxNode& node) const override {
    node.op_type = "BatchNormalization";
    node.floats["epsilon"] = eps_;
    node.floats["momentum"] = 1.0f - momentum_;  // ONNX weighs the running statistics
    return true;
  }

 private:
  float momentum_, eps_;
};

}  // namespace

}  // namespace clnn::detail

namespace clnn {

Value batch_norm(const Value& x, const Value& gamma, const Value& beta, const Value& running_mean,
                 const Value& running_var, float momentum, float eps) {
  if (!(momentum >= 0.0f && momentum <= 1.0f))
    throw Error("batch_norm: momentum must lie in [0, 1]");
  if (!(eps > 0.0f)) throw Error("batch_norm: eps must be positive");
  return GraphAccess::add(std::make_shared<detail::BatchNormOp>(momentum, eps),
                          {x, gamma, beta, running_mean, running_var});
}

}  // namespace clnn
