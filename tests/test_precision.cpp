// Precisions: what a context runs where, and tensor-core products in TF32, fp16 and bf16 (GEMM
// and the implicit-GEMM convolution) against the double-precision reference of their inputs
// rounded to the format. The inline-PTX kernels build only on NVIDIA devices of compute
// capability 8.0 and up (the GPU machine); elsewhere such a context runs the same calls in fp32,
// bit for bit, and these cases check that instead.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <map>

#include "clnn/clnn.hpp"
#include "context_impl.hpp"
#include "conv_checks.hpp"
#include "ops/gemm.hpp"
#include "reference/ops.hpp"
#include "support.hpp"

using namespace clnn;
using clnn::test::random_vector;
using reference::Vec;

namespace {

const Precision kTensorCorePrecisions[] = {Precision::tf32, Precision::fp16, Precision::bf16};

// x rounded to TF32 as the kernel rounds it: to nearest, ties away from zero (cvt.rna.tf32.f32).
float to_tf32(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u;
  std::memcpy(&x, &u, sizeof u);
  return x;
}

// x rounded to bf16 (fp32's top 16 bits), to nearest even (cvt.rn.bf16x2.f32).
float to_bf16(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  std::memcpy(&x, &u, sizeof u);
  return x;
}

// x rounded to fp16, to nearest even (cvt.rn.f16x2.f32): 11 significant bits down to 2^-14,
// a fixed quantum of 2^-24 below (subnormals), infinite from halfway past the largest, 65504.
float to_fp16(float x) {
  if (!std::isfinite(x)) return x;
  if (std::fabs(x) >= 65520.0f) return std::copysign(INFINITY, x);
  int exponent;
  std::frexp(x, &exponent);  // |x| in [2^(exponent - 1), 2^exponent)
  const int quantum = std::max(exponent - 11, -24);
  return std::ldexp(std::nearbyint(std::ldexp(x, -quantum)), quantum);
}

std::vector<float> rounded(Precision p, const std::vector<float>& v) {
  float (*round)(float) = p == Precision::tf32 ? to_tf32 : p == Precision::fp16 ? to_fp16 : to_bf16;
  std::vector<float> r(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) r[i] = round(v[i]);
  return r;
}

Vec as_doubles(const std::vector<float>& v, bool absolute = false) {
  Vec d(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) d[i] = absolute ? std::fabs(v[i]) : v[i];
  return d;
}

// A context on the device under test that asks for p.
Context context_in(Precision p) { return Context::create(clnn::test::context().device(), p); }

bool tensor_cores(Precision p) { return runs_natively(clnn::test::context().device(), p); }

// The bound on |got - want| for sums of `terms` products of values rounded to TF32, fp16 or bf16
// (each product exact in fp32: at most 11 + 11 significant bits) summed in
// fp32, each addition off by at most one unit in the last place of the running sum, which is at
// most `magnitude` (the sum of the products' magnitudes): 2^-23 a term, two to spare.
double fp32_sum_bound(std::size_t terms, double magnitude) {
  return double(terms + 2) * std::ldexp(1.0, -23) * magnitude + 1e-30;
}

struct GemmShape {
  std::size_t batch, m, n, k;
  bool ta, tb;
  float alpha, beta;
};

// C = alpha op(A) op(B) + beta C through gemm() on ctx (or with `plan`); returns C and the
// choice in words.
std::pair<std::vector<float>, std::string> run_gemm(const Context& ctx, const GemmShape& s,
                                                    const std::vector<float>& a,
                                                    const std::vector<float>& b,
                                                    const std::vector<float>& c,
                                                    const MatmulPlan* plan = nullptr) {
  auto dev = [&](const std::vector<float>& v) {
    return Tensor::from_host(ctx, {std::int64_t(v.size())}, v);
  };
  Tensor ta = dev(a), tb = dev(b), tc = dev(c);
  detail::GemmCall call;
  call.trans_a = s.ta, call.trans_b = s.tb;
  call.m = s.m, call.n = s.n, call.k = s.k, call.batch = s.batch;
  call.alpha = s.alpha, call.beta = s.beta;
  call.a = detail::Access::mem(ta), call.lda = s.ta ? s.m : s.k, call.stride_a = s.m * s.k;
  call.b = detail::Access::mem(tb), call.ldb = s.tb ? s.k : s.n, call.stride_b = s.k * s.n;
  call.c = detail::Access::mem(tc), call.ldc = s.n, call.stride_c = s.m * s.n;
  auto& impl = detail::Access::impl(ctx);
  if (plan) {
    detail::gemm_with_plan(impl, call, *plan, nullptr);
    return {tc.to_host(), plan->describe()};
  }
  const std::string chosen = detail::describe_gemm(impl, call);
  detail::gemm(impl, call);
  return {tc.to_host(), chosen};
}

const std::vector<GemmShape> kGemmShapes{
    {1, 64, 32, 16, false, false, 1.0f, 0.0f},     // one warp's piece
    {2, 132, 68, 36, false, false, 1.0f, 0.5f},    // edges, a batch, beta, K past the steps
    {1, 128, 256, 520, false, true, 0.5f, 0.0f},   // long K, B transposed
    {1, 68, 96, 44, true, false, -1.0f, 1.0f},     // A transposed
    {3, 260, 132, 100, true, true, 1.0f, 0.25f},   // both
    {1, 512, 512, 4096, false, false, 1.0f, 0.0f}  // split over K where the planner says
};

// Values of more bits than the formats keep, so that rounding shows.
struct GemmOperands {
  std::vector<float> a, b, c;
  explicit GemmOperands(const GemmShape& s)
      : a(random_vector(s.batch * s.m * s.k, 11, -2.0f, 2.0f)),
        b(random_vector(s.batch * s.k * s.n, 12, -2.0f, 2.0f)),
        c(random_vector(s.batch * s.m * s.n, 13)) {}
};

// The double reference of a product run in precision p: of the rounded inputs, of their
// magnitudes (for the bound), and of the unrounded inputs (fp32's result).
struct RoundedReference {
  Vec want, magnitude, unrounded;
  RoundedReference(Precision p, const GemmShape& s, const GemmOperands& x) {
    const Shape sa = s.ta ? Shape{std::int64_t(s.batch), std::int64_t(s.k), std::int64_t(s.m)}
                          : Shape{std::int64_t(s.batch), std::int64_t(s.m), std::int64_t(s.k)};
    const Shape sb = s.tb ? Shape{std::int64_t(s.batch), std::int64_t(s.n), std::int64_t(s.k)}
                          : Shape{std::int64_t(s.batch), std::int64_t(s.k), std::int64_t(s.n)};
    const auto ra = rounded(p, x.a), rb = rounded(p, x.b);
    want = reference::matmul(as_doubles(ra), sa, as_doubles(rb), sb, s.ta, s.tb);
    magnitude = reference::matmul(as_doubles(ra, true), sa, as_doubles(rb, true), sb, s.ta, s.tb);
    unrounded = reference::matmul(as_doubles(x.a), sa, as_doubles(x.b), sb, s.ta, s.tb);
  }
};

// Checks a product run in a tensor-core precision against the reference of its rounded inputs,
// within fp32's summation bound, and that it differs from fp32's (the precision ran). Against
// the unrounded inputs the products differ by up to 2^-10 (TF32, fp16) or 2^-7 (bf16) of their
// magnitude: the reference of the rounded ones shows the format's rounding.
void check_rounded_product(const GemmShape& s, const GemmOperands& x, const RoundedReference& r,
                           const std::vector<float>& got) {
  std::size_t outside = 0, differ_from_fp32 = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double w = s.alpha * r.want[i] + s.beta * double(x.c[i]);
    const double bound =
        fp32_sum_bound(s.k, std::fabs(s.alpha) * r.magnitude[i] + std::fabs(s.beta * x.c[i]));
    outside += std::fabs(got[i] - w) > bound;
    differ_from_fp32 += got[i] != float(s.alpha * r.unrounded[i] + s.beta * double(x.c[i]));
  }
  CHECK(outside == 0);
  CHECK(differ_from_fp32 > 0);
}

}  // namespace

