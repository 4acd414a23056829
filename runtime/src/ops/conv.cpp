// conv: 1-, 2- and 3-D convolution with strides, asymmetric padding, dilation and groups, the op
// and its passes. Each pass takes one route: depthwise convolutions gathered per channel
// (ops/conv_depthwise.hpp), 3x3 and 5x5 ones by Winograd's transforms (ops/conv_winograd.hpp),
// forward and input gradient as implicit GEMMs (ops/conv_implicit.hpp), on CPUs 1x1 ones as
// products of each sample's plane (ops/conv_pointwise.hpp) and the others directly over a padded
// copy of the input (ops/conv_padded.hpp), gradients directly
// (ops/conv_direct.hpp) or over shifted copies of the input (ops/conv_shifted.hpp), and
// everything else here, through column matrices and GEMM, a chunk of samples at a time.
#include <algorithm>
#include <memory>
#include <tuple>

#include "checked_int.hpp"
#include "cl/kernel_call.hpp"
#include "clnn/error.hpp"
#include "clnn/ops.hpp"
#include "context_impl.hpp"
#include "kernel_codes.h"
#include "ops/common.hpp"
#include "ops/conv_depthwise.hpp"
#include "ops/conv_direct.hpp"
#include "ops/conv_implicit.hpp"
#include "ops/conv_padded.hpp"
#include "ops/conv_pointwise.hpp"
#include "ops/conv_shifted.hpp"
#include "ops/conv_winograd.hpp"
#include "ops/gemm.hpp"
#include "ops/gemm_host.hpp"
#include "ops/op.hpp"
#include "ops/spatial.hpp"

namespace clnn::detail {

namespace {

// The workspace holds a chunk's column matrix and its [K, nb * P] GEMM result; chunks are as many
// samples as fit this many floats (at least one sample).
constexpr std::size_t kWorkspaceBudget = std::size_t{1} << 25;

// ONNX's pads: the begins of every spatial dimension, then the ends.
std::vector<std::int64_t> onnx_pads(const ConvOptions& o) {
  std::vector<std::int64_t> pads = o.pads_begin, end = o.pads_end;
  const std::size_t dims = std::max(pads.size(), end.size());
  pads.resize(dims, 0);
  end.resize(dims, 0);
  pads.insert(pads.end(), end.begin(), end.end());
  return pads;
}

// The geometry of one convolution y = conv(x, w): x [N, C, in...], w [K, C/G, k...],
// y [N, K, out...], worked a chunk of samples at a time.
struct ConvPlan {
  Window win;
  std::int64_t k = 0;  // filters
  std::int64_t groups = 1;
  std::int64_t k_per_group = 0;  // filters per group
  std::int64_t ck = 0;           // column rows per group: C/G * kernel positions
  std::int64_t positions = 0;    // output positions per sample
  std::int64_t chunk = 1;        // samples per chunk

  static ConvPlan make(const std::string& op, const Shape& x, const Shape& w,
                       const ConvOptions& o) {
    WindowSpec spec;
    spec.kernel.assign(w.begin() + 2, w.end());
    spec.strides = o.strides;
    spec.pads_begin = o.pads_begin;
    spec.pads_end = o.pads_end;
    spec.dilations = o.dilations;
    ConvPlan p;
    p.win = make_window(op, x, spec);
    p.k = w[0];
    p.groups = o.groups;
    p.k_per_group = p.k / p.groups;
    p.ck = (p.win.c / p.groups) * p.win.kernel_positions();
    p.positions = p.win.out_positions();
    p.chunk = std::clamp<std::int64_t>(
        std::int64_t(kWorkspaceBudget) / std::max<std::int64_t>(1, p.per_sample_floats()), 1,
        p.win.n);
    return p;
  }
  std::int64_t per_sample_floats() const { return (ck * groups + k) * positions; }
  // A chunk's column matrix and product, or the padded route's copies (CPUs) where they are
  // within the budget (beyond it the column route runs, a chunk at a time), the larger.
  std::size_t workspace_floats() const {
    const std::size_t copies = padded_workspace_floats(win, k, groups);
    return std::max(std::size_t(chunk * per_sample_floats()),
                    copies <= kWorkspaceBudget ? copies : 0);
  }
  // The GEMM result follows the column block.
  std::size_t yt_offset() const { return std::size_t(ck * groups * chunk * positions); }
};

}  // namespace

ImplicitConv implicit_conv_for(ContextImpl& ctx, const Shape& x, const Shape& w,
                               const ConvOptions& options) {
  const ConvPlan p = ConvPlan::make("conv", x, w, options);
  return {ctx, p.win, p.k, p.groups};
}

namespace {

// Convolution through column matrices in a workspace: y = conv(x, w) + bias, and the gradients
// of input, weights and bias. (Transposed convolution runs the same steps in other roles.)
class ColumnConv {
 public:
  ColumnConv(ContextImpl& ctx, ConvPlan plan, const Tensor& workspace)
      : ctx_(ctx),
        p_(std::move(plan)),
        ws_(workspace),
        per_sample_(p_.groups == 1 && host_blas_pays(ctx)) {}

