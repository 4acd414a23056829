// dropout: seeded, training only (the identity in inference and in ONNX exports).
#include <cstdint>
#include <memory>
#include <string>

#include "cl/kernel_call.hpp"
#include "clnn/error.hpp"
#include "clnn/ops.hpp"
#include "context_impl.hpp"
#include "ops/common.hpp"
#include "ops/op.hpp"

namespace clnn::detail {

namespace {

class DropoutOp : public Op {
 public:
  DropoutOp(float p, std::uint64_t seed) : p_(p), seed_(seed) {}
  std::string type() const override { return "dropout"; }
  Shape infer_shape(const std::vector<Shape>& in) const override { return in[0]; }

  void forward(const ForwardArgs& args) const override {
    const std::size_t n = std::size_t(args.output.size());
    if (!args.training || p_ == 0.0f)
      return axpby(args.ctx, 1.0f, *args.inputs[0], 0.0f, args.output, n);
    apply(args.ctx, *args.inputs[0], args.output, args.step, args.shard, 0.0f);
  }

  void backward(const BackwardArgs& args) const override {
    if (Tensor* gx = args.grad_inputs[0]) {
      if (p_ == 0.0f)
        axpby(args.ctx, 1.0f, args.grad_output, args.betas[0], *gx, std::size_t(gx->size()));
      else
        apply(args.ctx, args.grad_output, *gx, args.step, args.shard, args.betas[0]);
    }
  }

  Needs backward_needs() const override { return {false, false}; }
  bool launches_change_by_step() const override { return p_ != 0.0f; }

  // An exported model runs inference, where dropout is the identity.
  bool to_onnx(OnnxNode& node) const override {
    node.op_type = "Identity";
    return true;
  }

 private:
  // The same mask for the same step: backward regenerates forward's. Shard s of a batch split
  // into equal shards draws at the indices its rows have in the whole batch.
  void apply(ContextImpl& ctx, const Tensor& in, const Tensor& out, std::uint64_t step,
             std::uint64_t shard, float beta) const {
    cl_kernel k = ctx.kernel("dropout", "dropout_apply");
    const cl_ulong first = cl_ulong(shard) * count(out);
    set_args(k, mem(in), mem(out), count(out), first, p_, cl_ulong(seed_), cl_ulong(step), beta);
    ctx.enqueue_elementwise(k, std::size_t(out.size()));
  }

  float p_;
  std::uint64_t seed_;
};

}  // namespace

}  // namespace clnn::detail

namespace clnn {

Value dropout(const Value& x, float p, std::uint64_t seed) {
  if (!(p >= 0.0f && p < 1.0f)) throw Error("dropout: p must lie in [0, 1)");
  return GraphAccess::add(std::make_shared<detail::DropoutOp>(p, seed), {x});
}

}  // namespace clnn
