// GEMM through both backends (the tiled kernel and CLBlast) and the matmul operator.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "context_impl.hpp"
#include "gemv_styles.hpp"
#include "op_harness.hpp"
#include "ops/gemm.hpp"
#include "ops/gemm_host.hpp"
#include "ops/gemv.hpp"

using namespace clnn;
using clnn::test::context;
using clnn::test::GemvStyle;
using clnn::test::kCpuRowBlocks;
using clnn::test::kCpuStyle;
using clnn::test::kGpuSmallGroups;
using clnn::test::kGpuStyle;
using clnn::test::OpCheck;
using clnn::test::random_vector;
using clnn::test::relative_error;
using clnn::test::styled;
using reference::Vec;

namespace {

constexpr float kCanary = -777.25f;

// How check_gemm runs the product: through gemm() with a backend, one kernel configuration, or
// the matrix-vector kernels in a style.
struct GemmRoute {
  detail::GemmBackend backend = detail::GemmBackend::automatic;
  const MatmulPlan* plan = nullptr;
  std::size_t pad = 3;  // spare floats after each row and batch of C (4 keeps C aligned)
  // Floats before A, B and C in their buffers: NaN before A and B, canaries before C.
  std::size_t offset = 0;
  const GemvStyle* gemv_style = nullptr;
};

// C (ldc = n + pad, batch stride with pad spare floats, all spares canaries) = alpha op(A) op(B)
// + beta C. shared_b: one B (stride 0) for every batch.
void check_gemm(const GemmRoute& route, std::size_t batch, std::size_t m, std::size_t n,
                std::size_t k, bool ta, bool tb, float alpha, float beta, bool shared_b = false) {
  INFO("backend " << detail::to_string(route.backend) << " plan "
                  << (route.plan ? route.plan->describe() : "-") << " gemv style "
                  << (route.gemv_style ? route.gemv_style->local_size : 0) << "/"
                  << (route.gemv_style ? route.gemv_style->team : 0) << " batch " << batch << " m "
                  << m << " n " << n << " k " << k << " ta " << ta << " tb " << tb << " alpha "
                  << alpha << " beta " << beta << " shared b " << shared_b << " pad "
                  << route.pad << " offset " << route.offset);
  const std::size_t ldc = n + route.pad, stride_c = m * ldc + route.pad, off = route.offset;
  auto a = random_vector(batch * m * k, 1), b = random_vector((shared_b ? 1 : batch) * k * n, 2);
  std::vector<float> c(batch * stride_c, kCanary);
  auto c_initial = random_vector(batch * m * n, 3);
  for (std::size_t bt = 0; bt < batch; ++bt)
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t j = 0; j < n; ++j)
        c[bt * stride_c + i * ldc + j] = beta == 0.0f ? std::numeric_limits<float>::quiet_NaN()
                                                      : c_initial[(bt * m + i) * n + j];

  // Each operand `off` floats into its buffer.
  auto after = [off](float fill, const std::vector<float>& v) {
    std::vector<float> padded(off, fill);
    padded.insert(padded.end(), v.begin(), v.end());
    return Tensor::from_host(context(), {std::int64_t(padded.size())}, padded);
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor ta_dev = after(nan, a), tb_dev = after(nan, b), tc_dev = after(kCanary, c);
  detail::GemmCall call;
  call.trans_a = ta, call.trans_b = tb;
  call.m = m, call.n = n, call.k = k, call.batch = batch;
  call.alpha = alpha, call.beta = beta;
  call.a = detail::Access::mem(ta_dev), call.lda = ta ? m : k, call.stride_a = m * k;
  call.b = detail::Access::mem(tb_dev), call.ldb = tb ? k : n, call.stride_b = shared_b ? 0 : k * n;
  call.c = detail::Access::mem(tc_dev), call.ldc = ldc, call.stride_c = stride_c;
  call.offset_a = call.offset_b = call.offset_c = off;
  auto& impl = detail::Access::impl(context());
  if (route.plan)
    detail::gemm_with_plan(impl, call, *route.plan, nullptr);
  else if (route.gemv_style)
    detail::gemv_with_plan(impl, call, styled(impl, call, *route.gemv_style));
  else
    detail::gemm(impl, call, route.backend);
  auto result = tc_dev.to_host();
  std::size_t canaries_before = 0;
  for (std::size_t i = 0; i < off; ++i) canaries_before += result[i] == kCanary;
  CHECK(canaries_before == off);
  result.erase(result.begin(), result.begin() + std::ptrdiff_t(off));

  Shape sa = ta ? Shape{std::int64_t(batch), std::int64_t(k), std::int64_t(m)}
                : Shape{std::int64_t(batch), std::int64_t(m), std::int64_t(k)};
  Shape sb = tb ? Shape{std::int64_t(batch), std::int64_t(n), std::int64_t(k)}
                : Shape{std::int64_t(batch), std::int64_t(k), std::int64_t(n)};
  if (shared_b) sb.erase(sb.begin());
  Vec ref = reference::matmul(Vec(a.begin(), a.end()), sa, Vec(b.begin(), b.end()), sb, ta, tb);
  std::vector<float> got;
  Vec want;
  for (std::size_t bt = 0; bt < batch; ++bt)
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t j = 0; j < n; ++j) {
        got.push_back(result[bt * stride_c + i * ldc + j]);
        double r = alpha * ref[(bt * m + i) * n + j];
        if (beta != 0.0f) r += beta * double(c_initial[(bt * m + i) * n + j]);
        want.push_back(r);
      }
  CHECK(relative_error(got, want) < 1e-4);
  std::size_t canaries_lost = 0;
  for (std::size_t bt = 0; bt < batch; ++bt)
    for (std::size_t off = 0; off < stride_c; ++off) {
      std::size_t i = off / ldc, j = off % ldc;
      bool inside = i < m && j < n;
      if (!inside && result[bt * stride_c + off] != kCanary) ++canaries_lost;
    }
  CHECK(canaries_lost == 0);
}

