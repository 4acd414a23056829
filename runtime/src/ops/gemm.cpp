// GEMM: the choice of backend and configuration for a call (skinny ones to ops/gemv.cpp, the
// tuning cache, the LaunchPlanner's plan), split-K, and the launches of clnn's kernels
// (matmul.cl's tiled, matmul_vec4.cl, matmul_cpu.cl), of CLBlast's GEMM or of the host's BLAS
// (ops/gemm_host.cpp).
#include "ops/gemm.hpp"

#include <clblast.h>

#include <algorithm>
#include <climits>
#include <numeric>
#include <vector>

#include "cl/kernel_call.hpp"
#include "context_impl.hpp"
#include "ops/gemm_host.hpp"
#include "ops/gemv.hpp"
#include "tune/tuning_notes.hpp"

namespace clnn::detail {

std::vector<std::int64_t> gemm_tuning_shape(const GemmCall& g) {
  std::vector<std::int64_t> shape{std::int64_t(g.m), std::int64_t(g.n), std::int64_t(g.k),
                                  g.trans_a, g.trans_b};
  if (const TapRows& r = g.b_rows; r.taps)
    shape.insert(shape.end(), {std::int64_t(r.taps), std::int64_t(r.kh), std::int64_t(r.kw),
                               std::int64_t(r.step_d), std::int64_t(r.step_h),
                               std::int64_t(r.step_w), std::int64_t(g.ldb)});
  return shape;
}

GemmCall gemm_call_of_tuning_shape(const std::vector<std::int64_t>& shape) {
  // Sizes of at least 1 and every number below INT_MAX (clnn's kernels index with ints), so that
  // no product of two of them overflows below.
  const bool taps = shape.size() == kTapTuningShapeSize;
  if ((shape.size() != kGemmTuningShapeSize && !taps) ||
      std::any_of(shape.begin(), shape.end(),
                  [](std::int64_t v) { return v < 0 || v >= INT_MAX; }) ||
      std::any_of(shape.begin(), shape.begin() + 3, [](std::int64_t v) { return v == 0; }))
    throw Error("matmul: a malformed tuning shape");
  auto at = [&](std::size_t i) { return std::size_t(shape[i]); };
  GemmCall g;
  g.m = at(0), g.n = at(1), g.k = at(2);
  g.trans_a = shape[3] != 0, g.trans_b = shape[4] != 0;
  g.lda = g.trans_a ? g.m : g.k;
  g.ldb = g.trans_b ? g.k : g.n;
  g.ldc = g.n;
  if (taps) {
    g.b_rows = {at(5), at(6), at(7), at(8), at(9), at(10)};
    g.ldb = at(11);
    const TapRows& r = g.b_rows;
    if (!g.trans_b || r.taps == 0 || r.kh == 0 || r.kw == 0 || g.n % r.taps != 0 ||
        r.taps % r.kh != 0 || r.taps / r.kh % r.kw != 0)
      throw Error("matmul: a malformed tuning shape of tap rows");
  }
  check_int_indexable(g);
  return g;
}

std::size_t b_operand_floats(const GemmCall& g) {
  if (!g.b_rows.taps) return (g.trans_b ? g.n : g.k) * g.ldb;
  // The last channel's start, its farthest tap and K floats from there.
  const TapRows& r = g.b_rows;
  const std::size_t depth = r.taps / (r.kh * r.kw);
  const std::size_t reach = (depth - 1) * r.step_d + (r.kh - 1) * r.step_h + (r.kw - 1) * r.step_w;
  return (g.n / r.taps - 1) * g.ldb + reach + g.k;
}

bool gemm_is_aligned(const GemmCall& g) {
  // M matters only where A's float4s run along it (transposed A): stored M x K, A's rows are
  // clamped and C's checked one by one, so vit_b_16's 197 tokens a sample take the vec4 tiles at
  // batch 1 too (they had gone to CLBlast, whose padding copies cost more than the product).
  if (g.trans_a && g.m % 4 != 0) return false;
  for (std::size_t v :
       {g.n, g.k, g.lda, g.ldb, g.ldc, g.offset_a, g.offset_b, g.offset_c, g.stride_a, g.stride_b,
        g.stride_c, g.b_rows.step_d, g.b_rows.step_h, g.b_rows.step_w})
    if (v % 4 != 0) return false;
  return true;
}

namespace {

MatmulKernel kernel_from_name(const std::string& name) {
  for (MatmulKernel k :
       {MatmulKernel::tiled, MatmulKernel::vec4, MatmulKernel::cpu, MatmulKernel::tf32,
        MatmulKernel::fp16, MatmulKernel::bf16})
    if (to_string(k) == name) return k;
  throw Error("unknown matmul kernel '" + name + "'");
}

// Whether a product occupies the device by splitting K rather than through smaller blocks: a
// single product into a contiguous C whose K is long beside M and N (a weight gradient sums over
// every sample and position), or beside a short side (a fully connected layer at a small batch).
// Blocks shrunk for occupancy get work-groups too small to run fast: on the H100 a 64 x 576
// product with K = 50176 took 1.95 ms in 32 x 32 blocks; on the H200 alexnet's 4096 -> 4096
// layer at batch 32 (32 x 4096 x 4096) 0.36 ms in 32 x 32 blocks, 0.07 in 32 x 128 blocks with K
// split. Square products stay unsplit: 1024^3 ran faster in 64 x 128 blocks than in 3 slices.
bool splits_k(const GemmCall& g) {
  constexpr std::size_t kShortSide = 64;
  const bool long_k = g.k >= 2 * std::max(g.m, g.n) || std::min(g.m, g.n) <= kShortSide;
  return g.batch == 1 && g.ldc == g.n && g.k >= 2 * LaunchPlanner::kMinSliceRows && long_k;
}

// Build options for B's tap rows (matmul_vec4.cl's b_row).
std::string tap_row_options(const TapRows& r) {
  if (!r.taps) return "";
  return " -DTAP_ROWS=" + std::to_string(r.taps) + " -DTAP_KH=" + std::to_string(r.kh) +
         " -DTAP_KW=" + std::to_string(r.kw) + " -DTAP_STEP_D=" + std::to_string(r.step_d) +
         " -DTAP_STEP_H=" + std::to_string(r.step_h) + " -DTAP_STEP_W=" + std::to_string(r.step_w);
}

}  // namespace

bool gemm_plan_serves(const LaunchPlanner& planner, const MatmulPlan& plan, const GemmCall& g) {
  // Tap rows: only vec4's loads read them (gemm_vec4's, not gemm_mma's copies).
  if (g.b_rows.taps && (!plan.float4_tiles() || plan.stages > 0)) return false;
  return planner.fits(plan) && (!plan.float4_tiles() || gemm_is_aligned(g));
}

namespace {

// choose_gemm's choice in fp32.
GemmChoice choose_fp32_gemm(const ContextImpl& ctx, const GemmCall& g) {
  // A skinny product streams its big operand once through the matrix-vector kernels, where the
  // GEMM tiles (and CLBlast's) would compute mostly padding: on the H200 alexnet at batch 1 took
  // 1.01 ms to PyTorch's 0.49 with its fully connected layers on the tiles. Decided before the
  // tuning cache is read, which a batch-1 layer would otherwise pay for on every call. Only
  // CLNN_GEMM (and tap rows, which only vec4 reads) keep such a product off them, and many
  // vectors (gemv_pays: on GPUs side by side; on CPUs more than 4 unless K is 256 or more and
  // they take one pass of 8 or lie along K).
  if (!g.b_rows.taps && ctx.gemm_backend == GemmBackend::automatic && gemv_pays(ctx.planner, g))
    return {GemmBackend::gemv, gemm_planner_plan(ctx, g)};
  // One look at the tuning cache: a tuned shape nearby gives both the configuration and the
  // backend that won there (tune_gemm_shape times both; only the configuration for tap rows).
  // Products over tap rows have shapes of their own: B's rows, read from a few megabytes in
  // cache, run unlike a plain product's, which stream from memory.
  const nlohmann::json* entry =
      ctx.tuning ? ctx.tuning->nearest("gemm", gemm_tuning_shape(g)) : nullptr;
  GemmChoice choice{ctx.gemm_backend, gemm_planner_plan(ctx, g)};
  if (entry) {
    try {
      MatmulPlan tuned{entry->at("local").get<bool>(),
                       entry->at("tile_m").get<std::size_t>(),
                       entry->at("tile_n").get<std::size_t>(),
                       entry->at("tile_k").get<std::size_t>(),
                       entry->at("work_m").get<std::size_t>(),
                       entry->at("work_n").get<std::size_t>(),
                       kernel_from_name(entry->value("kernel", std::string("tiled")))};
      // Entries stored before the field took the planner's order: they keep it where they can.
      tuned.columns_first =
          entry->contains("columns_first")
              ? entry->at("columns_first").get<bool>()
              : choice.plan.columns_first && tuned.kernel == MatmulKernel::cpu && tuned.tile_k == 1;
      if (gemm_plan_serves(ctx.planner, tuned, g)) choice.plan = tuned;
    } catch (const std::exception&) {  // a malformed entry: the plan serves
    }
  }
  if (g.b_rows.taps) {  // only clnn's vec4 kernel reads tap rows
    choice.backend = GemmBackend::own;
    return choice;
  }
  const bool blas_serves = host_blas_serves(ctx, g);
  if (choice.backend == GemmBackend::blas && !blas_serves)
    choice.backend = GemmBackend::automatic;  // CLNN_GEMM=blas off a CPU device: as automatic
  if (choice.backend != GemmBackend::automatic) return choice;  // CLNN_GEMM
  if (entry && entry->contains("backend")) {
    const auto& name = entry->at("backend");
    choice.backend = name == "clblast"                ? GemmBackend::clblast
                     : name == "blas" && blas_serves ? GemmBackend::blas
                                                      : GemmBackend::own;
    return choice;
  }
  // Untuned on a CPU device: the host BLAS for large products, where it runs kernels for this
  // CPU (PERFORMANCE.md, "CPUs: GEMM through the host BLAS"; gemm_host.hpp for the size).
  if (blas_serves && host_blas_pays(ctx) && host_blas_product_pays(g)) {
    choice.backend = GemmBackend::blas;
    return choice;
  }
  // Untuned: clnn-bench matmul measured the cpu kernel 2.2x to 5x ahead of CLBlast on PoCL at
  // every size, and vec4 1.4x to 2.2x ahead on the H100 from 1024 up and 1.7x at 128 (at 256 and
  // 512 CLBlast led, 0.92x and 0.55x: too few 8x8 blocks to fill the device; the tuner picks
  // per shape). The general tiled kernel, which serves the GPU calls vec4 cannot take, is behind
  // CLBlast from about 64^3 multiply-adds; below that CLBlast's fixed costs lose.
  const double volume = double(g.m) * double(g.n) * double(g.k) * double(g.batch);
  choice.backend = choice.plan.kernel != MatmulKernel::tiled || volume < 64.0 * 64.0 * 64.0
                       ? GemmBackend::own
                       : GemmBackend::clblast;
  return choice;
}

// Whether a product is of the kind gemm_mma beat gemm_vec4's tensor-core form on: four blocks
// per compute unit, K of 1024 or more. On an H100 (132 units) gemm_mma ran 6% ahead at 4096
// and 8192 (1,024 and 4,096 blocks of 128 x 128), level at 2048 (256 blocks) and 13% behind
// at 1024, where the staged kernel's smaller blocks fill more units. Only square products were
// measured (PERFORMANCE.md, 2026-12-06): short K, few steps for 3 stages, stays staged.
bool pipelined_fills(const ContextImpl& ctx, const MatmulPlan& plan, const GemmCall& g) {
  return g.k >= 1024 &&
         plan.blocks(g.m, g.n, g.batch) >= 4 * std::max<std::size_t>(1, ctx.info.compute_units);
}

}  // namespace

GemmChoice choose_gemm(const ContextImpl& ctx, const GemmCall& g) {
  const GemmChoice choice = choose_fp32_gemm(ctx, g);
  // TF32, fp16 or bf16 where the context runs it: the vec4 kernel's plan (tuned or planned) on
  // tensor cores, in place of CLBlast too unless CLNN_GEMM asks for it. Matrix-vector products,
  // bound by memory, and products the vec4 kernel cannot take (unaligned ones) stay fp32. TF32
  // products that gemm_mma takes run there where they fill the device (pipelined_fills) or
  // CLNN_TF32_GEMM=pipelined asks for it.
  if (ctx.precision == Precision::fp32 || choice.backend == GemmBackend::gemv ||
      choice.backend == GemmBackend::blas || ctx.gemm_backend == GemmBackend::clblast)
    return choice;
  if (ctx.tf32_gemm != Tf32Gemm::staged)
    if (auto pipelined = ctx.planner.pipelined(ctx.precision);
        pipelined && gemm_plan_serves(ctx.planner, *pipelined, g) &&
        (ctx.tf32_gemm == Tf32Gemm::pipelined || pipelined_fills(ctx, *pipelined, g)))
      return {GemmBackend::own, *pipelined};
  const MatmulPlan vec4 =
      choice.backend == GemmBackend::own ? choice.plan : gemm_planner_plan(ctx, g);
  if (auto mma = ctx.planner.with_tensor_cores(vec4, ctx.precision);
      mma && gemm_plan_serves(ctx.planner, *mma, g))
    return {GemmBackend::own, *mma};
  return choice;
}

MatmulPlan gemm_plan(const ContextImpl& ctx, const GemmCall& g) {
  return choose_gemm(ctx, g).plan;
}

MatmulPlan smallest_vec4_plan() { return {true, 32, 32, 8, 8, 8, MatmulKernel::vec4}; }

MatmulPlan gemm_planner_plan(const ContextImpl& ctx, const GemmCall& g) {
  const MatmulPlan plan = splits_k(g) ? ctx.planner.matmul_for_split_k(g.m, g.n, g.k)
                                      : ctx.planner.matmul(g.m, g.n, g.batch, g.k);
  if (gemm_plan_serves(ctx.planner, plan, g)) return plan;
  return g.b_rows.taps ? smallest_vec4_plan() : ctx.planner.matmul_any_shape();
}

void check_int_indexable(const GemmCall& g) {
  auto fits_int = [](std::size_t rows, std::size_t ld) { return rows * ld < std::size_t{INT_MAX}; };
  // Tap rows: B's rows are the taps of (n / taps) channels, ldb apart.
  const std::size_t a_rows = g.trans_a ? g.k : g.m;
  const std::size_t b_rows = g.b_rows.taps ? (g.n + g.b_rows.taps - 1) / g.b_rows.taps
                             : g.trans_b ? g.n
                                         : g.k;
  if (!fits_int(a_rows, g.lda) || !fits_int(b_rows, g.ldb) || !fits_int(g.m, g.ldc))
    throw Error("matmul: a matrix of over 2^31 elements is beyond clnn's kernels");
}

void sum_slices(ContextImpl& ctx, cl_mem partial, std::size_t offset_partial, std::size_t slices,
                std::size_t n, float alpha, float beta, cl_mem c, std::size_t offset_c,
                const Epilogue& epilogue, cl_mem col_bias, std::size_t columns) {
  cl_kernel k = ctx.kernel("matmul", "gemm_sum_slices",
                           epilogue_options(epilogue) + (col_bias ? " -DCOL_BIAS=1" : ""));
  set_args(k, partial, cl_ulong(offset_partial), cl_int(slices), cl_ulong(n), alpha, beta, c,
           cl_ulong(offset_c));
  if (col_bias) {
    set_arg(k, 8, col_bias);
    set_arg(k, 9, cl_int(columns));
  }
  ctx.enqueue_elementwise(k, n);
}

namespace {

// Whether a plan's kernel adds a call's column bias: gemm_vec4 in fp32 and gemm_cpu (not with a
// row bias), for plain products with alpha 1. (The tensor-core forms could, in their pair stores;
// not yet run on a GPU, they leave it to the caller.)
bool adds_columns(const MatmulPlan& plan, const GemmCall& g) {
  const bool kernel =
      plan.kernel == MatmulKernel::vec4 || (plan.kernel == MatmulKernel::cpu && !g.row_bias);
  return kernel && g.alpha == 1.0f && !g.b_rows.taps;
}

// Whether a plan's kernel applies a call's finish: gemm_cpu alone. In gemm_vec4's stores a GELU,
// and even a relu, made the transformer rows' products 20-30% slower on the H100 (session 61):
// a pass after them costs less.
bool finishes(const MatmulPlan& plan) {
  return plan.kernel == MatmulKernel::cpu;
}

}  // namespace

void gemm_with_plan(ContextImpl& ctx, const GemmCall& g, const MatmulPlan& plan, cl_event* event) {
  if (g.b_rows.taps && !g.trans_b) throw Error("matmul: tap rows are rows of a transposed B");
  check_int_indexable(g);
  if (!gemm_plan_serves(ctx.planner, plan, g))
    throw Error("matmul: the configuration " + plan.describe() + " cannot run this call");
  if (g.row_bias && plan.kernel != MatmulKernel::cpu)
    throw Error("matmul: only the cpu kernel adds a row bias");
  if (g.finish.on && !finishes(plan))
    throw Error("matmul: " + plan.describe() + " applies no finish");
  if (g.col_bias && !adds_columns(plan, g))
    throw Error("matmul: " + plan.describe() + " adds no column bias (alpha 1, plain products)");
  std::string options = plan.build_options() + " -DTRANS_A=" + (g.trans_a ? "1" : "0") +
                        " -DTRANS_B=" + (g.trans_b ? "1" : "0") + tap_row_options(g.b_rows);
  if (g.row_bias) options += " -DROW_BIAS=1";
  if (g.col_bias) options += " -DCOL_BIAS=1";
  if (g.finish.on) options += " " + epilogue_options(g.finish);
  if (plan.float4_tiles() && g.k % plan.tile_k == 0)  // no step reaches past K
    options += " -DWHOLE_K_STEPS=1";
  cl_kernel kernel = ctx.kernel(plan.source_name(), plan.kernel_name(), options);
  set_args(kernel, static_cast<cl_int>(g.m), static_cast<cl_int>(g.n), static_cast<cl_int>(g.k),
           g.alpha, g.a, static_cast<cl_ulong>(g.offset_a), static_cast<cl_int>(g.lda),
           static_cast<cl_ulong>(g.stride_a), g.b, static_cast<cl_ulong>(g.offset_b),
           static_cast<cl_int>(g.ldb), static_cast<cl_ulong>(g.stride_b), g.beta, g.c,
           static_cast<cl_ulong>(g.offset_c), static_cast<cl_int>(g.ldc),
           static_cast<cl_ulong>(g.stride_c));
  // Through set_arg, which a recording sees: set directly, the pass could not be replayed.
  if (g.row_bias) set_arg(kernel, 17, g.row_bias);
  if (g.col_bias) set_arg(kernel, 17, g.col_bias);
  const std::size_t groups_n = (g.n + plan.tile_n - 1) / plan.tile_n;
  const std::size_t groups_m = (g.m + plan.tile_m - 1) / plan.tile_m;
  enqueue<3>(ctx.queue.get(), kernel,
             {groups_n * plan.local_x(), groups_m * plan.local_y(), g.batch},
             {plan.local_x(), plan.local_y(), 1}, event);
}

namespace {

std::string clblast_status_name(clblast::StatusCode status) {
  switch (status) {
    case clblast::StatusCode::kNotImplemented:
      return "kNotImplemented";
    case clblast::StatusCode::kInvalidDimension:
      return "kInvalidDimension";
    case clblast::StatusCode::kInvalidLeadDimA:
      return "kInvalidLeadDimA";
    case clblast::StatusCode::kInvalidLeadDimB:
      return "kInvalidLeadDimB";
    case clblast::StatusCode::kInvalidLeadDimC:
      return "kInvalidLeadDimC";
    case clblast::StatusCode::kInsufficientMemoryA:
      return "kInsufficientMemoryA";
    case clblast::StatusCode::kInsufficientMemoryB:
      return "kInsufficientMemoryB";
    case clblast::StatusCode::kInsufficientMemoryC:
      return "kInsufficientMemoryC";
    case clblast::StatusCode::kInvalidBatchCount:
      return "kInvalidBatchCount";
    case clblast::StatusCode::kInvalidLocalMemUsage:
      return "kInvalidLocalMemUsage";
    case clblast::StatusCode::kDatabaseError:
      return "kDatabaseError";
    case clblast::StatusCode::kUnknownError:
      return "kUnknownError";
    case clblast::StatusCode::kUnexpectedError:
      return "kUnexpectedError";
    default:
      return cl_error_name(static_cast<int>(status));  // an OpenCL error passed on
  }
}

void gemm_clblast(ContextImpl& ctx, const GemmCall& g, cl_event* event) {
  using clblast::Transpose;
  cl_command_queue queue = ctx.queue.get();
  const auto layout = clblast::Layout::kRowMajor;
  const auto ta = g.trans_a ? Transpose::kYes : Transpose::kNo;
  const auto tb = g.trans_b ? Transpose::kYes : Transpose::kNo;
  // The seam treats the whole CLBlast call as one enqueue (its own buffers, builds and launches
  // are out of reach); an injected error comes back as CLBlast returns the OpenCL errors it meets.
  LibraryCallTimer timer("clblast_gemm", event);  // the profiler's view of the whole call
  note_unrepeatable();  // its launches are CLBlast's, out of a recording's sight
  auto status = static_cast<clblast::StatusCode>(fault::injected(fault::Site::enqueue));
  const bool run = status == clblast::StatusCode::kSuccess;
  if (run && g.batch == 1) {
    status =
        clblast::Gemm<float>(layout, ta, tb, g.m, g.n, g.k, g.alpha, g.a, g.offset_a, g.lda, g.b,
                             g.offset_b, g.ldb, g.beta, g.c, g.offset_c, g.ldc, &queue, event);
  } else if (run) {
    // The batched form with explicit offsets, which also serves a shared (stride 0) operand.
    std::vector<std::size_t> oa(g.batch), ob(g.batch), oc(g.batch);
    for (std::size_t i = 0; i < g.batch; ++i) {
      oa[i] = g.offset_a + i * g.stride_a;
      ob[i] = g.offset_b + i * g.stride_b;
      oc[i] = g.offset_c + i * g.stride_c;
    }
    std::vector<float> alphas(g.batch, g.alpha), betas(g.batch, g.beta);
    status = clblast::GemmBatched<float>(layout, ta, tb, g.m, g.n, g.k, alphas.data(), g.a,
                                         oa.data(), g.lda, g.b, ob.data(), g.ldb, betas.data(), g.c,
                                         oc.data(), g.ldc, g.batch, &queue, event);
  }
  if (status == clblast::StatusCode::kSuccess) return timer.finished();
  const std::string what = "CLBlast GEMM (" + std::to_string(g.m) + "x" + std::to_string(g.n) +
                           "x" + std::to_string(g.k) + ", batch " + std::to_string(g.batch) + ")";
  // CLBlast passes OpenCL's errors through unchanged and numbers its own from -1007 down.
  if (static_cast<int>(status) > -1000) throw DeviceError(what, static_cast<int>(status));
  throw Error(what + " failed: " + clblast_status_name(status));
}

}  // namespace

std::string to_string(GemmBackend backend) {
  switch (backend) {
    case GemmBackend::own:
      return "own";
    case GemmBackend::clblast:
      return "clblast";
    case GemmBackend::gemv:
      return "gemv";
    case GemmBackend::blas:
      return "blas";
    case GemmBackend::automatic:
      break;
  }
  return "automatic";
}

GemmBackend choose_gemm_backend(const ContextImpl& ctx, const GemmCall& call) {
  return choose_gemm(ctx, call).backend;
}

namespace {

std::size_t split_k_slices(const ContextImpl& ctx, const GemmCall& g, const GemmChoice& choice) {
  const MatmulPlan& plan = choice.plan;
  const std::size_t tiles = plan.blocks(g.m, g.n, g.batch), rows = LaunchPlanner::kMinSliceRows;
  const std::size_t units = std::max<std::size_t>(1, ctx.info.compute_units);
  if (g.k < 2 * rows || choice.backend == GemmBackend::blas) return 1;  // the BLAS splits itself
  // gemm_mma was measured unsplit only, and takes only products of many blocks.
  if (plan.stages > 0) return 1;
  // Over half the units busy, slices pay only where they fill the last wave of blocks (on the
  // H100 1024^3 ran faster unsplit in 128 blocks of 64x128 than in 3 slices of them).
  // (clnn's own kernel only: its plan's blocks are the ones counted)
  if (2 * tiles > units)
    return choice.backend == GemmBackend::own ? ctx.planner.gemm_k_slices(plan, tiles, g.k) : 1;
  const std::size_t wanted = units * ctx.planner.split_k_blocks_per_unit(plan);
  return std::min(g.k / rows, (wanted + tiles - 1) / tiles);
}

}  // namespace

std::size_t split_k_slices(const ContextImpl& ctx, const GemmCall& g) {
  return split_k_slices(ctx, g, choose_gemm(ctx, g));
}

bool operand_in_scratch(ContextImpl& ctx, const GemmCall& g) {
  return ctx.is_scratch(g.a) || ctx.is_scratch(g.b) || ctx.is_scratch(g.c) ||
         (g.col_bias && ctx.is_scratch(g.col_bias));
}

namespace {

// One launch (or CLBlast call) for the whole product, as chosen.
void gemm_unsplit(ContextImpl& ctx, const GemmCall& call, const GemmChoice& choice,
                  cl_event* event) {
  if (choice.backend == GemmBackend::clblast)
    gemm_clblast(ctx, call, event);
  else if (choice.backend == GemmBackend::blas)
    gemm_host_blas(ctx, call, event);
  else
    gemm_with_plan(ctx, call, choice.plan, event);
}

// The product as `slices` partial products over slices of K into scratch, then summed into C;
// the slices run as the whole product was chosen to (so the tuner times what runs).
void gemm_split_k(ContextImpl& ctx, const GemmCall& g, std::size_t slices,
                  const GemmChoice& choice) {
  const MatmulPlan& plan = choice.plan;
  const std::size_t mn = g.m * g.n;
  // Slices of a multiple of 4 keep an aligned call aligned, so they run on the vec4 kernel (the
  // H100's weight gradients had gone to CLBlast's slower kernel through odd offsets); of whole
  // k-steps, so its loads need no check of K.
  const std::size_t multiple = std::lcm<std::size_t>(4, std::max<std::size_t>(1, plan.tile_k));
  const std::size_t slice_k = ((g.k + slices - 1) / slices + multiple - 1) / multiple * multiple;
  slices = (g.k + slice_k - 1) / slice_k;
  cl_mem partial = ctx.scratch(slices * mn);
  // Element (row, k0) of op(A) and (k0, col) of op(B) start each slice.
  const std::size_t a_step = g.trans_a ? slice_k * g.lda : slice_k;
  const std::size_t b_step = g.trans_b ? slice_k : slice_k * g.ldb;
  auto slice_call = [&](std::size_t first, std::size_t count, std::size_t k) {
    GemmCall s = g;
    s.k = k;
    s.batch = count;
    s.alpha = 1.0f;
    s.beta = 0.0f;
    s.offset_a = g.offset_a + first * a_step, s.stride_a = a_step;
    s.offset_b = g.offset_b + first * b_step, s.stride_b = b_step;
    s.c = partial, s.offset_c = first * mn, s.ldc = g.n, s.stride_c = mn;
    s.col_bias = nullptr, s.finish = {};  // the sum applies them
    // Never split again: scratch holds the partials.
    gemm_unsplit(ctx, s, choice, nullptr);
  };
  slice_call(0, slices - 1, slice_k);
  slice_call(slices - 1, 1, g.k - (slices - 1) * slice_k);
  sum_slices(ctx, partial, 0, slices, mn, g.alpha, g.beta, g.c, g.offset_c, g.finish, g.col_bias,
             g.n);
}

// Whether a call runs as slices of K: a single product into a contiguous C (no event: several
// launches), with scratch free for the partial products.
bool runs_in_slices(ContextImpl& ctx, const GemmCall& call, const GemmChoice& choice,
                    cl_event* event) {
  return !event && call.batch == 1 && call.ldc == call.n && !operand_in_scratch(ctx, call) &&
         split_k_slices(ctx, call, choice) > 1;
}

// Whether the product's one launch is gemm_cpu's, which adds a row bias and finishes C.
bool finishes_rows_in_kernel(ContextImpl& ctx, const GemmCall& call, const GemmChoice& choice,
                             cl_event* event) {
  return choice.backend == GemmBackend::own && choice.plan.kernel == MatmulKernel::cpu &&
         !runs_in_slices(ctx, call, choice, event);
}

// Whether the product's kernels add its column bias: the sum of a split product, or clnn's fp32
// vec4 or CPU kernel run whole.
bool adds_columns_in_kernel(ContextImpl& ctx, const GemmCall& call, const GemmChoice& choice,
                            cl_event* event) {
  if (choice.backend == GemmBackend::gemv || choice.backend == GemmBackend::blas) return false;
  if (call.alpha != 1.0f) return false;  // the sums take the bias before alpha
  return runs_in_slices(ctx, call, choice, event) ||
         (choice.backend == GemmBackend::own && adds_columns(choice.plan, call));
}

// Whether the product's kernels apply its finish: the sum of a split product, or gemm_cpu run
// whole.
bool finishes_in_kernel(ContextImpl& ctx, const GemmCall& call, const GemmChoice& choice,
                        cl_event* event) {
  if (choice.backend == GemmBackend::gemv || choice.backend == GemmBackend::blas) return false;
  return runs_in_slices(ctx, call, choice, event) ||
         (choice.backend == GemmBackend::own && finishes(choice.plan));
}

// What gemm_finishing_columns applies of a call's column bias and finish in its kernels: the
// finish only where the bias, if any, is added there too (it comes after).
GemmFinished finished_in_kernel(ContextImpl& ctx, const GemmCall& call, const GemmChoice& choice,
                                bool with_bias) {
  GemmFinished done;
  done.bias = !with_bias || adds_columns_in_kernel(ctx, call, choice, nullptr);
  done.finish = !call.finish.on || (done.bias && finishes_in_kernel(ctx, call, choice, nullptr));
  return done;
}

}  // namespace

void gemm_as_chosen(ContextImpl& ctx, const GemmCall& call, const GemmChoice& choice,
                    cl_event* event) {
  if (call.row_bias && !finishes_rows_in_kernel(ctx, call, choice, event))
    throw Error("matmul: a row bias asked of " + describe_gemm(ctx, call));
  const bool in_rows = call.row_bias && finishes_rows_in_kernel(ctx, call, choice, event);
  if (call.finish.on && !in_rows && !finishes_in_kernel(ctx, call, choice, event))
    throw Error("matmul: a finish asked of " + describe_gemm(ctx, call));
  if (call.col_bias && !adds_columns_in_kernel(ctx, call, choice, event))
    throw Error("matmul: a column bias asked of " + describe_gemm(ctx, call));
  if (choice.backend == GemmBackend::gemv) return gemv(ctx, call, event);  // its own slices
  if (choice.backend == GemmBackend::blas) return gemm_host_blas(ctx, call, event);  // no slices
  if (runs_in_slices(ctx, call, choice, event))
    return gemm_split_k(ctx, call, split_k_slices(ctx, call, choice), choice);
  gemm_unsplit(ctx, call, choice, event);
}

std::string describe_gemm(ContextImpl& ctx, const GemmCall& call) {
  const GemmChoice choice = choose_gemm(ctx, call);
  if (choice.backend == GemmBackend::gemv) return "gemv " + gemv_plan(ctx, call).describe();
  if (choice.backend == GemmBackend::clblast) return "clblast";
  if (choice.backend == GemmBackend::blas) return "host blas";
  std::string out = choice.plan.describe();
  if (call.batch == 1 && call.ldc == call.n)
    if (std::size_t slices = split_k_slices(ctx, call, choice); slices > 1)
      out += ", K in " + std::to_string(slices) + " slices";
  return out;
}

namespace {

// The choice gemm() runs a call with, noted for the tuner where it is collecting shapes.
GemmChoice choose_to_run(const ContextImpl& ctx, const GemmCall& call, GemmBackend backend) {
  if (TuningNotes* notes = active_tuning_notes())
    notes->products.push_back(gemm_tuning_shape(call));
  GemmChoice choice = choose_gemm(ctx, call);
  // A backend asked for, but the host BLAS only where it serves (as CLNN_GEMM=blas).
  if (backend != GemmBackend::automatic &&
      (backend != GemmBackend::blas || host_blas_serves(ctx, call)))
    choice.backend = backend;
  return choice;
}

}  // namespace

void gemm(ContextImpl& ctx, const GemmCall& call, GemmBackend backend, cl_event* event) {
  if (call.m == 0 || call.n == 0 || call.batch == 0) return;
  gemm_as_chosen(ctx, call, choose_to_run(ctx, call, backend), event);
}

GemmFinished gemm_finishing_columns(ContextImpl& ctx, GemmCall call) {
  if (call.m == 0 || call.n == 0 || call.batch == 0) return {};  // no columns to finish
  const GemmChoice choice = choose_to_run(ctx, call, GemmBackend::automatic);
  const GemmFinished done = finished_in_kernel(ctx, call, choice, call.col_bias != nullptr);
  if (!done.bias) call.col_bias = nullptr;
  if (!done.finish) call.finish = {};
  gemm_as_chosen(ctx, call, choice, nullptr);
  return done;
}

GemmFinished gemm_finishes_columns(ContextImpl& ctx, const GemmCall& call, bool with_bias) {
  return finished_in_kernel(ctx, call, choose_gemm(ctx, call), with_bias);
}

bool gemm_finishing_rows(ContextImpl& ctx, GemmCall call) {
  if (call.m == 0 || call.n == 0 || call.batch == 0) return true;  // no rows to finish
  const GemmChoice choice = choose_to_run(ctx, call, GemmBackend::automatic);
  const bool finishes = finishes_rows_in_kernel(ctx, call, choice, nullptr);
  if (!finishes) call.row_bias = nullptr, call.finish = {};
  gemm_as_chosen(ctx, call, choice, nullptr);
  return finishes;
}

}  // namespace clnn::detail