  // y = epilogue(beta * y + conv(x, w) + bias)
  void forward(const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor& y, float beta,
               const Epilogue& epilogue) {
    for (std::int64_t n0 = 0; n0 < p_.win.n; n0 += p_.chunk) {
      const std::int64_t nb = std::min(p_.chunk, p_.win.n - n0);
      const std::size_t cols = std::size_t(nb * p_.positions);
      vol2col(x, n0, nb);
      if (per_sample_) {
        // The bias and epilogue as the pointwise route adds them, over the chunk's samples:
        // ResNet-50's strided 1 x 1 layers had run a pass for each.
        gemm_into_channels(ctx_, into_samples(w, y, n0, nb, beta), y, bias, epilogue,
                           n0 * y.shape()[1]);
        continue;
      }
      // Per group: yt_g [K/G, nb P] = w_g [K/G, CK] col_g [CK, nb P], all groups in one call.
      GemmCall g = group_gemm();
      g.a = mem(w), g.lda = p_.ck, g.stride_a = p_.k_per_group * p_.ck;
      g.b = mem(ws_), g.ldb = cols, g.stride_b = p_.ck * cols;
      g.c = mem(ws_), g.offset_c = p_.yt_offset(), g.ldc = cols;
      g.stride_c = p_.k_per_group * cols;
      g.m = p_.k_per_group, g.n = cols, g.k = p_.ck;
      gemm(ctx_, g);
      cl_kernel k = ctx_.kernel("conv", "chunk_to_nkp");
      set_args(k, mem(ws_), cl_ulong(p_.yt_offset()), mem(y), mem(bias ? *bias : w),
               cl_int(bias != nullptr), cl_int(p_.k), cl_long(p_.positions), cl_int(n0), cl_int(nb),
               beta);
      ctx_.enqueue_elementwise(k, std::size_t(p_.k) * cols);
    }
    if (!per_sample_) apply_epilogue(ctx_, y, epilogue);
  }

  // Gradients from gy (each optional; betas[0..2] for x, w and bias).
  void backward(const Tensor& x, const Tensor& w, const Tensor& gy, const Tensor* gx,
                const Tensor* gw, const Tensor* gb, const std::vector<float>& betas) {
    for (std::int64_t n0 = 0; n0 < p_.win.n; n0 += p_.chunk) {
      const std::int64_t nb = std::min(p_.chunk, p_.win.n - n0);
      const std::size_t cols = std::size_t(nb * p_.positions);
      const bool first = n0 == 0;  // later chunks add to what earlier ones wrote
      cl_kernel k = ctx_.kernel("conv", "nkp_to_chunk");
      set_args(k, mem(gy), mem(ws_), cl_ulong(p_.yt_offset()), cl_int(p_.k), cl_long(p_.positions),
               cl_int(n0), cl_int(nb));
      ctx_.enqueue_elementwise(k, std::size_t(p_.k) * cols);
      if (gb)  // the bias gradient sums gyt's rows
        reduce_middle(ctx_, ws_, nullptr, *gb, {std::size_t(p_.k), cols, 1}, 1.0f,
                      first ? betas[2] : 1.0f, p_.yt_offset());
      if (gw) {
        vol2col(x, n0, nb);
        // gw_g [K/G, CK] += gyt_g [K/G, nb P] col_g^T
        GemmCall g = group_gemm();
        g.trans_b = true;
        g.a = mem(ws_), g.offset_a = p_.yt_offset(), g.lda = cols;
        g.stride_a = p_.k_per_group * cols;
        g.b = mem(ws_), g.ldb = cols, g.stride_b = p_.ck * cols;
        g.c = mem(*gw), g.ldc = p_.ck, g.stride_c = p_.k_per_group * p_.ck;
        g.m = p_.k_per_group, g.n = p_.ck, g.k = cols;
        g.beta = first ? betas[1] : 1.0f;
        gemm(ctx_, g);
      }
      if (gx) {
        // gcol_g [CK, nb P] = w_g^T gyt_g, into the column block, then gathered into gx.
        GemmCall g = group_gemm();
        g.trans_a = true;
        g.a = mem(w), g.lda = p_.ck, g.stride_a = p_.k_per_group * p_.ck;
        g.b = mem(ws_), g.offset_b = p_.yt_offset(), g.ldb = cols;
        g.stride_b = p_.k_per_group * cols;
        g.c = mem(ws_), g.ldc = cols, g.stride_c = p_.ck * cols;
        g.m = p_.ck, g.n = cols, g.k = p_.k_per_group;
        gemm(ctx_, g);
        cl_kernel c2v = ctx_.kernel("conv", "col2vol");
        set_args(c2v, mem(ws_), cl_ulong(0), mem(*gx), p_.win.packed(), p_.win.packed_out(),
                 cl_int(n0), cl_int(nb), betas[0]);
        ctx_.enqueue_elementwise(c2v, std::size_t(nb * p_.win.c * p_.win.in_positions()));
      }
    }
  }