void check_gemm(detail::GemmBackend backend, std::size_t batch, std::size_t m, std::size_t n,
                std::size_t k, bool ta, bool tb, float alpha, float beta, bool shared_b = false) {
  check_gemm(GemmRoute{backend}, batch, m, n, k, ta, tb, alpha, beta, shared_b);
}

}  // namespace

TEST_CASE("gemm matches the reference on every backend", "[matmul][slow]") {
  // (the host BLAS forced on a GPU runs as automatic)
  for (auto backend :
       {detail::GemmBackend::own, detail::GemmBackend::clblast, detail::GemmBackend::blas}) {
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        check_gemm(backend, 1, 33, 17, 129, ta, tb, 1.0f, 0.0f);
        check_gemm(backend, 3, 7, 65, 5, ta, tb, 0.5f, 0.75f);
        check_gemm(backend, 2, 68, 132, 36, ta, tb, 1.0f, 0.5f);  // aligned: the vec4 kernel
      }
    check_gemm(backend, 1, 1, 1, 1, false, false, 1.0f, 0.0f);
    check_gemm(backend, 4, 9, 11, 6, false, true, 1.0f, 0.0f, true);
    check_gemm(backend, 2, 130, 67, 3, false, false, -1.0f, 1.0f);
  }
}

TEST_CASE("every matmul kernel matches the reference", "[matmul][slow]") {
  // Configurations of each kernel, runnable on any device with local memory (emulated on CPUs);
  // the planner picks among them by device, the tuner times them all.
  const std::vector<MatmulPlan> plans{
      {true, 32, 32, 8, 8, 8, MatmulKernel::vec4},
      {true, 64, 32, 16, 8, 8, MatmulKernel::vec4},
      {true, 32, 64, 16, 8, 8, MatmulKernel::vec4},
      {false, 3, 8, 1, 3, 4, MatmulKernel::cpu},
      {false, 8, 32, 1, 8, 16, MatmulKernel::cpu},
      {false, 6, 16, 1, 6, 8, MatmulKernel::cpu},
      // Several vectors a row: the last block of a row shifted to end at N (n = 72 and 21, 20).
      {false, 8, 96, 1, 8, 48, MatmulKernel::cpu},
      {false, 6, 24, 1, 6, 12, MatmulKernel::cpu},
      // Short rows' forms (LaunchPlanner::cpu_blocks_for): 12 rows of 2 vectors, 24 of one.
      {false, 12, 128, 1, 12, 32, MatmulKernel::cpu},
      {false, 24, 64, 1, 24, 16, MatmulKernel::cpu},
      // A column of work-items taking steps of 8 k between barriers, the last column's items
      // past M included (m = 13, 37).
      {false, 12, 12, 8, 3, 12, MatmulKernel::cpu},
      // Blocks taken column by column, rows past M included (m = 13, 37, 68).
      {false, 8, 32, 1, 8, 16, MatmulKernel::cpu, 0, true},
      {false, 6, 24, 1, 6, 12, MatmulKernel::cpu, 0, true},
      {true, 16, 16, 8, 2, 2, MatmulKernel::tiled},
      {false, 8, 8, 8, 4, 2, MatmulKernel::tiled},
  };
  auto& impl = detail::Access::impl(context());
  for (const MatmulPlan& plan : plans) {
    REQUIRE(impl.planner.fits(plan));
    const bool aligned_only = plan.kernel == MatmulKernel::vec4;
    GemmRoute route{detail::GemmBackend::own, &plan, aligned_only ? 4u : 3u};
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        // Sizes that fill no tile, with several tiles and steps of K.
        check_gemm(route, 1, 68, 36, 44, ta, tb, 1.0f, 0.0f);
        check_gemm(route, 3, 4, 72, 12, ta, tb, 0.5f, 0.75f);
        if (!aligned_only) check_gemm(route, 2, 13, 21, 7, ta, tb, -1.0f, 1.0f);
        // K in whole steps of every tile_k (vec4 loads it unchecked), rows and columns not.
        check_gemm(route, 2, 36, 20, 48, ta, tb, 1.0f, 0.5f);
        // Rows of A stored M x K need no alignment, even on vec4 (197 tokens a sample).
        if (!ta) check_gemm(route, 2, 37, 20, 44, ta, tb, 1.0f, 0.5f);
      }
    check_gemm(route, 4, 12, 8, 20, false, true, 1.0f, 0.0f, true);
    if (aligned_only) {
      detail::GemmCall odd;
      odd.m = 4, odd.n = 4, odd.k = 5, odd.lda = 5, odd.ldb = 4, odd.ldc = 4;
      CHECK_FALSE(detail::gemm_is_aligned(odd));
      CHECK_THROWS_WITH(detail::gemm_with_plan(impl, odd, plan, nullptr),
                        Catch::Contains("cannot run this call"));
      detail::GemmCall odd_rows;  // 5 x 4 x 4: aligned, unless A is stored K x M
      odd_rows.m = 5, odd_rows.n = 4, odd_rows.k = 4, odd_rows.lda = 4, odd_rows.ldb = 4,
      odd_rows.ldc = 4;
      CHECK(detail::gemm_is_aligned(odd_rows));
      odd_rows.trans_a = true, odd_rows.lda = 8;  // only M is odd
      CHECK_FALSE(detail::gemm_is_aligned(odd_rows));
    }
  }
}

TEST_CASE("gemm on sizes that match no tile", "[matmul]") {
  auto plan = context().planner().matmul();
  std::size_t odd_m = plan.tile_m * 2 + 1, odd_n = plan.tile_n + 3, odd_k = plan.tile_k * 3 + 5;
  check_gemm(detail::GemmBackend::own, 1, odd_m, odd_n, odd_k, false, false, 1.0f, 0.0f);
  check_gemm(detail::GemmBackend::own, 2, odd_n, odd_m, odd_k, true, true, 1.0f, 0.0f);
}

