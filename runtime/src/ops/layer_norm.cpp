// layer_norm as one fused operator (cl_kernels/layer_norm.cl): a work-group normalizes a row in
// one pass over memory for its statistics and one for the output; backward gives the input's
// gradient in one kernel and gamma's and beta's through the reduction engine.
#include <algorithm>
#include <memory>

#include "cl/kernel_call.hpp"
#include "clnn/ops.hpp"
#include "context_impl.hpp"
#include "ops/common.hpp"
#include "ops/norm_composite.hpp"
#include "ops/op.hpp"
#include "ops/shape_util.hpp"

namespace clnn::detail {

namespace {

class LayerNormOp : public Op {
 public:
  LayerNormOp(int axis, float eps, bool has_beta) : axis_(axis), eps_(eps), has_beta_(has_beta) {}
  std::string type() const override { return "layer_norm"; }

  Shape infer_shape(const std::vector<Shape>& in) const override {
    check_layer_norm(in[0], in[1], has_beta_ ? &in[2] : nullptr, axis_, eps_);
    return in[0];
  }

  void forward(const ForwardArgs& args) const override {
    const Tensor& x = *args.inputs[0];
    const MiddleAxis v = rows(x.shape());
    const Tensor& stats = args.saved.defined() ? args.saved : args.workspace;
    cl_kernel k = args.ctx.kernel("layer_norm", "layer_norm_forward");
    const RowTeams teams = row_teams(args.ctx, v.outer, v.r);
    set_args(k, mem(x), mem(*args.inputs[1]), mem(*args.inputs[has_beta_ ? 2 : 1]),
             mem(args.output), mem(stats), cl_ulong(v.outer), cl_ulong(v.r), eps_,
             cl_int(has_beta_), team_memory(teams));
    enqueue_row_teams(args.ctx, k, v.outer, teams);
  }

  void backward(const BackwardArgs& args) const override {
    const Tensor &x = *args.inputs[0], &gy = args.grad_output;
    Tensor *gx = args.grad_inputs[0], *ggamma = args.grad_inputs[1];
    const MiddleAxis v = rows(x.shape());
    if (gx || ggamma) {
      cl_kernel k = args.ctx.kernel("layer_norm", "layer_norm_backward");
      const RowTeams teams = row_teams(args.ctx, v.outer, v.r);
      set_args(k, mem(x), mem(gy), mem(*args.inputs[1]), mem(args.saved), mem(gx ? *gx : x),
               mem(args.workspace), cl_ulong(v.outer), cl_ulong(v.r), args.betas[0],
               cl_int(gx != nullptr), cl_int(ggamma != nullptr), team_memory(teams));
      enqueue_row_teams(args.ctx, k, v.outer, teams);
    }
    const MiddleAxis over_rows{1, v.outer, v.r};
    if (ggamma)
      reduce_middle(args.ctx, gy, &args.workspace, *ggamma, over_rows, 1.0f, args.betas[1]);
    if (has_beta_ && args.grad_inputs[2])
      reduce_middle(args.ctx, gy, nullptr, *args.grad_inputs[2], over_rows, 1.0f, args.betas[2]);
  }

  // Forward keeps each row's mean and 1 / standard deviation; backward's workspace holds the
  // normalized input for gamma's gradient (and inference forward's statistics).
  std::size_t saved_floats(const std::vector<Shape>& in, const Shape&) const override {
    return 2 * rows(in[0]).outer;
  }
  std::size_t workspace_floats(const std::vector<Shape>& in, const Shape&) const override {
    const MiddleAxis v = rows(in[0]);
    return std::max(2 * v.outer, v.outer * v.r);
  }

  bool to_onnx(OnnxNode& node) const override {
    node.op_type = "LayerNormalization";
    node.ints["axis"] = axis_;
    node.floats["epsilon"] = eps_;
    return true;
  }

 private:
  // x as rows (outer) of the normalized dimensions' elements (r).
  MiddleAxis rows(const Shape& x) const {
    const std::size_t first = normalize_axis(axis_, x.size(), type());
    MiddleAxis v{1, 1, 1};
    for (std::size_t d = 0; d < x.size(); ++d) (d < first ? v.outer : v.r) *= std::size_t(x[d]);
    return v;
  }

  int axis_;
  float eps_;
  bool has_beta_;
};

}  // namespace

}  // namespace clnn::detail

namespace clnn {

Value layer_norm(const Value& x, const Value& gamma, const std::optional<Value>& beta, int axis,
                 float eps) {
  auto op = std::make_shared<detail::LayerNormOp>(axis, eps, beta.has_value());
  return beta ? GraphAccess::add(op, {x, gamma, *beta}) : GraphAccess::add(op, {x, gamma});
}

}  // namespace clnn
