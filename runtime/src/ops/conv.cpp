// conv: 1-, 2- and 3-D convolution with strides, asymmetric padding, dilation and groups, through
// column matrices and GEMM, a chunk of samples at a time. Forward and all three gradients run on
// the device.
#include <algorithm>
#include <memory>

#include "cl/kernel_call.hpp"
#include "clnn/error.hpp"
#include "clnn/ops.hpp"
#include "context_impl.hpp"
#include "ops/common.hpp"
#include "ops/gemm.hpp"
#include "ops/op.hpp"
#include "ops/spatial.hpp"

namespace clnn::detail {

namespace {

// The workspace holds a chunk's column matrix and its [K, nb * P] GEMM result; chunks are as many
// samples as fit this many floats (at least one sample).
constexpr std::size_t kWorkspaceBudget = std::size_t{1} << 25;

class ConvOp : public Op {
 public:
  explicit ConvOp(ConvOptions options) : options_(std::move(options)) {}
  std::string type() const override { return "conv"; }

  Shape infer_shape(const std::vector<Shape>& in) const override {
    const Shape &x = in[0], &w = in[1];
    if (w.size() != x.size())
      throw ShapeError(shape_mismatch("conv", "weights must have the input's rank", x, w));
    const std::int64_t groups = options_.groups;
    if (groups < 1) throw ShapeError("conv: groups must be at least 1");
    if (x.size() >= 2 && x[1] % groups != 0)
      throw ShapeError("conv: " + std::to_string(x[1]) + " input channels are not divisible by " +
                       std::to_string(groups) + " groups");
    if (w[0] % groups != 0)
      throw ShapeError("conv: " + std::to_string(w[0]) + " filters are not divisible by " +
                       std::to_string(groups) + " groups");
    if (x.size() >= 2 && w[1] * groups != x[1])
      throw ShapeError(shape_mismatch(
          "conv", "weights must be [K, C / groups, k...] for the input's channels", x, w));
    Window win = window(x, w);
    if (in.size() == 3 && in[2] != Shape{w[0]})
      throw ShapeError(shape_mismatch("conv", "bias must be [K]", w, in[2]));
    return window_output_shape(win, w[0]);
  }

  void forward(const ForwardArgs& args) const override {
    const Tensor &x = *args.inputs[0], &w = *args.inputs[1];
    const Tensor* bias = args.inputs.size() == 3 ? args.inputs[2] : nullptr;
    const Plan p = plan(x.shape(), w.shape());
    for (std::int64_t n0 = 0; n0 < p.win.n; n0 += p.chunk) {
      const std::int64_t nb = std::min(p.chunk, p.win.n - n0);
      vol2col(args.ctx, p, x, args.workspace, n0, nb);
      // Per group: yt_g [K/G, nb P] = w_g [K/G, CK] col_g [CK, nb P], all groups in one call.
      GemmCall g = group_gemm(p);
      g.a = mem(w), g.lda = p.ck, g.stride_a = p.k_per_group * p.ck;
      g.b = mem(args.workspace), g.ldb = nb * p.positions, g.stride_b = p.ck * nb * p.positions;
      g.c = mem(args.workspace), g.offset_c = p.yt_offset(), g.ldc = nb * p.positions;
      g.stride_c = p.k_per_group * nb * p.positions;
      g.m = p.k_per_group, g.n = nb * p.positions, g.k = p.ck;
      gemm(args.ctx, g);
      cl_kernel k = args.ctx.kernel("conv", "chunk_to_nkp");
      set_args(k, mem(args.workspace), cl_ulong(p.yt_offset()), mem(args.output),
               mem(bias ? *bias : w), cl_int(bias != nullptr), cl_int(p.k), cl_long(p.positions),
               cl_int(n0), cl_int(nb));
      args.ctx.enqueue_elementwise(k, std::size_t(nb * p.k * p.positions));
    }
  }