namespace {

OpCheck matmul_check(Shape sa, Shape sb, bool ta, bool tb) {
  OpCheck c;
  c.shapes = {sa, sb};
  c.build = [=](const std::vector<Value>& v) { return matmul(v[0], v[1], ta, tb); };
  c.forward = [=](const std::vector<Vec>& x) {
    return reference::matmul(x[0], sa, x[1], sb, ta, tb);
  };
  c.backward = [=](const std::vector<Vec>& x, const Vec& g) {
    auto [ga, gb] = reference::matmul_backward(x[0], sa, x[1], sb, ta, tb, g);
    return std::vector<Vec>{ga, gb};
  };
  c.forward_tolerance = 1e-4;
  return c;
}

}  // namespace

// Runs body once with each GEMM backend forced on the test context, and once choosing (these
// products are skinny: the matrix-vector kernels).
template <typename Body>
void with_each_backend(Body body) {
  auto& impl = detail::Access::impl(context());
  const auto saved = impl.gemm_backend;
  for (auto backend : {detail::GemmBackend::automatic, detail::GemmBackend::own,
                       detail::GemmBackend::clblast, detail::GemmBackend::blas}) {
    INFO("backend " << detail::to_string(backend));
    impl.gemm_backend = backend;
    body();
  }
  impl.gemm_backend = saved;
}

TEST_CASE("matmul forward and backward: 2-D with transposes", "[matmul][ops]") {
  with_each_backend([] {
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        INFO("ta " << ta << " tb " << tb);
        Shape sa = ta ? Shape{7, 33} : Shape{33, 7};
        Shape sb = tb ? Shape{3, 7} : Shape{7, 3};
        clnn::test::run_op_check(matmul_check(sa, sb, ta, tb));
      }
    clnn::test::run_op_check(matmul_check({1, 1}, {1, 1}, false, false));
  });
}

TEST_CASE("matmul forward and backward: batched and shared operands", "[matmul][ops]") {
  with_each_backend([] {
    clnn::test::run_op_check(matmul_check({3, 5, 7}, {3, 7, 4}, false, false));
    clnn::test::run_op_check(matmul_check({3, 7, 5}, {3, 4, 7}, true, true));
    clnn::test::run_op_check(matmul_check({4, 5, 7}, {7, 6}, false, false));  // shared weight
    clnn::test::run_op_check(matmul_check({4, 7, 5}, {7, 6}, true, false));
    clnn::test::run_op_check(matmul_check({5, 7}, {4, 7, 6}, false, false));  // shared left
    clnn::test::run_op_check(matmul_check({4, 5, 7}, {6, 7}, false, true));
  });
}

namespace {

// matmul with a bias [N] added to every row, against the reference product plus the bias; the
// bias's gradient sums the output's over its rows.
OpCheck biased_matmul_check(Shape sa, Shape sb, bool ta, bool tb) {
  const std::int64_t n = tb ? sb[sb.size() - 2] : sb.back();
  OpCheck c = matmul_check(sa, sb, ta, tb);
  c.shapes.push_back({n});
  c.build = [=](const std::vector<Value>& v) { return matmul(v[0], v[1], v[2], ta, tb); };
  c.forward = [=](const std::vector<Vec>& x) {
    Vec y = reference::matmul(x[0], sa, x[1], sb, ta, tb);
    for (std::size_t i = 0; i < y.size(); ++i) y[i] += x[2][i % std::size_t(n)];
    return y;
  };
  c.backward = [=](const std::vector<Vec>& x, const Vec& g) {
    auto [ga, gb] = reference::matmul_backward(x[0], sa, x[1], sb, ta, tb, g);
    Vec gbias(std::size_t(n), 0.0);
    for (std::size_t i = 0; i < g.size(); ++i) gbias[i % std::size_t(n)] += g[i];
    return std::vector<Vec>{ga, gb, gbias};
  };
  return c;
}

}  // namespace

TEST_CASE("matmul with a bias: forward and backward on every backend", "[matmul][ops]") {
  // Odd sizes (the general kernels, the bias in a pass of its own), one row and 127 rows, and
  // sizes in float4s in the Linear layer's form (B transposed) and batched with a shared weight,
  // whose bias clnn's own kernels add in their stores (gemm_vec4 on GPUs, gemm_cpu on CPUs).
  with_each_backend([] {
    clnn::test::run_op_check(biased_matmul_check({12, 8}, {16, 8}, false, true));
    clnn::test::run_op_check(biased_matmul_check({2, 6, 8}, {8, 16}, false, false));
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        INFO("ta " << ta << " tb " << tb);
        clnn::test::run_op_check(biased_matmul_check(ta ? Shape{9, 5} : Shape{5, 9},
                                                     tb ? Shape{8, 9} : Shape{9, 8}, ta, tb));
        clnn::test::run_op_check(biased_matmul_check(ta ? Shape{6, 1} : Shape{1, 6},
                                                     tb ? Shape{3, 6} : Shape{6, 3}, ta, tb));
      }
    OpCheck tall = biased_matmul_check({127, 20}, {20, 12}, false, false);
    tall.finite_differences = false;
    clnn::test::run_op_check(tall);
    clnn::test::run_op_check(biased_matmul_check({3, 5, 7}, {7, 4}, false, false));
  });
  Graph g;
  Value a = g.input("a", {4, 5}), b = g.input("b", {5, 3});
  CHECK_THROWS_WITH(matmul(a, b, g.input("c", {4})),
                    Catch::Contains("bias of shape [4]") && Catch::Contains("3 columns"));
  CHECK_THROWS_AS(matmul(a, b, g.input("d", {1, 3})), ShapeError);
}