 private:
  // One group's y [n0 + n] [K, P] = w [K, CK] col[:, n P .. (n + 1) P] for each sample n < nb of
  // the chunk, with beta (no bias): straight into y, where chunk_to_nkp would reorder the
  // chunk's product (and cost as much as the product on CPUs).
  GemmCall into_samples(const Tensor& w, const Tensor& y, std::int64_t n0, std::int64_t nb,
                        float beta) const {
    const auto positions = std::size_t(p_.positions), cols = std::size_t(nb) * positions;
    GemmCall g;
    g.m = std::size_t(p_.k), g.n = positions, g.k = std::size_t(p_.ck), g.batch = std::size_t(nb);
    g.a = mem(w), g.lda = std::size_t(p_.ck);
    g.b = mem(ws_), g.ldb = cols, g.stride_b = positions;
    g.c = mem(y), g.offset_c = std::size_t(n0 * p_.k) * positions, g.ldc = positions;
    g.stride_c = std::size_t(p_.k) * positions;
    g.beta = beta;
    return g;
  }

  // A GEMM batched over the groups.
  GemmCall group_gemm() const {
    GemmCall g;
    g.batch = std::size_t(p_.groups);
    return g;
  }

  void vol2col(const Tensor& x, std::int64_t n0, std::int64_t nb) {
    const bool rows = ctx_.row_loops;
    cl_kernel k = ctx_.kernel("conv", rows ? "vol2col_rows" : "vol2col");
    set_args(k, mem(x), mem(ws_), cl_ulong(0), p_.win.packed(), p_.win.packed_out(), cl_int(n0),
             cl_int(nb));
    // vol2col_rows: a work-item per line of OW positions of one patch element; vol2col: one per
    // channel and output position, looping over the channel's part of the patch.
    const std::int64_t items = rows ? p_.ck * p_.groups * nb * p_.positions / p_.win.out[2]
                                    : p_.win.c * nb * p_.positions;
    ctx_.enqueue_elementwise(k, std::size_t(items));
  }

  ContextImpl& ctx_;
  ConvPlan p_;
  const Tensor& ws_;
  // Forward's products go straight into y, a sample each (into_samples): where they run on the
  // host BLAS, whose calls cost no launch.
  bool per_sample_;
};

// gb = beta * gb + gy summed over samples and positions: a bias's gradient.
void channel_sums(ContextImpl& ctx, const Tensor& gy, const Tensor& gb, float beta) {
  Shape channel(gy.shape().size(), 1);
  channel[1] = gy.shape()[1];
  sum_to_shape(ctx, gy, gy.shape(), gb, channel, beta);
}

// The routes a convolution's passes take: the table below decides them, in one place, from
// each route's serves_*() (its geometry, the device and ContextImpl::conv_route).
enum class Route {
  none,
  depthwise,
  winograd,
  implicit,
  pointwise,
  padded,
  direct,
  shifted,
  channel_sums,
  columns
};

// Which route computes each wanted gradient (none where it is not wanted).
struct BackwardRoutes {
  Route gx = Route::none, gw = Route::none, gb = Route::none;
};

// A convolution's passes, each (depthwise) gathered per channel, by Winograd's transforms, as an
// implicit GEMM, (gradients) directly or (the weight gradient) over shifted copies of the input
// where that serves, else through column matrices in the workspace.
class ConvPasses {
 public:
  ConvPasses(ContextImpl& ctx, const ConvPlan& plan, const Tensor& workspace)
      : geometry_{ctx, plan.win, plan.k, plan.groups},
        depthwise_{geometry_},
        winograd_{geometry_},
        direct_{geometry_},
        implicit_{geometry_},
        pointwise_{geometry_},
        padded_{geometry_},
        shifted_{geometry_},
        workspace_(workspace),
        workspace_floats_(plan.workspace_floats()),
        columns_(ctx, plan, workspace) {}

