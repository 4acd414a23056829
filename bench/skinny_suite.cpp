// The skinny suite: products with a side of C at most 16 long (batch-1 fully connected layers and
// their input gradients, products with 16 vectors) through the matrix-vector kernels, in GB/s of
// the big operand, which they stream once: against the copy bandwidth measured in the same run
// (the most a stream can reach) and against clnn's GEMM tiles, which served them before. Each
// result is checked against the tiles' before it is timed.
#include <fmt/format.h>

#include "bench.hpp"
#include "clnn/tensor.hpp"
#include "context_impl.hpp"
#include "ops/gemm.hpp"
#include "ops/gemv.hpp"

namespace clnn::bench {

namespace {

struct Case {
  const char* name;
  std::size_t m, n, k;
  bool trans_b;  // B stored N x K: a Linear layer's weight in the forward pass
};

// A Linear layer of `in` -> `out` at batch `batch`: forward y = x W^T reads W [out, in] along
// its rows; the input gradient dx = dy W reads it along its columns.
Case forward(const char* name, std::size_t batch, std::size_t in, std::size_t out) {
  return {name, batch, out, in, true};
}
Case input_gradient(const char* name, std::size_t batch, std::size_t in, std::size_t out) {
  return {name, batch, in, out, false};
}

const Case kCases[] = {
    forward("fc 25088->4096 (vgg fc6), batch 1", 1, 25088, 4096),
    forward("fc 9216->4096 (alexnet fc6), batch 1", 1, 9216, 4096),
    forward("fc 4096->4096, batch 1", 1, 4096, 4096),
    forward("fc 4096->1000, batch 1", 1, 4096, 1000),
    input_gradient("fc 25088->4096 input gradient", 1, 25088, 4096),
    input_gradient("fc 4096->4096 input gradient", 1, 4096, 4096),
    forward("fc 4096->4096, batch 16", 16, 4096, 4096),
    input_gradient("fc 4096->4096 input gradient, batch 16", 16, 4096, 4096),
    {"4096x4096 by 4 columns (N = 4)", 4096, 4, 4096, false},
    {"4096x4096 by 8 columns (N = 8)", 4096, 8, 4096, false},
    {"4096x4096 by 16 columns (N = 16)", 4096, 16, 4096, false},
};

}  // namespace

std::vector<Record> skinny_suite(const Context& ctx, const Options&) {
  auto& impl = detail::Access::impl(ctx);
  const double copy = copy_gbps(ctx, elementwise_sizes(ctx.device()).back());
  fmt::print("copy: {:.1f} GB/s\n", copy);
  fmt::print("{:<40}  {:>9}  {:>9}  {:>8}  {:>9}  {:>8}  {:>9}  {}\n", "product", "ms", "GB/s",
             "of copy", "tiles ms", "speedup", "rel. diff", "plan");
  std::vector<Record> records;
  for (const Case& c : kCases) {
    Tensor a = Tensor::from_host(ctx, {std::int64_t(c.m * c.k)}, pseudo_random(c.m * c.k, 1));
    Tensor b = Tensor::from_host(ctx, {std::int64_t(c.k * c.n)}, pseudo_random(c.k * c.n, 2));
    Tensor c_gemv = Tensor::empty(ctx, {std::int64_t(c.m * c.n)});
    Tensor c_tiles = Tensor::empty(ctx, {std::int64_t(c.m * c.n)});
    auto call_into = [&](const Tensor& out) {
      detail::GemmCall g;
      g.trans_b = c.trans_b;
      g.m = c.m, g.n = c.n, g.k = c.k;
      g.a = detail::Access::mem(a), g.lda = c.k;
      g.b = detail::Access::mem(b), g.ldb = c.trans_b ? c.k : c.n;
      g.c = detail::Access::mem(out), g.ldc = c.n;
      return g;
    };
    auto gemv = [&] { detail::gemm(impl, call_into(c_gemv), detail::GemmBackend::gemv); };
    auto tiles = [&] { detail::gemm(impl, call_into(c_tiles), detail::GemmBackend::own); };
    gemv();
    tiles();
    const double diff = relative_difference(c_gemv.to_host(), c_tiles.to_host());
    const double gemv_s = median_seconds(ctx, gemv), tiles_s = median_seconds(ctx, tiles);
    // The big operand: the one whose side of C is the long one (ops/gemv.hpp).
    const double big_bytes = double(std::max(c.m, c.n)) * double(c.k) * sizeof(float);
    Record r;
    r["product"] = c.name;
    r["m"] = c.m, r["n"] = c.n, r["k"] = c.k, r["trans_b"] = c.trans_b;
    r["ms"] = gemv_s * 1e3;
    r["gbps"] = big_bytes / gemv_s * 1e-9;
    r["copy_gbps"] = copy;
    r["of_copy"] = r["gbps"].get<double>() / copy;
    r["tiles_ms"] = tiles_s * 1e3;
    r["speedup"] = tiles_s / gemv_s;
    r["relative_difference"] = diff;
    r["plan"] = detail::gemv_plan(impl, call_into(c_gemv)).describe();
    fmt::print("{:<40}  {:>9.3f}  {:>9.1f}  {:>8.2f}  {:>9.3f}  {:>8.2f}  {:>9.1e}  {}\n", c.name,
               r["ms"].get<double>(), r["gbps"].get<double>(), r["of_copy"].get<double>(),
               r["tiles_ms"].get<double>(), r["speedup"].get<double>(), diff,
               r["plan"].get<std::string>());
    records.push_back(r);
  }
  return records;
}

}  // namespace clnn::bench
