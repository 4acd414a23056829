// scaled_dot_product_attention: one fused kernel per pass (cl_kernels/attention.cl) that walks
// the keys in blocks with an online softmax, so no pass holds the score matrix; backward rebuilds
// the probabilities from the forward's per-row log-sums.
#include <algorithm>
#include <cmath>
#include <limits>
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

constexpr std::int64_t kMaxHeadSize = 256;
constexpr double kLog2e = 1.4426950408889634;

std::int64_t pad16(std::int64_t n) {
  return (n + 15) / 16 * 16;
}

// The passes, each a program of its own.
enum class Pass2 { forward, backward };

// Rows per work-item (TR), items across the other side (LANES), item rows per group (GROUPS)
// and the other side's block (BLOCK) of one kernel.
// row_items: forward's CPU kernel, each item's TR queries alone (lanes 1, GROUPS items a group).
struct Tiles {
  std::int64_t tr = 1, lanes = 16, groups = 1, block = 16;
  bool row_items = false;
  std::int64_t rows() const { return tr * groups; }
  std::size_t items() const { return std::size_t(groups * lanes); }
};

// Bytes of local memory a kernel takes (mirrors its __local arrays).
std::size_t local_bytes(Pass2 kernel, const Tiles& t, std::int64_t d, std::int64_t dv) {
  const std::int64_t qp = pad16(d) + 4, vp = pad16(dv) + 4, pp = t.block + 4, rows = t.rows();
  const std::int64_t floats =
      kernel == Pass2::forward
          ? rows * qp + std::max(t.block * qp, rows * pp) + t.block * vp + rows * t.lanes
          : rows * (qp + vp) + t.block * (qp + vp) + 2 * rows * pp + 2 * t.block;
  return std::size_t(floats) * 4;
}

Tiles choose_tiles(const ContextImpl& ctx, Pass2 kernel, std::int64_t d, std::int64_t dv,
                   std::int64_t heads, std::int64_t rows) {
  // CPUs: as many queries an item as keep its queries and outputs in about 32 vector registers
  // of 8 floats (4 at head size 32, 1 from 128), 8 keys a step, up to 8 items a group: fewer
  // where that leaves a core under ContextImpl::kCpuLineWaves groups (as enqueue_lines).
  if (kernel == Pass2::forward && ctx.row_loops && d % 4 == 0 && dv % 4 == 0) {
    const std::int64_t tr = std::clamp<std::int64_t>(128 / std::max(d, dv), 1, 4);
    const std::int64_t items = heads * ((rows + tr - 1) / tr);
    const auto waves = std::int64_t(std::max<std::uint32_t>(ctx.info.compute_units, 1) *
                                    ContextImpl::kCpuLineWaves);
    return {tr, 1, std::clamp<std::int64_t>(items / waves, 1, 8), 8, true};
  }
  const std::size_t max_items = ctx.planner.max_local_size_1d();
  // The first that fits the device's local memory and work-group size. Forward keeps the output
  // rows in registers next to the scores: 8 rows an item where local memory holds them, across
  // 8 lanes (8 x 4 scores and 8 x 8 outputs an item at head size 64); backward keeps two
  // gradients, so 4 rows across 16 lanes. On the H200 at [32, 8, 512, 64] (clnn-bench
  // attention, 2026-12-03): forward 0.686 ms with 8 lanes against 0.780 with 16; forward +
  // backward (one kernel for the three gradients) 2.59 ms with {4, 16, 8, 32}, 3.37 with
  // {8, 16, 4, 32}, 3.45 with a block of 16, 3.50 with 8 lanes, 3.99 with 2 rows.
  // Backward's BLOCK is a multiple of GROUPS (its product for gq splits a block's queries).
  static const Tiles forward[] = {{8, 8, 8, 32},  {8, 16, 8, 32}, {4, 16, 8, 32}, {4, 16, 4, 16},
                                  {2, 16, 4, 16}, {1, 16, 2, 16}, {1, 16, 1, 16}};
  static const Tiles backward[] = {
      {4, 16, 8, 32}, {4, 16, 4, 16}, {2, 16, 4, 16}, {1, 16, 2, 16}, {1, 16, 1, 16}};
  const std::uint64_t local = ctx.info.local_mem_size;
  auto fits = [&](const Tiles& t) {
    return t.items() <= max_items && local_bytes(kernel, t, d, dv) <= local;
  };
  auto groups = [&](const Tiles& t) { return heads * ((rows + t.rows() - 1) / t.rows()); };
  auto pick = [&](const auto& candidates) {
    for (Tiles t : candidates) {
      if (!fits(t)) continue;
      if (kernel == Pass2::backward) return t;
      // Forward: fewer rows a work-group where the heads' blocks would leave compute units
      // idle, down to 8 (each group stages every key for its rows). At batch 1, vit_b_16's 12
      // heads of 197 tokens made 48 groups of 64 rows, transformer_encoder's 8 of 128 made 16,
      // for the H100's 132 units (0.053 ms a layer, under 4% of the peak).
      const std::int64_t units = std::max<std::int64_t>(1, ctx.info.compute_units);
      for (Tiles smaller : candidates)
        if (groups(t) < units && smaller.rows() < t.rows() && smaller.rows() >= 8 &&
            fits(smaller) && groups(smaller) > groups(t))
          t = smaller;
      return t;
    }
    throw Error("scaled_dot_product_attention: head sizes " + std::to_string(d) + " and " +
                std::to_string(dv) + " need more local memory than the device's " +
                std::to_string(local) + " bytes, or larger work-groups");
  };
  return kernel == Pass2::forward ? pick(forward) : pick(backward);
}