  Route forward_route() const {
    if (depthwise_.serves()) return Route::depthwise;
    if (winograd_.serves_forward()) return Route::winograd;
    if (implicit_.serves_forward()) return Route::implicit;
    if (pointwise_.serves_forward()) return Route::pointwise;
    if (padded_.serves_forward(workspace_floats_)) return Route::padded;
    return Route::columns;
  }

  // The routes of the wanted gradients: depthwise takes both where it serves, then the input
  // gradient by Winograd, the implicit GEMM or (CPUs) the pointwise products or the padded
  // direct convolution of gy, the weight gradient by the pointwise products or over padded
  // copies (CPUs), then the direct kernels take what is left of
  // both, the shifted copies the weight gradient (and the bias's with it); a bias gradient alone
  // is a channel sum; the column route takes the rest together (sharing gy's copy).
  BackwardRoutes backward_routes(bool gx, bool gw, bool gb) const {
    BackwardRoutes r;
    auto open = [](bool wanted, Route route) { return wanted && route == Route::none; };
    if ((gx || gw) && depthwise_.serves()) {
      if (gx) r.gx = Route::depthwise;
      if (gw) r.gw = Route::depthwise;
    }
    if (open(gx, r.gx) && winograd_.serves_input_gradient()) r.gx = Route::winograd;
    if (open(gx, r.gx) && implicit_.serves_input_gradient()) r.gx = Route::implicit;
    if (pointwise_.serves_gradients()) {
      if (open(gx, r.gx)) r.gx = Route::pointwise;
      if (open(gw, r.gw)) r.gw = Route::pointwise;
    }
    if (open(gx, r.gx) && padded_.serves_input_gradient(workspace_floats_)) r.gx = Route::padded;
    if (open(gw, r.gw) && padded_.serves_weight_gradient(workspace_floats_)) r.gw = Route::padded;
    if ((open(gx, r.gx) || open(gw, r.gw)) && direct_.serves_gradients()) {
      if (open(gx, r.gx)) r.gx = Route::direct;
      if (open(gw, r.gw)) r.gw = Route::direct;
    }
    if (open(gw, r.gw) && shifted_.serves_weight_gradient(workspace_floats_)) {
      r.gw = Route::shifted;
      if (gb) r.gb = Route::shifted;
    }
    if (open(gb, r.gb) && !open(gx, r.gx) && !open(gw, r.gw)) r.gb = Route::channel_sums;
    if (open(gx, r.gx)) r.gx = Route::columns;
    if (open(gw, r.gw)) r.gw = Route::columns;
    if (open(gb, r.gb)) r.gb = Route::columns;
    return r;
  }

  // Floats of the filters as the forward route reads them where it does not read them as stored
  // (rearranged tap-major, or transformed), else 0; and prepare_filters writes them.
  std::size_t prepared_filter_floats() const {
    switch (forward_route()) {
      case Route::winograd:
        return winograd_.prepared_filter_floats();
      case Route::implicit:
        return implicit_.prepared_filter_floats();
      default:
        return 0;
    }
  }
  void prepare_filters(const Tensor& w, const Tensor& prepared) const {
    if (forward_route() == Route::winograd) return winograd_.prepare_filters(w, prepared);
    implicit_.prepare_filters(w, prepared);
  }