TEST_CASE("matmul rejects shapes that do not fit", "[matmul][errors]") {
  Graph g;
  Value a = g.input("a", {4, 5});
  Value b = g.input("b", {6, 3});
  CHECK_THROWS_AS(matmul(a, b), ShapeError);
  CHECK_THROWS_WITH(matmul(a, b), Catch::Contains("matmul_1") && Catch::Contains("[4, 5]") &&
                                      Catch::Contains("[6, 3]") && Catch::Contains("inner"));
  CHECK_NOTHROW(matmul(a, g.input("c", {3, 5}), false, true));
  CHECK_THROWS_AS(matmul(g.input("d", {2, 4, 5}), g.input("e", {3, 5, 2})), ShapeError);
  CHECK_THROWS_AS(matmul(g.input("f", {5}), g.input("h", {5, 2})), ShapeError);
}

namespace {

// Whether clnn's own kernel would split a call over K (the host BLAS, automatic on CPUs, splits
// none: it threads a product itself).
bool own_splits(const detail::GemmCall& call) {
  auto& impl = detail::Access::impl(context());
  const auto saved = impl.gemm_backend;
  impl.gemm_backend = detail::GemmBackend::own;
  const bool splits = detail::split_k_slices(impl, call) > 1;
  impl.gemm_backend = saved;
  return splits;
}

}  // namespace

TEST_CASE("gemm_cpu adds a row bias and finishes C in its stores", "[matmul]") {
  auto& impl = detail::Access::impl(context());
  const bool cpu = impl.info.type == DeviceType::cpu;
  struct Case {
    std::size_t batch, m, n, k;
    float beta;
    bool bias;
  };
  // Rows past a block of 8, columns past whole vectors and narrower than one, a batch, beta.
  for (const Case& s : {Case{3, 13, 37, 29, 0.0f, true}, Case{1, 8, 5, 64, 0.5f, true},
                        Case{2, 17, 64, 3, 0.0f, false}}) {
    INFO("batch " << s.batch << " m " << s.m << " n " << s.n << " k " << s.k);
    const auto a = random_vector(s.m * s.k, 1), b = random_vector(s.batch * s.k * s.n, 2);
    const auto c = random_vector(s.batch * s.m * s.n, 3), bias = random_vector(s.m, 4);
    auto dev = [](const std::vector<float>& v) {
      return Tensor::from_host(context(), {std::int64_t(v.size())}, v);
    };
    Tensor ta = dev(a), tb = dev(b), tc = dev(c), tbias = dev(bias);
    detail::GemmCall call;  // a pointwise convolution's: one A, a product per sample
    call.m = s.m, call.n = s.n, call.k = s.k, call.batch = s.batch, call.beta = s.beta;
    call.a = detail::Access::mem(ta), call.lda = s.k;
    call.b = detail::Access::mem(tb), call.ldb = s.n, call.stride_b = s.k * s.n;
    call.c = detail::Access::mem(tc), call.ldc = s.n, call.stride_c = s.m * s.n;
    call.row_bias = s.bias ? detail::Access::mem(tbias) : nullptr;
    call.finish = {true, 0.0f, 0.25f, true};  // clip to [0, 0.25]: both bounds bite
    // Every such call finishes on CPUs (gemm_cpu); elsewhere the product runs alone, and gemm()
    // refuses to be asked for the finish.
    const bool finished = detail::gemm_finishing_rows(impl, call);
    CHECK(finished == cpu);
    if (!finished) CHECK_THROWS_WITH(detail::gemm(impl, call), Catch::Contains("row bias"));
    const auto got = tc.to_host();
    const Vec product = reference::matmul(
        Vec(a.begin(), a.end()), {std::int64_t(s.m), std::int64_t(s.k)}, Vec(b.begin(), b.end()),
        {std::int64_t(s.batch), std::int64_t(s.k), std::int64_t(s.n)}, false, false);
    std::size_t below = 0, above = 0, off = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
      double want = product[i] + s.beta * double(c[i]);
      if (finished) {
        want += s.bias ? bias[i / s.n % s.m] : 0.0;
        below += want < 0.0;
        above += want > 0.25;
        want = std::min(std::max(want, 0.0), 0.25);
      }
      off += std::fabs(got[i] - want) > 1e-5;
    }
    CHECK(off == 0);
    CHECK((below > 0) == finished);
    CHECK((above > 0) == finished);
  }
}

