// gather_elements and embedding: each output element reads x where an index tensor says
// (cl_kernels/gather.cl); the gradients sum back into x without atomics.
#include <memory>

#include "cl/kernel_call.hpp"
#include "clnn/ops.hpp"
#include "context_impl.hpp"
#include "ops/common.hpp"
#include "ops/op.hpp"
#include "ops/shape_util.hpp"

namespace clnn::detail {

namespace {

constexpr std::size_t kMaxGatherRank = 8;

class GatherElementsOp : public Op {
 public:
  explicit GatherElementsOp(int axis) : axis_(axis) {}
  std::string type() const override { return "gather_elements"; }

  Shape infer_shape(const std::vector<Shape>& in) const override {
    const Shape &x = in[0], &indices = in[1];
    const std::size_t axis = normalize_axis(axis_, x.size(), type());
    if (indices.size() != x.size() || x.size() > kMaxGatherRank)
      throw ShapeError(
          shape_mismatch(type(), "indices must have x's rank (at most 8)", x, indices));
    for (std::size_t d = 0; d < x.size(); ++d)
      if (d != axis && indices[d] > x[d])
        throw ShapeError(shape_mismatch(type(), "indices extend past x", x, indices));
    return indices;
  }

  void forward(const ForwardArgs& args) const override {
    const Tensor &x = *args.inputs[0], &indices = *args.inputs[1];
    cl_kernel k = args.ctx.kernel("gather", "gather_elements_forward");
    set_args(k, mem(x), mem(indices), mem(args.output), count(args.output),
             cl_int(x.shape().size()), cl_int(axis(x.shape())), pack_long8(indices.shape()),
             pack_long8(x.shape()));
    args.ctx.enqueue_elementwise(k, std::size_t(args.output.size()));
  }

  void backward(const BackwardArgs& args) const override {
    Tensor* gx = args.grad_inputs[0];
    if (!gx) return;
    const Tensor& indices = *args.inputs[1];
    cl_kernel k = args.ctx.kernel("gather", "gather_elements_backward");
    set_args(k, mem(indices), mem(args.grad_output), mem(*gx), count(*gx),
             cl_int(gx->shape().size()), cl_int(axis(gx->shape())), pack_long8(indices.shape()),
             pack_long8(gx->shape()), args.betas[0]);
    args.ctx.enqueue_elementwise(k, std::size_t(gx->size()));
  }

  // Backward reads the indices.
  Needs backward_needs() const override { return {true, false}; }
  bool differentiable(std::size_t input) const override { return input == 0; }

 private:
  std::size_t axis(const Shape& x) const { return normalize_axis(axis_, x.size(), type()); }
  int axis_;
};

class EmbeddingOp : public Op {
 public:
  std::string type() const override { return "embedding"; }

  Shape infer_shape(const std::vector<Shape>& in) const override {
    const Shape &table = in[0], &indices = in[1];
    if (table.size() != 2)
      throw ShapeError(type() + ": the table " + to_string(table) + " must be [rows, size]");
    Shape out = indices;
    out.push_back(table[1]);
    return out;
  }

  void forward(const ForwardArgs& args) const override {
    const Tensor &table = *args.inputs[0], &indices = *args.inputs[1];
    cl_kernel k = args.ctx.kernel("gather", "embedding_forward");
    set_args(k, mem(table), mem(indices), mem(args.output), count(indices),
             cl_ulong(table.shape()[0]), cl_ulong(table.shape()[1]));
    args.ctx.enqueue_elementwise(k, std::size_t(args.output.size()));
  }

  void backward(const BackwardArgs& args) const override {
    Tensor* gtable = args.grad_inputs[0];
    if (!gtable) return;
    const Tensor& indices = *args.inputs[1];
    const std::size_t rows = std::size_t(gtable->shape()[0]), d = std::size_t(gtable->shape()[1]);
    cl_kernel k = args.ctx.kernel("gather", "embedding_backward");
    set_args(k, mem(indices), mem(args.grad_output), mem(*gtable), count(indices), cl_ulong(rows),
             cl_ulong(d), args.betas[0]);
    enqueue_rows(args.ctx, k, args.ctx.reduction_plan, rows,
                 row_local_size(args.ctx.reduction_plan, d));
  }

  // Backward reads the indices.
  Needs backward_needs() const override { return {true, false}; }
  bool differentiable(std::size_t input) const override { return input == 0; }

  // Backward: for every column, every table row compares every index.
  Cost cost(const CostArgs& args) const override {
    Cost c = Op::cost(args);
    if (args.pass == Pass::backward)
      c.flops = double(element_count(args.inputs[0])) * double(element_count(args.inputs[1]));
    return c;
  }
};

}  // namespace

}  // namespace clnn::detail

namespace clnn {

Value gather_elements(const Value& x, const Value& indices, int axis) {
  return GraphAccess::add(std::make_shared<detail::GatherElementsOp>(axis), {x, indices});
}

Value embedding(const Value& table, const Value& indices) {
  return GraphAccess::add(std::make_shared<detail::EmbeddingOp>(), {table, indices});
}

}  // namespace clnn