  // y = epilogue(beta * y + conv(x, w) + bias), written where `placement` says if it says: the
  // implicit GEMM, Winograd, the pointwise products and the padded route write there
  // themselves, other routes write y and copy it. `prepared`, if given, holds
  // prepare_filters' filters.
  void forward(const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor& y, float beta,
               const Epilogue& epilogue = {}, const Placement& placement = {},
               const Tensor* prepared = nullptr) {
    switch (forward_route()) {
      case Route::depthwise:
        depthwise_.forward(x, w, bias, y, beta, epilogue);
        break;
      case Route::winograd:
        return winograd_.forward(x, w, bias, y, beta, epilogue, placement, prepared);
      case Route::implicit:
        return implicit_.forward(x, w, bias, y, beta, epilogue, placement, prepared);
      case Route::pointwise:
        return pointwise_.forward(x, w, bias, y, beta, epilogue, placement);
      case Route::padded:
        return padded_.forward(x, w, bias, y, beta, epilogue, workspace_, placement);
      default:
        columns_.forward(x, w, bias, y, beta, epilogue);
    }
    if (placement.into) copy_to_placement(geometry_.ctx, y, placement);
  }

  // Gradients from gy (each optional; betas[0..2] for x, w and bias).
  void backward(const Tensor& x, const Tensor& w, const Tensor& gy, const Tensor* gx,
                const Tensor* gw, const Tensor* gb, const std::vector<float>& betas) {
    const BackwardRoutes r = backward_routes(gx, gw, gb);
    if (r.gx == Route::depthwise) depthwise_.input_gradient(gy, w, *gx, betas[0]);
    if (r.gw == Route::depthwise) depthwise_.weight_gradient(x, gy, *gw, betas[1]);
    if (r.gx == Route::winograd) winograd_.input_gradient(gy, w, *gx, betas[0]);
    if (r.gx == Route::implicit) implicit_.input_gradient(gy, w, *gx, betas[0]);
    if (r.gx == Route::pointwise) pointwise_.input_gradient(gy, w, *gx, betas[0]);
    if (r.gw == Route::pointwise) pointwise_.weight_gradient(x, gy, *gw, betas[1]);
    if (r.gx == Route::padded) padded_.input_gradient(gy, w, *gx, betas[0], workspace_);
    if (r.gw == Route::padded) padded_.weight_gradient(x, gy, *gw, betas[1], workspace_);
    if (r.gx == Route::direct) direct_.input_gradient(gy, w, *gx, betas[0]);
    if (r.gw == Route::direct) direct_.weight_gradient(x, gy, *gw, betas[1]);
    if (r.gw == Route::shifted)
      shifted_.weight_gradient(x, gy, *gw, r.gb == Route::shifted ? gb : nullptr, betas[1],
                               betas[2], workspace_);
    if (r.gb == Route::channel_sums) channel_sums(geometry_.ctx, gy, *gb, betas[2]);
    auto by_columns = [](Route route, const Tensor* t) {
      return route == Route::columns ? t : nullptr;
    };
    if (r.gx == Route::columns || r.gw == Route::columns || r.gb == Route::columns)
      columns_.backward(x, w, gy, by_columns(r.gx, gx), by_columns(r.gw, gw),
                        by_columns(r.gb, gb), betas);
  }

  // The forward route in words (the depthwise route's form with it).
  std::string describe_forward() const {
    const Route route = forward_route();
    return route == Route::depthwise ? depthwise_.describe_forward()
                                     : describe(route, Described::forward);
  }

  // The pass a description is of: a route's plan differs between them.
  enum class Described { forward, input_gradient, weight_gradient, bias_gradient };

  // A route in words, with its plan where it has one: what Executor::schedule() shows.
  std::string describe(Route route, Described pass) const {
    const bool input_gradient = pass == Described::input_gradient;
    switch (route) {
      case Route::depthwise:
        return "depthwise";
      case Route::winograd:
        return "winograd " + winograd_.describe();
      case Route::implicit:
        return "implicit GEMM " + chosen_config(geometry_.ctx, input_gradient
                                                                   ? implicit_.input_gradient_launch()
                                                                   : implicit_.forward_launch())
                                      .describe();
      case Route::pointwise:
        return "pointwise GEMM";
      case Route::padded:
        return input_gradient                       ? padded_.describe_input_gradient()
               : pass == Described::weight_gradient ? padded_.describe_weight_gradient()
                                                    : padded_.describe_forward();
      case Route::direct:
        return "direct";
      case Route::shifted:
        return "shifted copies + GEMM";
      case Route::channel_sums:
        return "channel sums";
      case Route::columns:
        return "columns + GEMM";
      case Route::none:
        break;
    }
    return "";
  }