TEST_CASE("a context runs the precision asked for where the device has it, else fp32",
          "[precision]") {
  const DeviceInfo& device = clnn::test::context().device();
  CHECK(clnn::test::context().precision() == Precision::fp32);  // the default
  for (Precision p : kTensorCorePrecisions) {
    INFO(to_string(p));
    CHECK(context_in(p).precision() == (tensor_cores(p) ? p : Precision::fp32));
    // All three come together, with compute capability 8.0.
    CHECK(tensor_cores(p) == (device.nv_compute_capability >= 80));
  }
  {
    clnn::test::ScopedEnv env("CLNN_PRECISION", "bf16");
    CHECK(Context::create(device).precision() == context_in(Precision::bf16).precision());
    // An explicit precision wins over the variable.
    CHECK(Context::create(device, Precision::fp32).precision() == Precision::fp32);
  }
}

TEST_CASE("native precisions follow the device", "[precision]") {
  DeviceInfo d;
  d.type = DeviceType::gpu;
  CHECK(native_precisions(d) == std::vector<Precision>{Precision::fp32});
  d.nv_compute_capability = 75;  // Turing: no TF32 mma
  CHECK(native_precisions(d) == std::vector<Precision>{Precision::fp32});
  for (std::uint32_t cc : {80u, 90u}) {
    d.nv_compute_capability = cc;
    CHECK(native_precisions(d) == std::vector<Precision>{Precision::fp32, Precision::tf32,
                                                         Precision::fp16, Precision::bf16});
  }
  CHECK(to_string(Precision::bf16) == "bf16");
}

