// Skinny products: the view of a GemmCall that cl_kernels/gemv.cl takes, the LaunchPlanner's plan
// for it, and the launches (one, or a slice of K per work-group row and gemm_sum_slices).
#include "ops/gemv.hpp"

#include <algorithm>

#include "cl/kernel_call.hpp"
#include "clnn/error.hpp"
#include "context_impl.hpp"

namespace clnn::detail {

bool gemm_is_skinny(const GemmCall& g) {
  return std::min(g.m, g.n) <= LaunchPlanner::kMaxSkinny;
}

GemvView gemv_view(const GemmCall& g) {
  GemvView v;
  // The vectors come from C's shorter side, so the big matrix is the larger operand.
  const bool rows_of_a = g.m <= g.n;
  v.shape.long_side = rows_of_a ? g.n : g.m;
  v.shape.skinny = rows_of_a ? g.m : g.n;
  v.shape.k = g.k;
  v.shape.batch = g.batch;
  if (rows_of_a) {
    // big(n, k) = op(B)(k, n), x(k, m) = op(A)(m, k), C(n, m) = C[m * ldc + n].
    v.big = g.b, v.big_offset = g.offset_b, v.big_batch = g.stride_b;
    v.big_l = g.trans_b ? g.ldb : 1, v.big_k = g.trans_b ? 1 : g.ldb;
    v.small = g.a, v.small_offset = g.offset_a, v.small_batch = g.stride_a;
    v.small_k = g.trans_a ? g.lda : 1, v.small_s = g.trans_a ? 1 : g.lda;
    v.c_l = 1, v.c_s = g.ldc;
  } else {
    // big(m, k) = op(A)(m, k), x(k, n) = op(B)(k, n), C(m, n) = C[m * ldc + n].
    v.big = g.a, v.big_offset = g.offset_a, v.big_batch = g.stride_a;
    v.big_l = g.trans_a ? 1 : g.lda, v.big_k = g.trans_a ? g.lda : 1;
    v.small = g.b, v.small_offset = g.offset_b, v.small_batch = g.stride_b;
    v.small_k = g.trans_b ? 1 : g.ldb, v.small_s = g.trans_b ? g.ldb : 1;
    v.c_l = g.ldc, v.c_s = 1;
  }
  // Where both strides are 1 (one row, or K of 1) the longer dimension is taken as contiguous.
  const bool along_k = v.big_k == 1 && (v.big_l != 1 || v.shape.k >= v.shape.long_side);
  v.shape.layout = along_k ? GemvLayout::rows : GemvLayout::columns;
  return v;
}

namespace {

// In rows, vectors that lie side by side (gemv.cl's SMALL_ALONG_S).
bool side_by_side(const GemvView& v) {
  return v.shape.layout == GemvLayout::rows && v.shape.skinny > 1 && v.small_s == 1 &&
         v.small_k != 1;
}

}  // namespace

// On CPUs more than kMostSideBySide vectors take the matrix-vector kernels only where they are
// long, so that each output's sum runs long enough to pay for its setup, and either all of them
// in one pass over the big matrix (LaunchPlanner::gemv takes 8 at a time there) or each vector
// contiguous along K in rows (no side-by-side reads). On a 2-core AVX-512 Xeon, mobilenet_v2's
// 1x1 layer of 32 channels into 16 filters (112x112, batch 32; K = 32) ran 20.3 ms as gemv_cols
// against 4.8 on the host BLAS (`clnn-run`). On a 2-core EPYC, clnn-bench skinny, gemv against
// clnn's GEMM tiles, ms: a 4096 x 4096 matrix by 8 columns 10.0 / 24.9, by 16 columns side by
// side 19.0 / 10.4; a 4096 -> 4096 layer's input gradient at batch 16 (columns) 23.8 / 6.5 and
// its forward pass (16 rows along K) 9.3 / 10.9, 8.1-8.4 against 8.7-10.2 on the host BLAS that
// would take it (`clnn-run`, 3 alternating rounds). Winograd's products for resnet18's
// 256-channel 3 x 3 layers at batch 1 (16 tiles side by side, K = 256): the layer 2.3-2.5 ms
// through gemv, 0.55-0.85 on gemm_cpu.
constexpr std::size_t kMostSideBySide = 4, kLongK = 256;

bool gemv_pays(const LaunchPlanner& planner, const GemmCall& g) {
  if (!gemm_is_skinny(g)) return false;
  const GemvView v = gemv_view(g);
  if (planner.device().type == DeviceType::cpu) {
    if (v.shape.skinny <= kMostSideBySide) return true;
    const bool along_k = v.shape.layout == GemvLayout::rows && !side_by_side(v);
    return g.k >= kLongK && (along_k || planner.gemv(v.shape).pass >= v.shape.skinny);
  }
  return !side_by_side(v) || v.shape.skinny <= kMostSideBySide || !gemm_is_aligned(g);
}

namespace {

// Whether K may be sliced: no event wanted (it names one launch), and the partial sums of slices
// can go to scratch and be summed by gemm_sum_slices: C (and so the partials, laid out alike)
// contiguous, and no operand in scratch.
bool can_split(ContextImpl& ctx, const GemmCall& g, bool wants_event) {
  const bool contiguous = g.ldc == g.n && (g.batch == 1 || g.stride_c == g.m * g.n);
  return !wants_event && contiguous && !operand_in_scratch(ctx, g);
}

// Build options for the operands' layout: float4 loads where every contiguous run of the big
// matrix (and, in rows, of the vectors) starts at a multiple of 4 floats; in rows, vectors that
// lie side by side are read as runs across them.
std::string alignment_options(const GemvView& v) {
  auto whole_float4s = [](std::initializer_list<std::size_t> values) {
    return std::all_of(values.begin(), values.end(), [](std::size_t x) { return x % 4 == 0; });
  };
  const bool rows = v.shape.layout == GemvLayout::rows;
  const bool big = whole_float4s({v.big_offset, rows ? v.big_l : v.big_k, v.big_batch});
  const bool small = rows && v.small_k == 1 &&
                     whole_float4s({v.small_offset, v.shape.skinny > 1 ? v.small_s : 0,
                                    v.small_batch});
  const bool along_s = side_by_side(v);
  return std::string(" -DBIG_FLOAT4=") + (big ? "1" : "0") + " -DSMALL_FLOAT4=" +
         (small ? "1" : "0") + " -DSMALL_ALONG_S=" + (along_s ? "1" : "0");
}

// One launch of the plan: every slice of K for every output, written alpha * sum + beta * C to
// out (C's own place, or scratch for partial sums: slices c_slice floats apart).
void launch(ContextImpl& ctx, const GemvView& v, const GemvPlan& plan, float alpha, float beta,
            cl_mem out, std::size_t offset, std::size_t c_batch, std::size_t c_slice,
            cl_event* event) {
  const bool rows = plan.layout == GemvLayout::rows;
  const char* name = !rows ? "gemv_cols" : plan.width > 1 ? "gemv_row_blocks" : "gemv_rows";
  cl_kernel kernel = ctx.kernel("gemv", name, plan.build_options() + alignment_options(v));
  set_args(kernel, cl_int(v.shape.long_side), cl_int(v.shape.k), cl_int(plan.slice_k), alpha,
           v.big, cl_ulong(v.big_offset), cl_int(rows ? v.big_l : v.big_k),
           cl_ulong(v.big_batch), v.small, cl_ulong(v.small_offset), cl_int(v.small_k),
           cl_int(v.small_s), cl_ulong(v.small_batch), beta, out, cl_ulong(offset),
           cl_int(v.c_l), cl_int(v.c_s), cl_ulong(c_batch), cl_ulong(c_slice));
  enqueue<3>(ctx.queue.get(), kernel,
             {plan.groups(v.shape.long_side) * plan.local_size, plan.slices, v.shape.batch},
             {plan.local_size, 1, 1}, event);
}

// Runs a plan over the call's view v; may_split: can_split's answer for the call.
void run(ContextImpl& ctx, const GemmCall& g, const GemvView& v, const GemvPlan& plan,
         bool may_split, cl_event* event) {
  if (g.b_rows.taps) throw Error("gemv: tap rows are read by the vec4 GEMM kernel only");
  check_int_indexable(g);
  if (!ctx.planner.fits(plan) || plan.layout != v.shape.layout ||
      plan.skinny != std::max<std::size_t>(1, v.shape.skinny) || (plan.slices > 1 && !may_split))
    throw Error("gemv: the plan " + plan.describe() + " cannot run this call");
  if (g.m == 0 || g.n == 0 || g.batch == 0) return;
  if (plan.slices == 1)
    return launch(ctx, v, plan, g.alpha, g.beta, g.c, g.offset_c, g.stride_c, 0, event);
  // Partial sums of each slice laid out as C is (contiguous), then summed into it.
  const std::size_t total = g.m * g.n * g.batch;
  cl_mem partial = ctx.scratch(plan.slices * total);
  launch(ctx, v, plan, 1.0f, 0.0f, partial, 0, g.m * g.n, total, nullptr);
  sum_slices(ctx, partial, 0, plan.slices, total, g.alpha, g.beta, g.c, g.offset_c);
}

}  // namespace

GemvPlan gemv_plan(ContextImpl& ctx, const GemmCall& g, bool wants_event) {
  return ctx.planner.gemv(gemv_view(g).shape, can_split(ctx, g, wants_event));
}

void gemv(ContextImpl& ctx, const GemmCall& g, cl_event* event) {
  if (!gemm_is_skinny(g))
    throw Error("gemv: a " + std::to_string(g.m) + " x " + std::to_string(g.n) +
                " product has no side of at most " + std::to_string(LaunchPlanner::kMaxSkinny));
  // gemv_plan's plan, with the view and the split rule worked out once for planning and running.
  const GemvView v = gemv_view(g);
  const bool may_split = can_split(ctx, g, event != nullptr);
  run(ctx, g, v, ctx.planner.gemv(v.shape, may_split), may_split, event);
}

void gemv_with_plan(ContextImpl& ctx, const GemmCall& g, const GemvPlan& plan, cl_event* event) {
  run(ctx, g, gemv_view(g), plan, can_split(ctx, g, event != nullptr), event);
}

}  // namespace clnn::detail