 private:
  ConvGeometry geometry_;  // what each route below takes
  DepthwiseConv depthwise_;
  WinogradConv winograd_;
  DirectConv direct_;
  ImplicitConv implicit_;
  PointwiseConv pointwise_;
  PaddedConv padded_;
  ShiftedConv shifted_;
  const Tensor& workspace_;
  std::size_t workspace_floats_;
  ColumnConv columns_;
};

// A convolution's cost (ops/op.hpp), given the default's bytes (each operand once): with weights
// w [K, C / groups, taps...] over `positions` [N, K, ...] (the output, or a transposed
// convolution's input), 2·N·K·(C/groups)·taps·positions forward and the same again for each
// wanted gradient of x and w; a bias costs one operation per output element.
Cost conv_cost(Cost c, const CostArgs& args, const Shape& positions) {
  const Shape& w = args.inputs[1];
  const double per_position = double(element_count(w)) / double(w[0]);  // (C/groups)·taps
  const double product = 2.0 * double(element_count(positions)) * per_position;
  const double bias = args.inputs.size() == 3 ? double(element_count(args.output)) : 0.0;
  if (args.pass == Pass::forward)
    c.flops = product + bias;
  else
    c.flops =
        product * double(int(args.wants(0)) + int(args.wants(1))) + (args.wants(2) ? bias : 0.0);
  return c;
}

class ConvOp : public Op {
 public:
  explicit ConvOp(ConvOptions options) : options_(std::move(options)) {}
  std::string type() const override { return "conv"; }

  Shape infer_shape(const std::vector<Shape>& in) const override {
    const Shape &x = in[0], &w = in[1];
    if (x.size() < 3 || x.size() > 5 || w.size() != x.size())
      throw ShapeError(
          shape_mismatch("conv", "input and weights must be 3-, 4- or 5-D alike", x, w));
    const std::int64_t groups = options_.groups;
    if (groups < 1) throw ShapeError("conv: groups must be at least 1");
    if (x[1] % groups != 0)
      throw ShapeError("conv: " + std::to_string(x[1]) + " input channels are not divisible by " +
                       std::to_string(groups) + " groups");
    if (w[0] % groups != 0)
      throw ShapeError("conv: " + std::to_string(w[0]) + " filters are not divisible by " +
                       std::to_string(groups) + " groups");
    if ((CheckedInt(w[1]) * groups).value() != x[1])
      throw ShapeError(shape_mismatch(
          "conv", "weights must be [K, C / groups, k...] for the input's channels", x, w));
    const ConvPlan p = plan(x, w);
    if (in.size() == 3 && in[2] != Shape{w[0]})
      throw ShapeError(shape_mismatch("conv", "bias must be [K]", w, in[2]));
    return window_output_shape(p.win, w[0]);
  }

  void forward(const ForwardArgs& args) const override {
    const Tensor* bias = args.inputs.size() == 3 ? args.inputs[2] : nullptr;
    ConvPasses c(args.ctx, plan(args.inputs[0]->shape(), args.inputs[1]->shape()), args.workspace);
    c.forward(*args.inputs[0], *args.inputs[1], bias, args.output, args.accumulate ? 1.0f : 0.0f,
              args.epilogue, args.placement, args.prepared);
  }

  // The filters, rearranged or transformed for the forward route (tap_major_filters,
  // winograd_filters: 0.31 ms of r3d_18's 4.5 at batch 1 on the H200, when made every call).
  std::size_t prepared_floats(ContextImpl& ctx, const std::vector<Shape>& in,
                              const Shape&) const override {
    static const Tensor unused;  // deciding the route touches no workspace
    return ConvPasses(ctx, plan(in[0], in[1]), unused).prepared_filter_floats();
  }
  std::vector<std::size_t> prepared_from() const override { return {1}; }
  bool prepare(const PrepareArgs& args) const override {
    static const Tensor unused;
    const Tensor& w = *args.inputs[1];
    const ConvPasses c(args.ctx, plan(args.inputs[0]->shape(), w.shape()), unused);
    const std::size_t floats = c.prepared_filter_floats();
    if (floats == 0 || floats > std::size_t(args.prepared.size())) return false;
    c.prepare_filters(w, args.prepared);
    return true;
  }

  // Clamps only: GELU's erf in a GEMM kernel's stores costs it registers (in gemm_vec4's it made
  // the transformer rows' products 20-30% slower on the H100, session 61).
  bool takes_epilogue(const Epilogue& e) const override { return e.clamps(); }
  bool takes_placement() const override { return true; }
  bool takes_accumulation() const override { return true; }

