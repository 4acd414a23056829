// The matmul suite: clnn's SGEMM as matmul runs it (its own kernels on GPUs, the host BLAS on CPU
// devices, tensor cores in a TF32 context; the backend is named), clnn's own kernels alone, and
// CLBlast's, on square fp32 matrices, each compared with CLBlast's before it is timed. In a TF32
// context on a device with TF32 tensor cores, also every form of the pipelined kernel
// (LaunchPlanner::pipelined_forms), each compared with CLBlast's and timed: one call measures
// them all.
#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "bench.hpp"
#include "clnn/tensor.hpp"
#include "context_impl.hpp"
#include "ops/gemm.hpp"

namespace clnn::bench {

namespace {

std::vector<std::int64_t> default_sizes(const DeviceInfo& device) {
  std::vector<std::int64_t> sizes{128, 256, 512, 1024, 2048};
  if (device.type == DeviceType::gpu) sizes.insert(sizes.end(), {4096, 8192});
  return sizes;
}

}  // namespace

std::vector<Record> matmul_suite(const Context& ctx, const Options& options) {
  auto& impl = detail::Access::impl(ctx);
  auto sizes = options.sizes.empty() ? default_sizes(ctx.device()) : options.sizes;
  fmt::print("{:>6}  {:>12}  {:>8}  {:>11}  {:>15}  {:>7}  {:>10}\n", "n", "clnn GFLOP/s",
             "backend", "own GFLOP/s", "CLBlast GFLOP/s", "ratio", "rel. diff");
  std::vector<Record> records;
  for (std::int64_t n : sizes) {
    const auto elements = std::size_t(n * n);
    Tensor a = Tensor::from_host(ctx, {n, n}, pseudo_random(elements, 1));
    Tensor b = Tensor::from_host(ctx, {n, n}, pseudo_random(elements, 2));
    Tensor c_clnn = Tensor::empty(ctx, {n, n}), c_own = Tensor::empty(ctx, {n, n});
    Tensor c_blas = Tensor::empty(ctx, {n, n});
    auto call_into = [&](const Tensor& c) {
      detail::GemmCall g;
      g.m = g.n = g.k = std::size_t(n);
      g.a = detail::Access::mem(a), g.lda = std::size_t(n);
      g.b = detail::Access::mem(b), g.ldb = std::size_t(n);
      g.c = detail::Access::mem(c), g.ldc = std::size_t(n);
      return g;
    };
    // The backend, or the kernel where that runs on tensor cores (a TF32, fp16 or bf16 context):
    // the precision for gemm_vec4's forms, gemm_mma for the pipelined one.
    const detail::GemmChoice choice = detail::choose_gemm(impl, call_into(c_clnn));
    const std::string backend =
        choice.plan.tensor_cores() && choice.backend == detail::GemmBackend::own
            ? (choice.plan.stages > 0 ? choice.plan.kernel_name() : to_string(choice.plan.kernel))
            : detail::to_string(choice.backend);
    auto clnn = [&] { detail::gemm(impl, call_into(c_clnn)); };
    auto own = [&] { detail::gemm(impl, call_into(c_own), detail::GemmBackend::own); };
    auto blas = [&] { detail::gemm(impl, call_into(c_blas), detail::GemmBackend::clblast); };
    clnn();
    own();
    blas();
    const auto reference = c_blas.to_host();
    const double diff = std::max(relative_difference(c_clnn.to_host(), reference),
                                 relative_difference(c_own.to_host(), reference));
    const double flops = 2.0 * double(n) * double(n) * double(n);
    const double clnn_s = median_seconds(ctx, clnn), own_s = median_seconds(ctx, own);
    const double blas_s = median_seconds(ctx, blas);
    Record r;
    r["n"] = n;
    r["backend"] = backend;
    r["gflops"] = flops / clnn_s * 1e-9;
    r["own_gflops"] = flops / own_s * 1e-9;
    r["clblast_gflops"] = flops / blas_s * 1e-9;
    r["ratio"] = blas_s / clnn_s;
    r["ms"] = clnn_s * 1e3;
    r["own_ms"] = own_s * 1e3;
    r["clblast_ms"] = blas_s * 1e3;
    r["relative_difference"] = diff;
    fmt::print("{:>6}  {:>12.1f}  {:>8}  {:>11.1f}  {:>15.1f}  {:>7.2f}  {:>10.1e}\n", n,
               r["gflops"].get<double>(), backend, r["own_gflops"].get<double>(),
               r["clblast_gflops"].get<double>(), r["ratio"].get<double>(), diff);
    if (impl.precision == Precision::tf32) {
      r["pipelined"] = nlohmann::json::array();
      for (const MatmulPlan& form : impl.planner.pipelined_forms()) {
        auto run = [&] { detail::gemm_with_plan(impl, call_into(c_own), form, nullptr); };
        run();
        const double form_diff = relative_difference(c_own.to_host(), reference);
        const double form_s = median_seconds(ctx, run);
        r["pipelined"].push_back({{"plan", form.describe()},
                                  {"gflops", flops / form_s * 1e-9},
                                  {"relative_difference", form_diff}});
        fmt::print("{:>6}  {:>12.1f}  {}, rel. diff {:.1e}\n", "", flops / form_s * 1e-9,
                   form.describe(), form_diff);
      }
    }
    records.push_back(r);
  }
  return records;
}

}  // namespace clnn::bench