// How many work-groups share a head's key blocks in backward when it writes gq: each keeps its
// own copy of gq (memory of the chunks times q's), so the fewest that fill the device, a power
// of two (an even split of lengths that are). On the H200 (132 compute units) at
// [32, 8, 512, 64], forward + backward: 3.29 ms with 1, 2.59 with 2, 2.94 with 3 (16 key
// blocks split unevenly), 2.55 with 4; causal 1.95, 1.65, 1.87, 1.67.
std::int64_t key_chunks(const ContextImpl& ctx, std::int64_t heads, std::int64_t key_blocks) {
  const std::int64_t wanted = 2 * std::int64_t(std::max<std::uint32_t>(ctx.info.compute_units, 1));
  std::int64_t chunks = 1;
  while (heads * chunks < wanted && chunks < key_blocks) chunks *= 2;
  return std::min(chunks, key_blocks);
}

struct Geometry {
  std::int64_t outer = 1, inner = 1;  // batch dimensions (at most two) as heads = outer * inner
  std::int64_t lq = 0, lk = 0, d = 0, dv = 0;
  std::int64_t heads() const { return outer * inner; }
};

Geometry geometry(const std::vector<Shape>& in) {
  const Shape &q = in[0], &k = in[1], &v = in[2];
  Geometry g;
  const std::size_t rank = q.size();
  if (rank > 2) g.outer = q[0];
  if (rank > 3) g.inner = q[1];
  g.lq = q[rank - 2];
  g.d = q[rank - 1];
  g.lk = k[rank - 2];
  g.dv = v[rank - 1];
  return g;
}

// The options of the program that holds `pass`'s kernels.
std::string build_options(Pass2 pass, const Geometry& g, const Tiles& t, bool mask, bool causal) {
  static const char* const kPassMacros[] = {" -DATTENTION_FORWARD", " -DATTENTION_BACKWARD"};
  return std::string(kPassMacros[int(pass)]) + " -DD=" + std::to_string(g.d) +
         " -DDV=" + std::to_string(g.dv) + " -DTR=" + std::to_string(t.tr) +
         " -DLANES=" + std::to_string(t.lanes) + " -DGROUPS=" + std::to_string(t.groups) +
         " -DBLOCK=" + std::to_string(t.block) + " -DHAS_MASK=" + (mask ? "1" : "0") +
         " -DCAUSAL=" + (causal ? "1" : "0") + " -DROW_ITEMS=" + (t.row_items ? "1" : "0");
}

class AttentionOp : public Op {
 public:
  AttentionOp(bool has_mask, bool causal, std::optional<float> scale)
      : has_mask_(has_mask), causal_(causal), scale_(scale) {}
  std::string type() const override { return "scaled_dot_product_attention"; }