TEST_CASE("tensor-core GEMM matches the reference of its rounded inputs", "[precision][matmul]") {
  for (Precision p : kTensorCorePrecisions) {
    Context ctx = context_in(p);
    for (const GemmShape& s : kGemmShapes) {
      INFO(to_string(p) << " batch " << s.batch << " m " << s.m << " n " << s.n << " k " << s.k
                        << " ta " << s.ta << " tb " << s.tb);
      const GemmOperands x(s);
      const auto [got, chosen] = run_gemm(ctx, s, x.a, x.b, x.c);
      INFO("chosen: " << chosen);
      if (!tensor_cores(p)) {  // fp32, as an fp32 context runs it
        CHECK(chosen.find(to_string(p)) == std::string::npos);
        const auto [fp32, fp32_chosen] = run_gemm(clnn::test::context(), s, x.a, x.b, x.c);
        CHECK(chosen == fp32_chosen);
        CHECK(got == fp32);
        continue;
      }
      CHECK_THAT(chosen, Catch::StartsWith(to_string(p)));
      check_rounded_product(s, x, RoundedReference(p, s, x), got);
    }
    // An unaligned product, which the tensor-core kernels do not take, runs fp32.
    const GemmShape odd{1, 33, 17, 129, false, false, 1.0f, 0.0f};
    const auto a = random_vector(33 * 129, 1), b = random_vector(129 * 17, 2);
    const std::vector<float> c(33 * 17, 0.0f);
    const auto [got, chosen] = run_gemm(ctx, odd, a, b, c);
    CHECK(chosen.find(to_string(p)) == std::string::npos);
    const Vec want =
        reference::matmul(as_doubles(a), {1, 33, 129}, as_doubles(b), {1, 129, 17}, false, false);
    CHECK(clnn::test::relative_error(got, want) < 1e-5);
  }
}

TEST_CASE("every form of the TF32 GEMM kernels matches the reference of its rounded inputs",
          "[precision][matmul]") {
  if (!tensor_cores(Precision::tf32)) return;  // the inline PTX builds on NVIDIA devices only
  Context ctx = context_in(Precision::tf32);
  const LaunchPlanner& planner = detail::Access::impl(ctx).planner;
  std::vector<MatmulPlan> forms = planner.pipelined_forms();
  CHECK(forms.size() >= 6);
  for (std::size_t tile_k : {8, 16, 32})  // and the register-staged forms
    for (std::size_t work_n : {8, 16}) {
      const MatmulPlan form{true, 128, 128, tile_k, 8, work_n, MatmulKernel::tf32};
      if (planner.fits(form)) forms.push_back(form);
    }
  for (const GemmShape& s : kGemmShapes) {
    const GemmOperands x(s);
    const RoundedReference reference(Precision::tf32, s, x);
    for (const MatmulPlan& form : forms) {
      INFO(form.describe() << ": batch " << s.batch << " m " << s.m << " n " << s.n << " k " << s.k
                           << " ta " << s.ta << " tb " << s.tb);
      check_rounded_product(s, x, reference, run_gemm(ctx, s, x.a, x.b, x.c, &form).first);
    }
  }
}