  // A relu folded in: the executor masks its gradient where the output is 0, in place (the
  // relu's gradient is this convolution's, and nothing else reads it), before backward.
  EpilogueBackward backward_with_epilogue(const Epilogue& e) const override {
    return e.masks_from_output() ? EpilogueBackward::from_output : EpilogueBackward::refused;
  }

  void backward(const BackwardArgs& args) const override {
    const Tensor &x = *args.inputs[0], &w = *args.inputs[1];
    Tensor* gb = args.grad_inputs.size() == 3 ? args.grad_inputs[2] : nullptr;
    ConvPasses c(args.ctx, plan(x.shape(), w.shape()), args.workspace);
    c.backward(x, w, args.grad_output, args.grad_inputs[0], args.grad_inputs[1], gb, args.betas);
  }

  Needs backward_needs() const override { return {true, false}; }

  std::size_t workspace_floats(const std::vector<Shape>& in, const Shape&) const override {
    return plan(in[0], in[1]).workspace_floats();
  }

  Cost cost(const CostArgs& args) const override {
    return conv_cost(Op::cost(args), args, args.output);
  }

  // "winograd F(4x4, 3x3)"; backward "x: implicit GEMM ...; w: shifted copies + GEMM".
  std::string describe(const DescribeArgs& args) const override {
    static const Tensor unused;  // describing touches no workspace
    const ConvPasses c(args.ctx, plan(args.inputs[0], args.inputs[1]), unused);
    if (args.pass == Pass::forward)
      return c.describe_forward() + (args.epilogue.on ? ", activation folded in" : "");
    auto wants = [&](std::size_t i) { return i < args.wanted.size() && args.wanted[i]; };
    const BackwardRoutes r = c.backward_routes(wants(0), wants(1), wants(2));
    std::string out;
    using Described = ConvPasses::Described;
    for (auto [name, route, pass] : {std::tuple{"x", r.gx, Described::input_gradient},
                                     {"w", r.gw, Described::weight_gradient},
                                     {"bias", r.gb, Described::bias_gradient}})
      if (route != Route::none)
        out += (out.empty() ? "" : "; ") + std::string(name) + ": " + c.describe(route, pass);
    return out;
  }

  bool to_onnx(OnnxNode& node) const override {
    node.op_type = "Conv";
    node.ints["group"] = options_.groups;
    if (!options_.strides.empty()) node.int_lists["strides"] = options_.strides;
    if (!options_.dilations.empty()) node.int_lists["dilations"] = options_.dilations;
    if (auto pads = onnx_pads(options_); !pads.empty()) node.int_lists["pads"] = pads;
    return true;
  }

 private:
  ConvPlan plan(const Shape& x, const Shape& w) const {
    return ConvPlan::make("conv", x, w, options_);
  }
  ConvOptions options_;
};

// Transposed convolution as the virtual convolution y' = conv(y, w) read backwards: forward is
// that convolution's input gradient, the input gradient its forward, the weight gradient its
// weight gradient with the roles of x and y exchanged.
class ConvTransposeOp : public Op {
 public:
  explicit ConvTransposeOp(ConvTransposeOptions options) : options_(std::move(options)) {}
  std::string type() const override { return "conv_transpose"; }

  Shape infer_shape(const std::vector<Shape>& in) const override {
    const Shape &x = in[0], &w = in[1];
    if (x.size() < 3 || x.size() > 5 || w.size() != x.size())
      throw ShapeError(
          shape_mismatch(type(), "input and weights must be 3-, 4- or 5-D alike", x, w));
    const std::int64_t groups = options_.groups;
    if (groups < 1 || x[1] % groups != 0 || w[0] != x[1])
      throw ShapeError(shape_mismatch(
          type(), "weights must be [C, M / groups, k...] with C divisible by groups", x, w));
    const std::size_t dims = x.size() - 2;
    auto entry = [&](const std::vector<std::int64_t>& v, std::size_t d, std::int64_t fallback) {
      if (!v.empty() && v.size() != dims)
        throw ShapeError(type() + ": an option has " + std::to_string(v.size()) + " entries for " +
                         std::to_string(dims) + " spatial dimensions");
      return v.empty() ? fallback : v[d];
    };
    Shape y{x[0], (CheckedInt(w[1]) * groups).value()};
    for (std::size_t d = 0; d < dims; ++d) {
      const std::int64_t s = entry(options_.strides, d, 1), dil = entry(options_.dilations, d, 1);
      const std::int64_t op = entry(options_.output_padding, d, 0);
      if (s < 1 || dil < 1 || op < 0 || (op >= s && op >= dil))
        throw ShapeError(type() +
                         ": strides and dilations must be positive and output_padding "
                         "below one of them");
      const std::int64_t out = (CheckedInt(s) * (CheckedInt(x[d + 2]) - 1) + op +
                                CheckedInt(dil) * (w[d + 2] - 1) + 1 -
                                entry(options_.pads_begin, d, 0) - entry(options_.pads_end, d, 0))
                                   .value();
      if (out < 1) throw ShapeError(shape_mismatch(type(), "the padding leaves no output", x, w));
      y.push_back(out);
    }
    if (in.size() == 3 && in[2] != Shape{y[1]})
      throw ShapeError(shape_mismatch(type(), "bias must be [M]", y, in[2]));
    const ConvPlan p = plan(y, w);  // the virtual convolution must map y back onto x
    if (window_output_shape(p.win, w[0]) != x)
      throw ShapeError(shape_mismatch(type(), "inconsistent geometry", x, y));
    return y;
  }