  Shape infer_shape(const std::vector<Shape>& in) const override {
    const Shape &q = in[0], &k = in[1], &v = in[2];
    const std::size_t rank = q.size();
    if (rank < 2 || rank > 4 || k.size() != rank || v.size() != rank)
      throw ShapeError(type() + ": q " + to_string(q) + ", k " + to_string(k) + " and v " +
                       to_string(v) + " must be [batch..., length, head size] with at most " +
                       "two batch dimensions, all of one rank");
    if (!std::equal(q.begin(), q.end() - 2, k.begin()) ||
        !std::equal(q.begin(), q.end() - 2, v.begin()))
      throw ShapeError(type() + ": q " + to_string(q) + ", k " + to_string(k) + " and v " +
                       to_string(v) + " must have the same batch dimensions");
    if (k[rank - 1] != q[rank - 1] || v[rank - 2] != k[rank - 2])
      throw ShapeError(type() + ": k " + to_string(k) + " must have q's head size (" +
                       std::to_string(q[rank - 1]) + ") and v " + to_string(v) + " k's length");
    const Geometry g = geometry(in);
    // The kernels count rows in ints.
    if (g.lq > std::numeric_limits<int>::max() / 2 || g.lk > std::numeric_limits<int>::max() / 2)
      throw ShapeError(type() + ": lengths above 2^30 are not supported: q " + to_string(q) +
                       ", k " + to_string(k));
    if (g.d > kMaxHeadSize || g.dv > kMaxHeadSize)
      throw ShapeError(type() + ": head sizes above " + std::to_string(kMaxHeadSize) +
                       " are not supported: q " + to_string(q) + ", v " + to_string(v));
    Shape out = q;
    out[rank - 1] = g.dv;
    if (in.size() > 3) mask_place(in);  // checks the mask
    return out;
  }

  void forward(const ForwardArgs& args) const override {
    // An input read through a view is given as the buffer the view lies in.
    static const std::optional<TensorView> as_given;
    auto view = [&](std::size_t i) -> const std::optional<TensorView>& {
      return args.views && i < args.views->inputs.size() ? args.views->inputs[i] : as_given;
    };
    auto shapes = shapes_of(args.inputs);
    for (std::size_t i = 0; i < 3; ++i)
      if (view(i)) shapes[i] = view(i)->shape;
    const Geometry g = geometry(shapes);
    const Tiles t = choose_tiles(args.ctx, Pass2::forward, g.d, g.dv, g.heads(), g.lq);
    const Tensor& lse = args.saved.defined() ? args.saved : args.workspace;
    cl_kernel k = kernel(args.ctx, Pass2::forward,
                         t.row_items ? "attention_forward_rows" : "attention_forward", g, t);
    const MaskPlace m = mask_place(shapes);
    set_args(k, mem(*args.inputs[0]), mem(*args.inputs[1]), mem(*args.inputs[2]),
             mask_mem(args.inputs), mem(args.output), mem(lse), cl_int(g.lq), cl_int(g.lk),
             float(scale(g) * kLog2e), cl_int(g.inner), m.strides, m.outer_period,
             placed(view(0), shapes[0]), placed(view(1), shapes[1]), placed(view(2), shapes[2]),
             placed(args.views ? args.views->output : as_given, args.output.shape()));
    launch(args.ctx, k, g.lq, g, t);
  }