TEST_CASE("TF32 products of many blocks take the pipelined kernel unless told otherwise",
          "[precision][matmul]") {
  Context ctx = context_in(Precision::tf32);
  auto& impl = detail::Access::impl(ctx);
  const auto saved_tf32 = impl.tf32_gemm;
  const auto saved_backend = impl.gemm_backend;
  impl.gemm_backend = detail::GemmBackend::automatic;
  impl.tf32_gemm = detail::Tf32Gemm::automatic;
  auto call = [](std::size_t m, std::size_t n, std::size_t k, std::size_t batch = 1) {
    detail::GemmCall g;
    g.m = m, g.n = n, g.k = k, g.batch = batch, g.lda = k, g.ldb = g.ldc = n;
    g.stride_a = m * k, g.stride_b = k * n, g.stride_c = m * n;
    return g;
  };
  auto pipelined = [&](const detail::GemmCall& g) {
    return detail::choose_gemm(impl, g).plan.stages > 0;
  };
  const auto plan = impl.planner.pipelined(Precision::tf32);
  if (!plan) {  // no TF32 tensor cores: nothing takes the kernel, even when asked to
    CHECK_FALSE(pipelined(call(4096, 4096, 4096)));
    impl.tf32_gemm = detail::Tf32Gemm::pipelined;
    CHECK_FALSE(pipelined(call(4096, 4096, 4096)));
  } else {
    // From 4 blocks per unit, with K of 1024 or more.
    const std::size_t wanted = 4 * std::max<std::size_t>(1, impl.info.compute_units);
    const std::size_t rows = plan->tile_m, columns = plan->tile_n * wanted;  // one block row
    CHECK(pipelined(call(rows, columns, 1024)));
    CHECK_FALSE(pipelined(call(rows, columns - plan->tile_n, 1024)));  // one block short
    CHECK_FALSE(pipelined(call(rows, columns, 1020)));                 // K short
    CHECK(pipelined(call(rows, plan->tile_n, 1024, wanted)));          // blocks by batch
    CHECK_FALSE(pipelined(call(rows, plan->tile_n, 1024, wanted - 1)));
    impl.tf32_gemm = detail::Tf32Gemm::pipelined;
    CHECK(pipelined(call(rows, plan->tile_n, 64)));
    impl.tf32_gemm = detail::Tf32Gemm::staged;
    CHECK_FALSE(pipelined(call(rows, columns, 1024)));
  }
  impl.tf32_gemm = saved_tf32;
  impl.gemm_backend = saved_backend;
}

TEST_CASE("tensor-core implicit-GEMM convolution matches the reference of its rounded inputs",
          "[precision][conv]") {
  struct Case {
    Shape x, w;
    ConvOptions o;
  };
  ConvOptions padded;
  padded.pads_begin = padded.pads_end = {1, 1};
  ConvOptions strided;
  strided.strides = {2, 2};
  const std::vector<Case> cases{
      {{2, 16, 9, 11}, {64, 16, 3, 3}, padded},
      {{3, 5, 8, 8}, {70, 5, 3, 3}, strided},  // C * taps not a multiple of 4
      {{1, 32, 6, 7}, {128, 32, 1, 1}, {}},
      {{2, 64, 7, 9}, {64, 64, 3, 3}, padded}};  // whole taps a step
  for (Precision p : kTensorCorePrecisions) {
    Context ctx = context_in(p);
    detail::Access::impl(ctx).conv_route = detail::ConvRoute::implicit;
    for (const Case& c : cases) {
      INFO(to_string(p) << " x " << to_string(c.x) << " w " << to_string(c.w));
      Graph g;
      Value x = g.input("x", c.x);
      Value w = g.input("w", c.w);
      Value bias = g.input("b", {c.w[0]});
      Value y = conv(x, w, bias, c.o);
      Executor ex(ctx, g, {y}, Mode::inference);
      const std::string route = ex.schedule()[0].route;
      INFO("route: " << route);
      const auto hx = random_vector(std::size_t(element_count(c.x)), 21, -2.0f, 2.0f);
      const auto hw = random_vector(std::size_t(element_count(c.w)), 22, -2.0f, 2.0f);
      const auto hb = random_vector(std::size_t(c.w[0]), 23);
      ex.set_input("x", hx);
      ex.set_input("w", hw);
      ex.set_input("b", hb);
      ex.forward();
      const auto got = ex.value(y).to_host();
      if (!tensor_cores(p)) {
        CHECK(route.find(to_string(p)) == std::string::npos);
        continue;  // fp32's implicit GEMM, which test_conv checks
      }
      CHECK_THAT(route, Catch::StartsWith("implicit GEMM " + to_string(p)));
      const reference::Geometry geo = clnn::test::geometry(c.x, c.w, c.o);
      const Vec db = as_doubles(hb);
      const auto rx = rounded(p, hx), rw = rounded(p, hw);
      const Vec want = reference::conv(geo, as_doubles(rx), as_doubles(rw), &db);
      const Vec magnitude =
          reference::conv(geo, as_doubles(rx, true), as_doubles(rw, true), nullptr);
      const std::size_t terms = std::size_t(c.w[1] * c.w[2] * c.w[3]);
      REQUIRE(got.size() == want.size());
      const std::size_t positions = std::size_t(geo.out[0] * geo.out[1] * geo.out[2]);
      std::size_t outside = 0;
      for (std::size_t i = 0; i < got.size(); ++i) {
        const double bias_term = std::fabs(db[i / positions % db.size()]);  // the bias: one more
        outside +=
            std::fabs(got[i] - want[i]) > fp32_sum_bound(terms + 1, magnitude[i] + bias_term);
      }
      CHECK(outside == 0);
    }
  }
}