  void forward(const ForwardArgs& args) const override {
    const Tensor &x = *args.inputs[0], &w = *args.inputs[1];
    ConvPasses c(args.ctx, plan(args.output.shape(), w.shape()), args.workspace);
    c.backward(x, w, x, &args.output, nullptr, nullptr, {0.0f, 0.0f, 0.0f});
    if (args.inputs.size() == 3) {  // y += bias[m], m the channel
      const Shape& y = args.output.shape();
      std::vector<std::int64_t> channel(y.size(), 0);
      channel[1] = 1;
      broadcast_binary(args.ctx, args.output, row_major_strides(y), *args.inputs[2], channel,
                       args.output, BIN_ADD);
    }
  }

  void backward(const BackwardArgs& args) const override {
    const Tensor &x = *args.inputs[0], &w = *args.inputs[1], &gy = args.grad_output;
    ConvPasses c(args.ctx, plan(gy.shape(), w.shape()), args.workspace);
    if (Tensor* gx = args.grad_inputs[0]) c.forward(gy, w, nullptr, *gx, args.betas[0]);
    if (Tensor* gw = args.grad_inputs[1])
      c.backward(gy, w, x, nullptr, gw, nullptr, {0.0f, args.betas[1], 0.0f});
    if (args.grad_inputs.size() == 3 && args.grad_inputs[2])
      channel_sums(args.ctx, gy, *args.grad_inputs[2], args.betas[2]);
  }

  Needs backward_needs() const override { return {true, false}; }
  std::size_t workspace_floats(const std::vector<Shape>& in, const Shape& out) const override {
    return plan(out, in[1]).workspace_floats();
  }

  // The virtual convolution's, whose output positions are this one's input.
  Cost cost(const CostArgs& args) const override {
    return conv_cost(Op::cost(args), args, args.inputs[0]);
  }

  bool to_onnx(OnnxNode& node) const override {
    node.op_type = "ConvTranspose";
    node.ints["group"] = options_.groups;
    if (!options_.strides.empty()) node.int_lists["strides"] = options_.strides;
    if (!options_.dilations.empty()) node.int_lists["dilations"] = options_.dilations;
    if (!options_.output_padding.empty())
      node.int_lists["output_padding"] = options_.output_padding;
    if (auto pads = onnx_pads(options_); !pads.empty()) node.int_lists["pads"] = pads;
    return true;
  }

 private:
  ConvPlan plan(const Shape& y, const Shape& w) const {
    return ConvPlan::make(type(), y, w, options_);
  }
  ConvTransposeOptions options_;
};

}  // namespace

}  // namespace clnn::detail

namespace clnn {

Value conv_transpose(const Value& x, const Value& w, const std::optional<Value>& bias,
                     const ConvTransposeOptions& options) {
  std::vector<Value> operands{x, w};
  if (bias) operands.push_back(*bias);
  return GraphAccess::add(std::make_shared<detail::ConvTransposeOp>(options), operands);
}

Value conv(const Value& x, const Value& w, const std::optional<Value>& bias,
           const ConvOptions& options) {
  std::vector<Value> operands{x, w};
  if (bias) operands.push_back(*bias);
  return GraphAccess::add(std::make_shared<detail::ConvOp>(options), operands);
}

}  // namespace clnn