  void backward(const BackwardArgs& args) const override {
    const Tensor &x = *args.inputs[0], &w = *args.inputs[1];
    Tensor* gx = args.grad_inputs[0];
    Tensor* gw = args.grad_inputs[1];
    Tensor* gb = args.grad_inputs.size() == 3 ? args.grad_inputs[2] : nullptr;
    const Plan p = plan(x.shape(), w.shape());
    for (std::int64_t n0 = 0; n0 < p.win.n; n0 += p.chunk) {
      const std::int64_t nb = std::min(p.chunk, p.win.n - n0);
      const std::size_t cols = std::size_t(nb * p.positions);
      const bool first = n0 == 0;  // later chunks add to what earlier ones wrote
      cl_kernel k = args.ctx.kernel("conv", "nkp_to_chunk");
      set_args(k, mem(args.grad_output), mem(args.workspace), cl_ulong(p.yt_offset()), cl_int(p.k),
               cl_long(p.positions), cl_int(n0), cl_int(nb));
      args.ctx.enqueue_elementwise(k, std::size_t(p.k) * cols);
      if (gb)  // the bias gradient sums gyt's rows
        reduce_middle(args.ctx, args.workspace, nullptr, *gb, {std::size_t(p.k), cols, 1}, 1.0f,
                      first ? args.betas[2] : 1.0f, p.yt_offset());
      if (gw) {
        vol2col(args.ctx, p, x, args.workspace, n0, nb);
        // gw_g [K/G, CK] += gyt_g [K/G, nb P] col_g^T
        GemmCall g = group_gemm(p);
        g.trans_b = true;
        g.a = mem(args.workspace), g.offset_a = p.yt_offset(), g.lda = cols;
        g.stride_a = p.k_per_group * cols;
        g.b = mem(args.workspace), g.ldb = cols, g.stride_b = p.ck * cols;
        g.c = mem(*gw), g.ldc = p.ck, g.stride_c = p.k_per_group * p.ck;
        g.m = p.k_per_group, g.n = p.ck, g.k = cols;
        g.beta = first ? args.betas[1] : 1.0f;
        gemm(args.ctx, g);
      }
      if (gx) {
        // gcol_g [CK, nb P] = w_g^T gyt_g, into the column block, then gathered into gx.
        GemmCall g = group_gemm(p);
        g.trans_a = true;
        g.a = mem(w), g.lda = p.ck, g.stride_a = p.k_per_group * p.ck;
        g.b = mem(args.workspace), g.offset_b = p.yt_offset(), g.ldb = cols;
        g.stride_b = p.k_per_group * cols;
        g.c = mem(args.workspace), g.ldc = cols, g.stride_c = p.ck * cols;
        g.m = p.ck, g.n = cols, g.k = p.k_per_group;
        gemm(args.ctx, g);
        cl_kernel c2v = args.ctx.kernel("conv", "col2vol");
        set_args(c2v, mem(args.workspace), cl_ulong(0), mem(*gx), p.win.packed(),
                 p.win.packed_out(), cl_int(n0), cl_int(nb), args.betas[0]);
        args.ctx.enqueue_elementwise(c2v, std::size_t(nb * p.win.c * p.win.in_positions()));
      }
    }
  }

  Needs backward_needs() const override { return {true, false}; }

  std::size_t workspace_floats(const std::vector<Shape>& in, const Shape&) const override {
    Plan p = plan(in[0], in[1]);
    return std::size_t(p.chunk * p.per_sample_floats());
  }

  bool to_onnx(OnnxNode& node) const override {
    node.op_type = "Conv";
    node.ints["group"] = options_.groups;
    if (!options_.strides.empty()) node.int_lists["strides"] = options_.strides;
    if (!options_.dilations.empty()) node.int_lists["dilations"] = options_.dilations;
    if (!options_.pads_begin.empty() || !options_.pads_end.empty()) {
      std::vector<std::int64_t> pads = options_.pads_begin, end = options_.pads_end;
      const std::size_t dims = std::max(pads.size(), end.size());
      pads.resize(dims, 0);
      end.resize(dims, 0);
      pads.insert(pads.end(), end.begin(), end.end());
      node.int_lists["pads"] = pads;
    }
    return true;
  }

 private:
  struct Plan {
    Window win;
    std::int64_t k = 0;  // filters
    std::int64_t groups = 1;
    std::int64_t k_per_group = 0;  // filters per group
    std::int64_t ck = 0;           // column rows per group: C/G * kernel positions
    std::int64_t positions = 0;    // output positions per sample
    std::int64_t chunk = 1;        // samples per chunk
    std::int64_t per_sample_floats() const { return (ck * groups + k) * positions; }
    // The GEMM result follows the column block.
    std::size_t yt_offset() const { return std::size_t(ck * groups * chunk * positions); }
  };

  Window window(const Shape& x, const Shape& w) const {
    WindowSpec spec;
    spec.kernel.assign(w.begin() + 2, w.end());
    spec.strides = options_.strides;
    spec.pads_begin = options_.pads_begin;
    spec.pads_end = options_.pads_end;
    spec.dilations = options_.dilations;
    return make_window("conv", x, spec);
  }

  Plan plan(const Shape& x, const Shape& w) const {
    Plan p;
    p.win = window(x, w);
    p.k = w[0];
    p.groups = options_.groups;
    p.k_per_group = p.k / p.groups;
    p.ck = (p.win.c / p.groups) * p.win.kernel_positions();
    p.positions = p.win.out_positions();
    p.chunk = std::clamp<std::int64_t>(
        std::int64_t(kWorkspaceBudget) / std::max<std::int64_t>(1, p.per_sample_floats()), 1,
        p.win.n);
    return p;
  }

  // A GEMM batched over the groups.
  static GemmCall group_gemm(const Plan& p) {
    GemmCall g;
    g.batch = std::size_t(p.groups);
    return g;
  }

  static void vol2col(ContextImpl& ctx, const Plan& p, const Tensor& x, const Tensor& workspace,
                      std::int64_t n0, std::int64_t nb) {
    const bool rows = ctx.planner.prefers_row_loops();
    cl_kernel k = ctx.kernel("conv", rows ? "vol2col_rows" : "vol2col");
    set_args(k, mem(x), mem(workspace), cl_ulong(0), p.win.packed(), p.win.packed_out(), cl_int(n0),
             cl_int(nb));
    const std::int64_t per_item = rows ? p.win.out[2] : 1;  // a row of OW positions, or one
    ctx.enqueue_elementwise(k, std::size_t(p.ck * p.groups * nb * p.positions / per_item));
  }

  ConvOptions options_;
};

}  // namespace

}  // namespace clnn::detail

namespace clnn {

Value conv(const Value& x, const Value& w, const std::optional<Value>& bias,
           const ConvOptions& options) {
  std::vector<Value> operands{x, w};
  if (bias) operands.push_back(*bias);
  return GraphAccess::add(std::make_shared<detail::ConvOp>(options), operands);
}

}  // namespace clnn
