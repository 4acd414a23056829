// gather_elements and embedding: each output element reads x where an index tensor says
// (cl_kernels/gather.cl); the gradients sum back into x without atomics.
#include <cmath>
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

  bool to_onnx(OnnxNode& node) const override {
    node.op_type = "GatherElements";
    node.ints["axis"] = axis_;
    node.index_inputs = {1};
    return true;
  }

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
    // The backward's keys (row * index count + position) must fit 64 bits.
    if (double(table[0] + 1) * double(element_count(indices)) > 0x1p62)
      throw ShapeError(type() + ": a table of " + std::to_string(table[0]) + " rows and " +
                       std::to_string(element_count(indices)) + " indices is beyond clnn");
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
    auto& ctx = args.ctx;
    const std::size_t rows = std::size_t(gtable->shape()[0]), d = std::size_t(gtable->shape()[1]);
    const std::size_t n = std::size_t(indices.size()), padded = padded_count(n);
    // The indices' keys, sorted (cl_kernels/gather.cl), in the workspace.
    cl_kernel keys = ctx.kernel("gather", "embedding_keys");
    set_args(keys, mem(indices), mem(args.workspace), cl_ulong(n), cl_ulong(padded),
             cl_ulong(rows));
    ctx.enqueue_elementwise(keys, padded);
    cl_kernel step = ctx.kernel("gather", "bitonic_step");
    for (std::size_t k = 2; k <= padded; k <<= 1)
      for (std::size_t j = k >> 1; j > 0; j >>= 1) {
        set_args(step, mem(args.workspace), cl_ulong(padded), cl_ulong(j), cl_ulong(k));
        ctx.enqueue_elementwise(step, padded);
      }
    cl_kernel sums = ctx.kernel("gather", "embedding_backward");
    set_args(sums, mem(args.workspace), mem(args.grad_output), mem(*gtable), cl_ulong(n),
             cl_ulong(rows), cl_ulong(d), args.betas[0]);
    enqueue_rows(ctx, sums, ctx.reduction_plan, rows, row_local_size(ctx.reduction_plan, d));
  }

  bool to_onnx(OnnxNode& node) const override {
    node.op_type = "Gather";  // rows of the table: axis 0
    node.index_inputs = {1};
    return true;
  }

  // Backward sorts a 64-bit key per index, padded to a power of two.
  std::size_t workspace_floats(const std::vector<Shape>& in, const Shape&) const override {
    return 2 * padded_count(std::size_t(element_count(in[1])));
  }

  // Backward reads the indices.
  Needs backward_needs() const override { return {true, false}; }
  bool differentiable(std::size_t input) const override { return input == 0; }

  // Backward: the sort's compare-exchange steps over the keys, and each index's gy row summed.
  Cost cost(const CostArgs& args) const override {
    Cost c = Op::cost(args);
    if (args.pass == Pass::backward) {
      const double n = double(padded_count(std::size_t(element_count(args.inputs[1]))));
      const double steps = std::log2(n) * (std::log2(n) + 1) / 2;
      c.bytes += 16.0 * n * steps;
    }
    return c;
  }

 private:
  static std::size_t padded_count(std::size_t n) {
    std::size_t p = 1;
    while (p < n) p <<= 1;
    return p;
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