  void backward(const BackwardArgs& args) const override {
    const auto shapes = shapes_of(args.inputs);
    const Geometry g = geometry(shapes);
    Tensor *gq = args.grad_inputs[0], *gk = args.grad_inputs[1], *gv = args.grad_inputs[2];
    if (!gq && !gk && !gv) return;
    const Tensor &q = *args.inputs[0], &k = *args.inputs[1], &v = *args.inputs[2];
    const Tensor& delta = args.workspace;
    const Tiles t = choose_tiles(args.ctx, Pass2::backward, g.d, g.dv, g.heads(), g.lk);
    cl_kernel kd = kernel(args.ctx, Pass2::backward, "attention_backward_delta", g, t);
    const std::size_t rows = std::size_t(g.heads() * g.lq);
    set_args(kd, mem(args.output), mem(args.grad_output), mem(delta), cl_long(rows));
    const std::size_t groups = (rows * std::size_t(t.lanes) + t.items() - 1) / t.items();
    enqueue<1>(args.ctx.queue.get(), kd, {groups * t.items()}, {t.items()});

    // gq goes to copies of its own, one a chunk, where several work-groups share a head's keys,
    // or where it is also gk or gv (one value for q and k, say): the kernel's groups write gk's
    // rows while others still add to gq's. The copies' sum comes last, so then the first of the
    // value's writers in that order (k, v, q) takes the value's beta and the others add.
    const std::int64_t key_blocks = (g.lk + t.rows() - 1) / t.rows();
    const std::int64_t chunks = gq ? key_chunks(args.ctx, g.heads(), key_blocks) : key_blocks;
    const bool q_shared = gq && (gq == gk || gq == gv);
    const bool copies = gq && (chunks > 1 || q_shared);
    float beta_q = args.betas[0], beta_k = args.betas[1], beta_v = args.betas[2];
    if (q_shared) {
      if (gk == gq) beta_k = args.betas[0];
      if (gv == gq) beta_v = gk == gq ? 1.0f : args.betas[0];
      beta_q = 1.0f;
    }
    const std::int64_t q_floats = g.heads() * g.lq * g.d;
    const cl_mem gq_mem = copies ? args.ctx.scratch(std::size_t(chunks * q_floats))
                          : gq   ? mem(*gq)
                                 : mem(delta);  // never written
    const int wants = (gk ? 1 : 0) | (gv ? 2 : 0) | (gq ? 4 : 0);
    cl_kernel kb = kernel(args.ctx, Pass2::backward, "attention_backward", g, t);
    const MaskPlace m = mask_place(shapes);
    set_args(kb, mem(q), mem(k), mem(v), mask_mem(args.inputs), mem(args.grad_output),
             mem(args.saved), mem(delta), gk ? mem(*gk) : mem(delta), gv ? mem(*gv) : mem(delta),
             gq_mem, cl_int(g.lq), cl_int(g.lk), float(scale(g) * kLog2e), float(scale(g)),
             cl_int(g.inner), m.strides, m.outer_period, beta_k, beta_v, copies ? 0.0f : beta_q,
             cl_int(wants), cl_long(copies ? q_floats : 0));
    enqueue<2>(args.ctx.queue.get(), kb, {std::size_t(chunks) * t.items(), std::size_t(g.heads())},
               {t.items(), 1});
    if (copies) {
      cl_kernel ks = kernel(args.ctx, Pass2::backward, "attention_backward_dq_sum", g, t);
      set_args(ks, gq_mem, mem(*gq), cl_long(q_floats), cl_int(chunks), beta_q);
      const std::size_t local = std::min<std::size_t>(256, args.ctx.planner.max_local_size_1d());
      enqueue<1>(args.ctx.queue.get(), ks, {(std::size_t(q_floats) + local - 1) / local * local},
                 {local});
    }
  }

  Needs backward_needs() const override { return {true, true}; }
  bool differentiable(std::size_t input) const override { return input < 3; }

  // Forward reads q, k and v, and writes its output, through views whose rows are contiguous.
  bool reads_through(std::size_t input, const TensorView& view,
                     const std::vector<Shape>&) const override {
    return input < 3 && rows_contiguous(view);
  }
  bool writes_through(const TensorView& view, const std::vector<Shape>&,
                      const Shape&) const override {
    return rows_contiguous(view);
  }

  // Forward's per-row log-sums (backward rebuilds the probabilities from them); in inference
  // forward writes them to the workspace, which backward uses for the rows' delta terms.
  std::size_t saved_floats(const std::vector<Shape>& in, const Shape&) const override {
    return std::size_t(geometry(in).heads() * geometry(in).lq);
  }
  std::size_t workspace_floats(const std::vector<Shape>& in, const Shape& out) const override {
    return saved_floats(in, out);
  }

  // The least work: the two products forward; backward the scores again, then dP, dV, dK and dQ.
  Cost cost(const CostArgs& args) const override {
    const Geometry g = geometry(args.inputs);
    const double pairs = double(g.heads()) * double(g.lq) * double(g.lk);
    Cost c = Op::cost(args);
    c.flops = args.pass == Pass::forward ? 2.0 * pairs * double(g.d + g.dv)
                                         : 2.0 * pairs * double(3 * g.d + 2 * g.dv);
    return c;
  }

 private:
  static std::vector<Shape> shapes_of(const std::vector<const Tensor*>& inputs) {
    std::vector<Shape> shapes;
    for (const Tensor* t : inputs) shapes.push_back(t->shape());
    return shapes;
  }