TEST_CASE("the host BLAS runs products on a CPU device's buffers in place", "[matmul]") {
  auto& impl = detail::Access::impl(context());
  const bool cpu = impl.info.type == DeviceType::cpu;
  detail::GemmCall plain;
  plain.m = plain.n = plain.k = 64, plain.lda = plain.ldb = plain.ldc = 64;
  detail::GemmCall taps = plain;
  taps.trans_b = true, taps.n = 18, taps.ldc = 18, taps.b_rows.taps = 9;
  const auto saved = impl.gemm_backend;
  for (auto setting : {detail::GemmBackend::automatic, detail::GemmBackend::blas}) {
    INFO("CLNN_GEMM " << detail::to_string(setting));
    impl.gemm_backend = setting;
    // CPUs take it for every product but those over tap rows (unasked only where OpenBLAS runs
    // kernels for the CPU, and for products of kMinHostBlasProduct multiply-adds or more);
    // elsewhere, even forced, it serves none and the choice is automatic's.
    const bool forced = setting == detail::GemmBackend::blas;
    CHECK((detail::choose_gemm_backend(impl, plain) == detail::GemmBackend::blas) ==
          (forced && cpu));
    detail::GemmCall large = plain;
    large.m = large.n = large.k = 512, large.lda = large.ldb = large.ldc = 512;
    REQUIRE(detail::host_blas_product_pays(large));
    REQUIRE_FALSE(detail::host_blas_product_pays(plain));
    CHECK((detail::choose_gemm_backend(impl, large) == detail::GemmBackend::blas) ==
          (forced ? cpu : detail::host_blas_pays(impl)));
    CHECK_FALSE((detail::host_blas_pays(impl) && !cpu));
    CHECK(detail::host_blas_serves(impl, plain) == cpu);
    CHECK_FALSE(detail::host_blas_serves(impl, taps));
    CHECK(detail::choose_gemm_backend(impl, taps) == detail::GemmBackend::own);
  }
  impl.gemm_backend = saved;
  if (!cpu) {
    CHECK_THROWS_WITH(detail::gemm_host_blas(impl, plain, nullptr), Catch::Contains("CPU"));
    return;
  }
  // Odd offsets into each buffer (NaN before A and B, canaries before and around C), padded C,
  // every transpose, batches with a shared B, beta 0 over a NaN-filled C and beta 1.
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      check_gemm(GemmRoute{detail::GemmBackend::blas, nullptr, 3, 5}, 3, 7, 9, 11, ta, tb, 0.5f,
                 0.0f);
      check_gemm(GemmRoute{detail::GemmBackend::blas, nullptr, 1, 1}, 2, 33, 17, 65, ta, tb,
                 -1.0f, 1.0f, true);
    }
  // A, B and C in one buffer, as the memory plan's arena lays tensors out: mapped once.
  const std::size_t n = 24;
  auto values = random_vector(3 * n * n, 4);
  Tensor arena = Tensor::from_host(context(), {std::int64_t(values.size())}, values);
  detail::GemmCall one;
  one.m = one.n = one.k = n, one.lda = one.ldb = one.ldc = n;
  one.a = one.b = one.c = detail::Access::mem(arena);
  one.offset_b = n * n, one.offset_c = 2 * n * n;
  detail::gemm_host_blas(impl, one, nullptr);
  const auto got = arena.to_host();
  Vec a(values.begin(), values.begin() + n * n), b(values.begin() + n * n, values.begin() + 2 * n * n);
  const Vec want = reference::matmul(a, {std::int64_t(n), std::int64_t(n)}, b,
                                     {std::int64_t(n), std::int64_t(n)}, false, false);
  CHECK(relative_error(std::vector<float>(got.begin() + 2 * n * n, got.end()), want) < 1e-5);
  CHECK(std::equal(got.begin(), got.begin() + 2 * n * n, values.begin()));  // A and B untouched
}

TEST_CASE("gemm splits a long K over few tiles and sums the slices", "[matmul]") {
  auto& impl = detail::Access::impl(context());
  // One tile of C, too few for the device.
  const auto plan = impl.planner.matmul_any_shape();
  const std::size_t m = std::min<std::size_t>(20, plan.tile_m);
  const std::size_t n = std::min<std::size_t>(30, plan.tile_n), k = 3001;
  for (auto backend : {detail::GemmBackend::own, detail::GemmBackend::clblast})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        INFO("backend " << detail::to_string(backend) << " ta " << ta << " tb " << tb);
        auto a = random_vector(m * k, 1), b = random_vector(k * n, 2), c0 = random_vector(m * n, 3);
        Tensor A = Tensor::from_host(context(), {std::int64_t(m * k)}, a);
        Tensor B = Tensor::from_host(context(), {std::int64_t(k * n)}, b);
        Tensor C = Tensor::from_host(context(), {std::int64_t(m * n)}, c0);
        detail::GemmCall call;
        call.trans_a = ta, call.trans_b = tb, call.m = m, call.n = n, call.k = k;
        call.alpha = 0.5f, call.beta = -1.0f;
        call.a = detail::Access::mem(A), call.lda = ta ? m : k;
        call.b = detail::Access::mem(B), call.ldb = tb ? k : n;
        call.c = detail::Access::mem(C), call.ldc = n;
        REQUIRE(own_splits(call));
        detail::gemm(impl, call, backend);
        Shape sa =
            ta ? Shape{std::int64_t(k), std::int64_t(m)} : Shape{std::int64_t(m), std::int64_t(k)};
        Shape sb =
            tb ? Shape{std::int64_t(n), std::int64_t(k)} : Shape{std::int64_t(k), std::int64_t(n)};
        Vec ref =
            reference::matmul(Vec(a.begin(), a.end()), sa, Vec(b.begin(), b.end()), sb, ta, tb);
        for (std::size_t i = 0; i < ref.size(); ++i) ref[i] = 0.5 * ref[i] - double(c0[i]);
        CHECK(relative_error(C.to_host(), ref) < 1e-4);
      }
}

