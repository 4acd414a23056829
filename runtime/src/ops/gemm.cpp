// GEMM launches: the tiled kernel of cl_kernels/matmul.cl with the LaunchPlanner's tiles, or
// CLBlast's strided-batched GEMM.
#include "ops/gemm.hpp"

#include <clblast.h>

#include <climits>
#include <cstdlib>

#include "cl/kernel_call.hpp"
#include "context_impl.hpp"

namespace clnn::detail {

namespace {

void gemm_own(ContextImpl& ctx, const GemmCall& g) {
  // The kernel indexes one matrix with int arithmetic.
  auto fits_int = [](std::size_t rows, std::size_t ld) { return rows * ld < std::size_t{INT_MAX}; };
  const std::size_t a_rows = g.trans_a ? g.k : g.m, b_rows = g.trans_b ? g.n : g.k;
  if (!fits_int(a_rows, g.lda) || !fits_int(b_rows, g.ldb) || !fits_int(g.m, g.ldc))
    throw Error("matmul: a matrix of over 2^31 elements is beyond the tiled kernel");
  const MatmulPlan plan = ctx.planner.matmul();
  std::string options = plan.build_options() + " -DTRANS_A=" + (g.trans_a ? "1" : "0") +
                        " -DTRANS_B=" + (g.trans_b ? "1" : "0");
  cl_kernel kernel = ctx.kernel("matmul", "gemm", options);
  set_args(kernel, static_cast<cl_int>(g.m), static_cast<cl_int>(g.n), static_cast<cl_int>(g.k),
           g.alpha, g.a, static_cast<cl_ulong>(g.offset_a), static_cast<cl_int>(g.lda),
           static_cast<cl_ulong>(g.stride_a), g.b, static_cast<cl_ulong>(g.offset_b),
           static_cast<cl_int>(g.ldb), static_cast<cl_ulong>(g.stride_b), g.beta, g.c,
           static_cast<cl_ulong>(g.offset_c), static_cast<cl_int>(g.ldc),
           static_cast<cl_ulong>(g.stride_c));
  const std::size_t groups_n = (g.n + plan.tile_n - 1) / plan.tile_n;
  const std::size_t groups_m = (g.m + plan.tile_m - 1) / plan.tile_m;
  enqueue<3>(ctx.queue.get(), kernel, {groups_n * plan.local_x(), groups_m * plan.local_y(), g.batch},
             {plan.local_x(), plan.local_y(), 1});
}

void gemm_clblast(ContextImpl& ctx, const GemmCall& g) {
  using clblast::Transpose;
  cl_command_queue queue = ctx.queue.get();
  auto status = clblast::GemmStridedBatched<float>(
      clblast::Layout::kRowMajor, g.trans_a ? Transpose::kYes : Transpose::kNo,
      g.trans_b ? Transpose::kYes : Transpose::kNo, g.m, g.n, g.k, g.alpha, g.a, g.offset_a, g.lda,
      g.stride_a, g.b, g.offset_b, g.ldb, g.stride_b, g.beta, g.c, g.offset_c, g.ldc, g.stride_c,
      g.batch, &queue, nullptr);
  if (status != clblast::StatusCode::kSuccess)
    throw DeviceError("CLBlast GemmStridedBatched", static_cast<int>(status));
}

}  // namespace

GemmBackend gemm_backend_from_env() {
  const char* env = std::getenv("CLNN_GEMM");
  std::string value = env ? env : "";
  if (value == "own") return GemmBackend::own;
  if (value == "clblast") return GemmBackend::clblast;
  return GemmBackend::automatic;
}

std::string to_string(GemmBackend backend) {
  switch (backend) {
    case GemmBackend::own:
      return "own";
    case GemmBackend::clblast:
      return "clblast";
    case GemmBackend::automatic:
      break;
  }
  return "automatic";
}

GemmBackend choose_gemm_backend(const ContextImpl& ctx, const GemmCall& call) {
  static const GemmBackend forced = gemm_backend_from_env();
  if (forced != GemmBackend::automatic) return forced;
  // CLBlast's tuned kernels pay off on GPUs for large products; small ones (and CPUs) run the
  // tiled kernel, which needs no extra launches for padding or transposition.
  const double flops = 2.0 * double(call.m) * double(call.n) * double(call.k) * double(call.batch);
  return ctx.info.type == DeviceType::gpu && flops >= 2.0 * 512 * 512 * 512 ? GemmBackend::clblast
                                                                           : GemmBackend::own;
}

void gemm(ContextImpl& ctx, const GemmCall& call, GemmBackend backend) {
  if (call.m == 0 || call.n == 0 || call.batch == 0) return;
  if (backend == GemmBackend::automatic) backend = choose_gemm_backend(ctx, call);
  if (backend == GemmBackend::clblast)
    gemm_clblast(ctx, call);
  else
    gemm_own(ctx, call);
}

}  // namespace clnn::detail