  static bool rows_contiguous(const TensorView& view) {
    return view.strides.size() >= 2 && view.strides.back() == 1 && view.offset >= 0 &&
           std::all_of(view.strides.begin(), view.strides.end(),
                       [](std::int64_t s) { return s >= 0; });
  }

  // The kernel's place of a tensor of `shape` (as given, or through `view`): the strides of its
  // batch dimensions (outer, inner), of its rows, and its offset.
  static cl_long4 placed(const std::optional<TensorView>& view, const Shape& shape) {
    const std::vector<std::int64_t> strides = view ? view->strides : row_major_strides(shape);
    const std::size_t rank = shape.size();
    cl_long4 at{};
    at.s[0] = rank > 2 ? strides[0] : 0;
    at.s[1] = rank > 3 ? strides[1] : 0;
    at.s[2] = strides[rank - 2];
    at.s[3] = view ? view->offset : 0;
    return at;
  }

  double scale(const Geometry& g) const {
    return scale_ ? double(*scale_) : 1.0 / std::sqrt(double(g.d));
  }

  static cl_mem mask_mem(const std::vector<const Tensor*>& inputs) {
    return mem(*inputs[inputs.size() > 3 ? 3 : 0]);  // without a mask the kernel never reads it
  }

  // Where the kernels read the mask: its strides against [outer, inner, lq, lk] (0 where it is
  // broadcast) and its extent along outer, which the batch entries repeat.
  struct MaskPlace {
    cl_long4 strides{};
    cl_int outer_period = 1;
  };

  // The mask's place; checks that it broadcasts to [batch..., lq, lk], or repeats along the
  // first batch dimension (an extent that divides the batch's).
  MaskPlace mask_place(const std::vector<Shape>& in) const {
    MaskPlace place;
    if (in.size() < 4) return place;
    const Shape& mask = in[3];
    const Geometry g = geometry(in);
    Shape full(in[0].begin(), in[0].end() - 2);
    full.push_back(g.lq);
    full.push_back(g.lk);
    if (mask.size() > full.size())
      throw ShapeError(shape_mismatch(type(), "the mask must broadcast to the scores", mask, full));
    // Right-aligned: the mask's last dimension against lk, and so on; full's dimension d is
    // slot d of [outer, inner, lq, lk] where it is lq or lk, else batch dimension d.
    std::int64_t stride = 1;
    for (std::size_t i = mask.size(); i-- > 0;) {
      const std::size_t d = full.size() - (mask.size() - i);
      const std::size_t slot = d + 2 >= full.size() ? d + 4 - full.size() : d;
      const bool repeats = slot == 0 && mask[i] > 0 && full[d] % mask[i] == 0;
      if (mask[i] != 1 && mask[i] != full[d] && !repeats)
        throw ShapeError(shape_mismatch(
            type(), "the mask must broadcast to the scores or repeat along their first dimension",
            mask, full));
      if (mask[i] != 1) place.strides.s[slot] = stride;
      if (slot == 0) place.outer_period = cl_int(std::max<std::int64_t>(mask[i], 1));
      stride *= mask[i];
    }
    return place;
  }

  cl_kernel kernel(ContextImpl& ctx, Pass2 pass, const std::string& name, const Geometry& g,
                   const Tiles& t) const {
    return ctx.kernel("attention", name, build_options(pass, g, t, has_mask_, causal_));
  }

  static void launch(ContextImpl& ctx, cl_kernel k, std::int64_t rows, const Geometry& g,
                     const Tiles& t) {
    const std::size_t blocks = std::size_t((rows + t.rows() - 1) / t.rows());
    enqueue<2>(ctx.queue.get(), k, {blocks * t.items(), std::size_t(g.heads())}, {t.items(), 1});
  }

  bool has_mask_, causal_;
  std::optional<float> scale_;
};

}  // namespace

}  // namespace clnn::detail

namespace clnn {

Value scaled_dot_product_attention(const Value& q, const Value& k, const Value& v,
                                   const std::optional<Value>& mask, bool causal,
                                   std::optional<float> scale) {
  if (scale && !std::isfinite(*scale))
    throw Error("scaled_dot_product_attention: the scale must be finite");
  auto op = std::make_shared<detail::AttentionOp>(mask.has_value(), causal, scale);
  if (mask) return GraphAccess::add(op, {q, k, v, *mask});
  return GraphAccess::add(op, {q, k, v});
}

}  // namespace clnn