TEST_CASE("the GEMM kernels and the slices' sum add a column bias and finish C", "[matmul]") {
  // The kernels with COL_BIAS on any device (gemm_vec4 emulated on CPUs): gemm_vec4, and
  // gemm_cpu with rows of whole vectors, a row's last block shifted back to end at N (n = 20, 72),
  // columns gathered one by one (n = 12 under blocks of 16; B transposed), column by column; and
  // clnn's own kernel split over K, whose sum adds it. C = finish(op(A) op(B) + bias[n] + beta C)
  // with no finish, relu or GELU (relu: lo 0, hi infinity) where the kernel finishes C (gemm_cpu,
  // the sum), C = op(A) op(B) + bias[n] + beta C on gemm_vec4.
  auto& impl = detail::Access::impl(context());
  const std::vector<MatmulPlan> plans{{true, 32, 32, 8, 8, 8, MatmulKernel::vec4},
                                      {false, 8, 32, 1, 8, 16, MatmulKernel::cpu},
                                      {false, 6, 24, 1, 6, 12, MatmulKernel::cpu, 0, true}};
  struct Case {
    std::size_t batch, m, n, k;
    float beta;
    bool tb, split;
    detail::Epilogue finish;
  };
  const detail::Epilogue relu{true, 0.0f, INFINITY}, gelu{true, 0.0f, 0.0f, false, true};
  const std::vector<Case> cases{{1, 37, 20, 44, 0.0f, false, false, {}},
                                {3, 5, 72, 12, 0.5f, false, false, gelu},
                                {2, 9, 12, 20, 0.0f, true, false, relu},
                                {1, 6, 12, 3001, 0.5f, false, true, gelu},
                                {1, 13, 8, 1030, -1.0f, true, true, relu}};
  for (const MatmulPlan& plan : plans)
    for (const Case& t : cases) {
      if (t.split && plan.kernel == MatmulKernel::cpu) continue;  // the split runs gemm()'s plan
      if (plan.kernel == MatmulKernel::vec4 && t.n % 4 != 0) continue;
      INFO(plan.describe() << ": batch " << t.batch << " m " << t.m << " n " << t.n << " k " << t.k
                           << " tb " << t.tb << " split " << t.split << " relu "
                           << t.finish.clamps() << " gelu " << t.finish.gelu);
      const bool finishing = t.split || plan.kernel == MatmulKernel::cpu;
      const detail::Epilogue finish = finishing ? t.finish : detail::Epilogue{};
      REQUIRE(impl.planner.fits(plan));
      auto a = random_vector(t.batch * t.m * t.k, 1), b = random_vector(t.k * t.n, 2);
      auto c0 = random_vector(t.batch * t.m * t.n, 3), bias = random_vector(t.n, 4);
      Tensor A = Tensor::from_host(context(), {std::int64_t(a.size())}, a);
      Tensor B = Tensor::from_host(context(), {std::int64_t(b.size())}, b);
      Tensor C = Tensor::from_host(context(), {std::int64_t(c0.size())}, c0);
      Tensor Bias = Tensor::from_host(context(), {std::int64_t(t.n)}, bias);
      detail::GemmCall call;
      call.m = t.m, call.n = t.n, call.k = t.k, call.batch = t.batch, call.beta = t.beta;
      call.trans_b = t.tb;
      call.a = detail::Access::mem(A), call.lda = t.k, call.stride_a = t.m * t.k;
      call.b = detail::Access::mem(B), call.ldb = t.tb ? t.k : t.n;
      call.c = detail::Access::mem(C), call.ldc = t.n, call.stride_c = t.m * t.n;
      call.col_bias = detail::Access::mem(Bias);
      call.finish = finish;
      if (t.split) {
        REQUIRE(own_splits(call));
        const auto saved = impl.gemm_backend;
        impl.gemm_backend = detail::GemmBackend::own;
        const detail::GemmFinished done = detail::gemm_finishing_columns(impl, call);
        CHECK(done.bias);
        CHECK(done.finish);
        impl.gemm_backend = saved;
      } else {
        detail::gemm_with_plan(impl, call, plan, nullptr);
      }
      const Shape sb = t.tb ? Shape{std::int64_t(t.n), std::int64_t(t.k)}
                            : Shape{std::int64_t(t.k), std::int64_t(t.n)};
      std::vector<double> want(c0.size());
      for (std::size_t bt = 0; bt < t.batch; ++bt) {
        Vec ab = reference::matmul(Vec(a.begin() + std::ptrdiff_t(bt * t.m * t.k),
                                       a.begin() + std::ptrdiff_t((bt + 1) * t.m * t.k)),
                                   {std::int64_t(t.m), std::int64_t(t.k)}, Vec(b.begin(), b.end()),
                                   sb, false, t.tb);
        for (std::size_t i = 0; i < ab.size(); ++i) {
          const std::size_t at = bt * t.m * t.n + i;
          const double z = ab[i] + bias[i % t.n] + double(t.beta) * c0[at];
          want[at] = finish.gelu       ? 0.5 * z * (1.0 + std::erf(z / std::sqrt(2.0)))
                     : finish.clamps() ? std::max(z, 0.0)
                                       : z;
        }
      }
      CHECK(relative_error(C.to_host(), want) < 1e-4);
    }
  // Alpha other than 1 would scale the bias: refused.
  detail::GemmCall scaled;
  scaled.m = scaled.n = scaled.k = 4, scaled.lda = scaled.ldb = scaled.ldc = 4;
  scaled.alpha = 2.0f;
  Tensor bias = Tensor::from_host(context(), {4}, std::vector<float>(4, 1.0f));
  scaled.col_bias = detail::Access::mem(bias);
  CHECK_THROWS_WITH(detail::gemm_with_plan(impl, scaled, plans[0], nullptr),
                    Catch::Contains("adds no column bias"));
  // gemm_vec4 finishes no C: a pass after it costs less (gemm.cpp's finishes).
  detail::GemmCall finished = scaled;
  finished.alpha = 1.0f, finished.col_bias = nullptr, finished.finish = {true, 0.0f, INFINITY};
  CHECK_THROWS_WITH(detail::gemm_with_plan(impl, finished, plans[0], nullptr),
                    Catch::Contains("applies no finish"));
}

TEST_CASE("gemm keeps a product unsplit when an operand lies in scratch", "[matmul]") {
  // The partial products of a split take scratch: an operand there (the Winograd route's) would
  // be overwritten by them. Here C, whose beta * C would be read after the partials took its place.
  auto& impl = detail::Access::impl(context());
  const auto plan = impl.planner.matmul_any_shape();
  const std::size_t m = std::min<std::size_t>(20, plan.tile_m);
  const std::size_t n = std::min<std::size_t>(30, plan.tile_n), k = 3001;
  auto a = random_vector(m * k, 1), b = random_vector(k * n, 2), c0 = random_vector(m * n, 3);
  Tensor A = Tensor::from_host(context(), {std::int64_t(m * k)}, a);
  Tensor B = Tensor::from_host(context(), {std::int64_t(k * n)}, b);
  // Scratch large enough for any split's partials, so that a split would not reallocate it.
  cl_mem scratch = impl.scratch(k * m * n);
  detail::GemmCall call;
  call.m = m, call.n = n, call.k = k, call.alpha = 0.5f, call.beta = -1.0f;
  call.a = detail::Access::mem(A), call.lda = k;
  call.b = detail::Access::mem(B), call.ldb = n;
  call.c = scratch, call.ldc = n;
  REQUIRE(own_splits(call));  // the shape alone would split
  Vec ref =
      reference::matmul(Vec(a.begin(), a.end()), {std::int64_t(m), std::int64_t(k)},
                        Vec(b.begin(), b.end()), {std::int64_t(k), std::int64_t(n)}, false, false);
  for (std::size_t i = 0; i < ref.size(); ++i) ref[i] = 0.5 * ref[i] - double(c0[i]);
  for (auto backend : {detail::GemmBackend::own, detail::GemmBackend::clblast}) {
    INFO("backend " << detail::to_string(backend));
    const std::size_t bytes = m * n * sizeof(float);
    detail::check(clEnqueueWriteBuffer(impl.queue.get(), scratch, CL_TRUE, 0, bytes, c0.data(), 0,
                                       nullptr, nullptr),
                  "clEnqueueWriteBuffer");
    detail::gemm(impl, call, backend);
    std::vector<float> c(m * n);
    detail::check(clEnqueueReadBuffer(impl.queue.get(), scratch, CL_TRUE, 0, bytes, c.data(), 0,
                                      nullptr, nullptr),
                  "clEnqueueReadBuffer");
    CHECK(relative_error(c, ref) < 1e-4);
  }
}

TEST_CASE("skinny products take the matrix-vector kernels unless a backend is forced",
          "[matmul]") {
  auto& impl = detail::Access::impl(context());
  const auto saved = impl.gemm_backend;
  impl.gemm_backend = detail::GemmBackend::automatic;
  // On CPUs more than 4 vectors take them only along a long K, in one pass of 8 unless each lies
  // along K (gemv_pays).
  const bool cpu = impl.info.type == DeviceType::cpu;
  auto backend = [&](std::size_t m, std::size_t n, std::size_t k = 256) {
    detail::GemmCall call;
    call.m = m, call.n = n, call.k = k, call.lda = k, call.ldb = n, call.ldc = n;
    return detail::choose_gemm_backend(impl, call);
  };
  using detail::GemmBackend;
  for (auto [m, n] : {std::pair<std::size_t, std::size_t>{1, 4096}, {16, 1000}, {3, 3}, {16, 17},
                      {1, 1}}) {
    INFO("m " << m << " n " << n);
    // 16 rows of A run over B's columns: two passes, and not along K, which CPUs leave.
    CHECK((backend(m, n) == GemmBackend::gemv) == (std::min(m, n) <= 8 || !cpu));
    CHECK((backend(m, n, 32) == GemmBackend::gemv) == (std::min(m, n) <= 4 || !cpu));
  }
  // 8 aligned columns of B side by side: GPUs run them on the vec4 tiles (gemv_pays), CPUs on
  // the matrix-vector kernels; 16 both on the tiles.
  CHECK((backend(1000, 8) == GemmBackend::gemv) == cpu);
  CHECK(backend(1000, 16) != GemmBackend::gemv);
  CHECK(backend(1000, 3) == GemmBackend::gemv);
  for (auto [m, n] : {std::pair<std::size_t, std::size_t>{17, 1000}, {1000, 17}, {17, 17}}) {
    INFO("m " << m << " n " << n);
    CHECK(backend(m, n) != GemmBackend::gemv);
  }
  // CLNN_GEMM's forcing holds for skinny products too.
  for (auto forced : {GemmBackend::own, GemmBackend::clblast}) {
    impl.gemm_backend = forced;
    CHECK(backend(1, 4096) == forced);
  }
  impl.gemm_backend = GemmBackend::automatic;
  // Products over tap rows stay on the vec4 kernel, the only one that reads them.
  detail::GemmCall taps;
  taps.m = 8, taps.n = 18, taps.k = 64, taps.trans_b = true, taps.b_rows.taps = 9;
  CHECK(detail::choose_gemm_backend(impl, taps) == GemmBackend::own);
  CHECK_THROWS_WITH(detail::gemv(impl, taps), Catch::Contains("tap rows"));
  // The matrix-vector kernels refuse a product with no skinny side.
  detail::GemmCall wide;
  wide.m = wide.n = 17, wide.k = 4, wide.lda = 4, wide.ldb = wide.ldc = 17;
  CHECK_THROWS_WITH(detail::gemv(impl, wide), Catch::Contains("no side of at most 16"));
  impl.gemm_backend = saved;
}

TEST_CASE("the GEMM takes more than 4 vectors: side by side on GPUs, short or many on CPUs",
          "[matmul]") {
  DeviceInfo gpu_info, cpu_info;
  gpu_info.type = DeviceType::gpu, cpu_info.type = DeviceType::cpu;
  const LaunchPlanner gpu(gpu_info), cpu(cpu_info);
  // A 4096 x 4096 matrix by n columns of B: side by side in B [4096, n], along K in B^T.
  auto call = [](std::size_t n, bool trans_b) {
    detail::GemmCall c;
    c.m = 4096, c.n = n, c.k = 4096, c.lda = 4096, c.trans_b = trans_b;
    c.ldb = trans_b ? 4096 : n, c.ldc = n;
    return c;
  };
  CHECK(detail::gemv_pays(gpu, call(4, false)));
  CHECK_FALSE(detail::gemv_pays(gpu, call(8, false)));
  CHECK_FALSE(detail::gemv_pays(gpu, call(16, false)));
  CHECK(detail::gemv_pays(gpu, call(16, true)));
  CHECK(detail::gemv_pays(cpu, call(8, false)));
  CHECK_FALSE(detail::gemv_pays(cpu, call(16, false)));  // two passes over the matrix
  CHECK(detail::gemv_pays(cpu, call(16, true)));         // two passes, each vector along K
  CHECK_FALSE(detail::gemv_pays(cpu, call(9, false)));
  detail::GemmCall short_k = call(8, false);  // a 1x1 convolution's 32 channels into 8 filters
  short_k.k = short_k.lda = 32;
  CHECK_FALSE(detail::gemv_pays(cpu, short_k));
  CHECK(detail::gemv_pays(gpu, call(10, false)));  // off float4s: the tiles would run slower kernels
  CHECK_FALSE(detail::gemv_pays(cpu, call(17, true)));  // not skinny
}

namespace {

// check_gemm through the matrix-vector kernels with C's vectors as rows (M = skinny) and as
// columns (N = skinny), in every transpose, cycling through C's layouts and operand offsets
// (aligned and not), through alpha and beta, and through the device's own plans and those a
// GPU and a CPU would run.
void check_skinny(std::size_t skinny, std::size_t long_side, std::size_t k, std::size_t batch = 1,
                  bool shared_b = false) {
  static const std::array<std::pair<std::size_t, std::size_t>, 4> kPadOffset{
      {{3, 0}, {0, 4}, {0, 1}, {4, 8}}};  // (pad, offset); pad 0 lets K split
  static const std::array<const GemvStyle*, 5> kStyles{nullptr, &kGpuStyle, &kCpuStyle,
                                                       &kGpuSmallGroups, &kCpuRowBlocks};
  static std::size_t turn = 0;
  for (bool m_skinny : {true, false})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        const auto [pad, offset] = kPadOffset[turn % kPadOffset.size()];
        const GemvStyle* style = kStyles[turn / 3 % kStyles.size()];
        const bool adds = turn++ % 2 == 1;
        GemmRoute route{detail::GemmBackend::gemv, nullptr, pad, offset, style};
        const std::size_t m = m_skinny ? skinny : long_side, n = m_skinny ? long_side : skinny;
        check_gemm(route, batch, m, n, k, ta, tb, adds ? -0.5f : 1.5f, adds ? 1.0f : 0.0f,
                   shared_b);
      }
}

}  // namespace

TEST_CASE("skinny products match the reference at awkward sizes", "[matmul]") {
  for (std::size_t skinny : {1, 3, 16})
    for (std::size_t long_side : {1, 3, 127, 1000})
      for (std::size_t k : {1, 3, 127}) check_skinny(skinny, long_side, k);
}

TEST_CASE("skinny products with a long K, split over it or not", "[matmul]") {
  // Long sides paired with vector counts so that the reference stays quick.
  for (auto [skinny, long_side] : {std::pair<std::size_t, std::size_t>{1, 1000},
                                   {3, 127},
                                   {16, 3},
                                   {16, 1},
                                   {1, 3}})
    check_skinny(skinny, long_side, 50001);
}

TEST_CASE("batched skinny products, with a shared operand", "[matmul]") {
  // B shared: the big matrix where the vectors are rows of A (M = 1), the vectors where they
  // are columns of B (N = 1); then 16 vectors of a batch of two.
  for (std::size_t k : {3, 127, 50001}) {
    check_skinny(1, 127, k, 3, true);
    check_skinny(16, 3, k, 2, false);
  }
}

TEST_CASE("a skinny product over few outputs splits K into slices", "[matmul]") {
  auto& impl = detail::Access::impl(context());
  Tensor unused = Tensor::zeros(context(), {1});  // planning reads no operand
  for (bool ta : {false, true}) {
    // Three outputs, each a dot product of 50001: too few work-groups alone.
    detail::GemmCall call;
    call.trans_a = ta, call.m = 3, call.n = 1, call.k = 50001, call.lda = ta ? 3 : 50001;
    call.ldb = 1, call.ldc = 1;
    call.a = call.b = call.c = detail::Access::mem(unused);
    INFO(detail::gemv_plan(impl, call).describe());
    CHECK(detail::gemv_plan(impl, call).slices > 1);
    CHECK(detail::gemv_plan(impl, call, true).slices == 1);  // an event names one launch
    call.ldc = 2;  // C not contiguous: partial sums cannot be laid out as it is
    CHECK(detail::gemv_plan(impl, call).slices == 1);
    call.ldc = 1, call.c = impl.scratch(1);  // C in scratch, which the partial sums would take
    CHECK(detail::gemv_plan(impl, call).slices == 1);
  }
}

TEST_CASE("GPU and CPU plans of the matrix-vector kernels match the reference", "[matmul]") {
  // Whatever this device plans, each kernel runs as a GPU (teams, every vector at once) and a CPU
  // (a work-item per row, per 3 rows or per 32 outputs, 8 or 2 vectors at a time) would run it:
  // split and not, float4 loads and not, with K's tail and the vectors' passes uneven.
  struct Size {
    std::size_t skinny, long_side, k;
  };
  for (const GemvStyle* style : {&kGpuStyle, &kGpuSmallGroups, &kCpuStyle, &kCpuRowBlocks})
    for (const Size& size : {Size{16, 130, 1031}, Size{11, 1000, 5000}, Size{1, 37, 50001}})
      for (bool m_skinny : {true, false})
        for (bool ta : {false, true})
          for (bool tb : {false, true})
            for (auto [pad, offset] : {std::pair<std::size_t, std::size_t>{0, 0}, {3, 1}}) {
              INFO("style " << style->local_size << "/" << style->team << "/" << style->pass << "/"
                            << style->width << "/" << style->rows);
              GemmRoute route{detail::GemmBackend::gemv, nullptr, pad, offset, style};
              const std::size_t m = m_skinny ? size.skinny : size.long_side;
              const std::size_t n = m_skinny ? size.long_side : size.skinny;
              check_gemm(route, 1, m, n, size.k, ta, tb, 0.75f, pad == 0 ? 0.0f : 1.0f);
            }
}
