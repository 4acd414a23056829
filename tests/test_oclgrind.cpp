// The [oclgrind] cases: every kernel of cl_kernels/, forward and backward, at sizes Oclgrind can
// interpret in seconds (the ctest label oclgrind runs them under it with API and data-race
// checks), and a last case that fails naming each kernel none of them launched.
#include <catch2/catch.hpp>

#include <cmath>
#include <regex>
#include <set>
#include <sstream>

#include "attention_checks.hpp"
#include "cl/kernel_source.hpp"
#include "cl/profiler.hpp"
#include "context_impl.hpp"
#include "gemv_styles.hpp"
#include "op_checks.hpp"
#include "ops/gemm.hpp"
#include "plan_override.hpp"
#include "reference/conv.hpp"
#include "reference/elementwise.hpp"
#include "reference/norm.hpp"
#include "reference/window.hpp"

using namespace clnn;
using clnn::detail::ConvRoute;
using clnn::test::batch_norm_check;
using clnn::test::context;
using clnn::test::identity_check;
using clnn::test::max_pool_indices_check;
using clnn::test::OpCheck;
using clnn::test::pool_check;
using clnn::test::random_vector;
using clnn::test::relative_error;
using clnn::test::run_op_check;
using clnn::test::top_k_positions_check;
using reference::Vec;

namespace {

// Each case counts its launches from its start, so the last case sees what the cases before it
// reached when they run in one process (the oclgrind ctest); other processes never pay for it.
void count_launches() {
  detail::record_launches(true);
}

detail::ContextImpl& impl() {
  return detail::Access::impl(context());
}

OpCheck binary_check(reference::Binary op, Shape sa, Shape sb) {
  OpCheck c;
  c.shapes = {sa, sb};
  c.build = [op](const std::vector<Value>& v) {
    return op == reference::Binary::add ? add(v[0], v[1]) : mul(v[0], v[1]);
  };
  c.forward = [=](const std::vector<Vec>& x) {
    return reference::broadcast_binary(op, x[0], sa, x[1], sb);
  };
  c.backward = [=](const std::vector<Vec>& x, const Vec& g) {
    auto [ga, gb] = reference::broadcast_binary_backward(op, x[0], sa, x[1], sb, g);
    return std::vector<Vec>{ga, gb};
  };
  return c;
}

ConvOptions padded(std::vector<std::int64_t> pads, std::vector<std::int64_t> strides = {}) {
  ConvOptions o;
  o.pads_begin = o.pads_end = std::move(pads);
  o.strides = std::move(strides);
  return o;
}

OpCheck conv_check(Shape x, Shape w, ConvOptions o) {
  reference::Geometry g(x, std::vector<std::int64_t>(w.begin() + 2, w.end()), o.strides,
                        o.pads_begin, o.pads_end, o.dilations);
  g.k = long(w[0]);
  g.groups = long(o.groups);
  OpCheck c;
  c.shapes = {x, w, {w[0]}};
  c.build = [o](const std::vector<Value>& v) { return conv(v[0], v[1], v[2], o); };
  c.forward = [g](const std::vector<Vec>& in) { return reference::conv(g, in[0], in[1], &in[2]); };
  c.backward = [g](const std::vector<Vec>& in, const Vec& gy) {
    Vec gx, gw, gb;
    reference::conv_backward(g, in[0], in[1], gy, gx, gw, gb);
    return std::vector<Vec>{gx, gw, gb};
  };
  c.forward_tolerance = 1e-4;
  return c;
}

// C = op(A) op(B) through one kernel configuration, checked against the reference.
// plan null: through the matrix-vector kernels in a style (the product must be skinny).
// col_bias: a bias of n columns added by the kernel (COL_BIAS), reading no column past n.
void check_gemm(const MatmulPlan* plan, std::size_t m, std::size_t n, std::size_t k, bool ta,
                bool tb, const clnn::test::GemvStyle* style = nullptr, bool col_bias = false) {
  INFO((plan ? plan->describe() : "gemv") << " m " << m << " n " << n << " k " << k << " ta " << ta
                                          << " tb " << tb << " bias " << col_bias);
  const auto a = random_vector(m * k, 1), b = random_vector(k * n, 2), bias = random_vector(n, 3);
  Tensor dbias = Tensor::from_host(context(), {std::int64_t(n)}, bias);
  Tensor da = Tensor::from_host(context(), {std::int64_t(a.size())}, a);
  Tensor db = Tensor::from_host(context(), {std::int64_t(b.size())}, b);
  Tensor dc = Tensor::zeros(context(), {std::int64_t(m * n)});
  detail::GemmCall call;
  call.trans_a = ta, call.trans_b = tb;
  call.m = m, call.n = n, call.k = k, call.batch = 1, call.alpha = 1.0f, call.beta = 0.0f;
  call.a = detail::Access::mem(da), call.lda = ta ? m : k, call.stride_a = m * k;
  call.b = detail::Access::mem(db), call.ldb = tb ? k : n, call.stride_b = k * n;
  call.c = detail::Access::mem(dc), call.ldc = n, call.stride_c = m * n;
  if (col_bias) call.col_bias = detail::Access::mem(dbias);
  if (plan)
    detail::gemm_with_plan(impl(), call, *plan, nullptr);
  else
    detail::gemv_with_plan(impl(), call, clnn::test::styled(impl(), call, *style));
  const Shape sa{1, std::int64_t(ta ? k : m), std::int64_t(ta ? m : k)};
  const Shape sb{1, std::int64_t(tb ? n : k), std::int64_t(tb ? k : n)};
  Vec want = reference::matmul(Vec(a.begin(), a.end()), sa, Vec(b.begin(), b.end()), sb, ta, tb);
  if (col_bias)
    for (std::size_t i = 0; i < want.size(); ++i) want[i] += bias[i % n];
  CHECK(relative_error(dc.to_host(), want) < 1e-5);
}

// Runs convolutions on one route until it ends.
class RouteScope {
 public:
  explicit RouteScope(ConvRoute route) : saved_(impl().conv_route) { impl().conv_route = route; }
  ~RouteScope() { impl().conv_route = saved_; }

 private:
  ConvRoute saved_;
};

// The __kernel functions of an OpenCL C source: the name after `void` past each __kernel (and
// its attributes), or, where that name is a macro, every value the source #defines it to.
std::set<std::string> kernels_of(const std::string& text) {
  std::set<std::string> names;
  static const std::regex kernel(R"(__kernel\b[^;{]*?\bvoid\s+(\w+)\s*\()");
  for (std::sregex_iterator it(text.begin(), text.end(), kernel), end; it != end; ++it) {
    const std::string name = (*it)[1];
    const std::regex define("#define\\s+" + name + "\\s+(\\w+)");
    bool macro = false;
    for (std::sregex_iterator d(text.begin(), text.end(), define); d != end; ++d, macro = true)
      names.insert((*d)[1]);
    if (!macro) names.insert(name);
  }
  return names;
}

}  // namespace

TEST_CASE("oclgrind: elementwise, broadcasting, activations and shapes", "[oclgrind]") {
  count_launches();
  using reference::Binary;
  run_op_check(binary_check(Binary::mul, {5, 7}, {5, 7}));
  run_op_check(binary_check(Binary::add, {3, 1, 5}, {1, 4, 1}));
  run_op_check(binary_check(Binary::mul, {2, 3, 4}, {3, 1}));  // four at a time
  OpCheck relu_check;
  relu_check.shapes = {{6, 11}};
  relu_check.build = [](const std::vector<Value>& v) { return relu(scale(v[0], 2.0f)); };
  relu_check.forward = [](const std::vector<Vec>& x) {
    Vec y(x[0].size());
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = std::max(2.0 * x[0][i], 0.0);
    return y;
  };
  relu_check.backward = [](const std::vector<Vec>& x, const Vec& g) {
    Vec gx(x[0].size());
    for (std::size_t i = 0; i < gx.size(); ++i) gx[i] = x[0][i] > 0 ? 2.0 * g[i] : 0.0;
    return std::vector<Vec>{gx};
  };
  run_op_check(relu_check);

  // A transpose both sides of which span half a tile: by blocks, through local-memory tiles
  // (GPUs) or a work-item's (CPUs); then one too narrow for blocks, element by element.
  {
    test::RowLoopsOverride style;
    for (bool rows : {false, true}) {
      style.use(rows);
      run_op_check(test::permute_check({2, 17, 20}, {0, 2, 1}));
    }
  }
  run_op_check(test::permute_check({2, 3, 5}, {2, 0, 1}));
  // The innermost axis kept: four floats at a time.
  run_op_check(test::permute_check({2, 3, 4}, {1, 0, 2}));

  // Concatenated along rows, each input is one contiguous block of the output.
  OpCheck concat_rows;
  concat_rows.shapes = {{2, 3}, {4, 3}};
  concat_rows.build = [](const std::vector<Value>& v) { return concat(v, 0); };
  concat_rows.forward = [](const std::vector<Vec>& x) {
    Vec y = x[0];
    y.insert(y.end(), x[1].begin(), x[1].end());
    return y;
  };
  concat_rows.backward = [](const std::vector<Vec>&, const Vec& g) {
    return std::vector<Vec>{Vec(g.begin(), g.begin() + 6), Vec(g.begin() + 6, g.end())};
  };
  run_op_check(concat_rows);
  run_op_check(identity_check({3, 5}, [](const Value& v) { return reshape(v, {5, 3}); }));

  // The window kernels: a reversed, strided slice (its gradient is a window too), padding, and
  // whole rows of 8 sliced four floats at a time.
  auto window_check = [](const Shape& in, reference::CoordinateMap map,
                         std::function<Value(const Value&)> build) {
    const Shape out = build(Graph().input("probe", in)).shape();
    OpCheck window;
    window.shapes = {in};
    window.build = [build](const std::vector<Value>& v) { return build(v[0]); };
    window.forward = [=](const std::vector<Vec>& v) {
      return reference::mapped(v[0], in, out, map);
    };
    window.backward = [=](const std::vector<Vec>&, const Vec& g) {
      return std::vector<Vec>{reference::mapped_backward(g, in, out, map)};
    };
    run_op_check(window);
  };
  window_check({3, 7}, reference::slice_map({{1, 1, 2}, {6, -2, 4}}), [](const Value& v) {
    return slice(v, {0, 1}, {1, -1}, {3, -100}, {1, -2});
  });
  window_check({3, 7}, reference::pad_map({3, 7}, {1, 0}, reference::PadKind::constant),
               [](const Value& v) {
                 return pad(v, {1, 0}, {0, -2});
               });
  window_check({3, 8}, reference::slice_map({{1, 1, 2}, {0, 1, 8}}),
               [](const Value& v) { return slice(v, {0}, {1}, {3}); });

  // Attention with a mask and causality: forward (the tiled kernel and CPUs' row items), delta
  // and the gradients' kernel; then keys over two blocks (of 16 at most here), which two
  // work-groups share: the sum of gq's copies; then CPUs' row items in 8-float vectors, with a
  // mask repeating along the batch.
  {
    test::RowLoopsOverride style;
    for (bool rows : {false, true}) {
      style.use(rows);
      run_op_check(test::attention_check({{1, 3, 4}, {1, 5, 4}, {1, 5, 4}, Shape{3, 5}, true}));
    }
    style.use(false);
    run_op_check(test::attention_check({{1, 3, 4}, {1, 20, 4}, {1, 20, 4}}));
    style.use(true);
    run_op_check(test::attention_check({{4, 5, 8}, {4, 9, 8}, {4, 9, 8}, Shape{2, 5, 9}}));
  }

  // layer_norm over rows of 5 (both kernels), with gamma's and beta's reductions.
  const reference::RowNorm rows{3, 5, 1e-5};
  OpCheck norm;
  norm.shapes = {{3, 5}, {5}, {5}};
  norm.build = [](const std::vector<Value>& v) { return layer_norm(v[0], v[1], v[2]); };
  norm.forward = [=](const std::vector<Vec>& in) {
    return reference::row_norm(rows, in[0], in[1], in[2]);
  };
  norm.backward = [=](const std::vector<Vec>& in, const Vec& g) {
    return reference::row_norm_backward(rows, in[0], in[1], g);
  };
  run_op_check(norm);

  // resize, linear, [1, 2, 3] -> [1, 2, 5]: both kernels.
  ResizeOptions linear;
  linear.mode = ResizeMode::linear;
  OpCheck resized;
  resized.shapes = {{1, 2, 3}};
  resized.build = [=](const std::vector<Value>& v) { return resize(v[0], {1, 2, 5}, linear); };
  const auto taps = reference::resize_taps({1, 2, 3}, {1, 2, 5}, linear);
  resized.forward = [=](const std::vector<Vec>& in) {
    Vec y(10, 0.0);
    for (std::size_t k = 0; k < taps.out.size(); ++k)
      y[taps.out[k]] += taps.weight[k] * in[0][taps.in[k]];
    return y;
  };
  resized.backward = [=](const std::vector<Vec>&, const Vec& g) {
    Vec gx(6, 0.0);
    for (std::size_t k = 0; k < taps.out.size(); ++k)
      gx[taps.in[k]] += taps.weight[k] * g[taps.out[k]];
    return std::vector<Vec>{gx};
  };
  run_op_check(resized);

  // embedding of a [4, 3] table by indices [5] with repeats: both kernels.
  OpCheck table;
  table.shapes = {{4, 3}, {5}};
  table.differentiable = {true, false};
  table.make = [](std::size_t input, std::size_t n, std::uint32_t seed) {
    auto v = random_vector(n, seed);
    if (input == 1)
      for (auto& e : v) e = std::floor(e * 4.0f);  // in [-4, 4)
    return v;
  };
  table.build = [](const std::vector<Value>& v) { return embedding(v[0], v[1]); };
  auto row_of = [](const Vec& indices, std::size_t i) {
    const long r = long(indices[i]);
    return std::size_t(r < 0 ? r + 4 : r);
  };
  table.forward = [=](const std::vector<Vec>& v) {
    Vec y(15);
    for (std::size_t i = 0; i < 15; ++i) y[i] = v[0][row_of(v[1], i / 3) * 3 + i % 3];
    return y;
  };
  table.backward = [=](const std::vector<Vec>& v, const Vec& g) {
    Vec gt(12, 0.0);
    for (std::size_t i = 0; i < 15; ++i) gt[row_of(v[1], i / 3) * 3 + i % 3] += g[i];
    return std::vector<Vec>{gt, {}};
  };
  run_op_check(table);

  run_op_check(top_k_positions_check({3, 5, 2}, 3, 1, true));

  // gather_elements along axis 1 of [3, 4], indices [3, 5] with repeats: both kernels.
  OpCheck gather;
  gather.shapes = {{3, 4}, {3, 5}};
  gather.differentiable = {true, false};
  gather.make = [](std::size_t input, std::size_t n, std::uint32_t seed) {
    auto v = random_vector(n, seed);
    if (input == 1)
      for (auto& e : v) e = std::floor(e * 4.0f);  // in [-4, 4)
    return v;
  };
  gather.build = [](const std::vector<Value>& v) { return gather_elements(v[0], v[1], 1); };
  auto column = [](const Vec& indices, std::size_t i) {
    const long c = long(indices[i]);
    return std::size_t(c < 0 ? c + 4 : c);
  };
  gather.forward = [=](const std::vector<Vec>& v) {
    Vec y(15);
    for (std::size_t i = 0; i < 15; ++i) y[i] = v[0][i / 5 * 4 + column(v[1], i)];
    return y;
  };
  gather.backward = [=](const std::vector<Vec>& v, const Vec& g) {
    Vec gx(12, 0.0);
    for (std::size_t i = 0; i < 15; ++i) gx[i / 5 * 4 + column(v[1], i)] += g[i];
    return std::vector<Vec>{gx, {}};
  };
  run_op_check(gather);

  // where (both select kernels) with a broadcast b, and argmax (positions: the iota kernel).
  OpCheck select;
  select.shapes = {{3, 4}, {3, 4}, {4}};
  select.differentiable = {false, true, true};
  select.make = [](std::size_t input, std::size_t n, std::uint32_t seed) {
    auto v = random_vector(n, seed);
    if (input == 0)
      for (auto& e : v) e = e > 0 ? 1.0f : 0.0f;
    return v;
  };
  select.build = [](const std::vector<Value>& v) { return where(v[0], v[1], v[2]); };
  select.forward = [](const std::vector<Vec>& v) {
    Vec y(12);
    for (std::size_t i = 0; i < 12; ++i) y[i] = v[0][i] != 0 ? v[1][i] : v[2][i % 4];
    return y;
  };
  select.backward = [](const std::vector<Vec>& v, const Vec& g) {
    Vec ga(12, 0.0), gb(4, 0.0);
    for (std::size_t i = 0; i < 12; ++i) (v[0][i] != 0 ? ga[i] : gb[i % 4]) += g[i];
    return std::vector<Vec>{{}, ga, gb};
  };
  run_op_check(select);
  {
    Graph g;
    Value a = g.input("a", {2, 3});
    Value top = argmax(a, 1);
    Executor ex(context(), g, {top}, Mode::inference);
    ex.set_input("a", {1, 7, 2, 9, 3, 9});
    ex.forward();
    CHECK(ex.value(top).to_host() == std::vector<float>{1, 0});
  }

  const auto x = random_vector(37, 11), y = random_vector(37, 12);
  Tensor tx = Tensor::from_host(context(), {37}, x), ty = Tensor::from_host(context(), {37}, y);
  clnn::axpy(-0.75f, tx, ty);
  CHECK(relative_error(ty.to_host(), reference::axpy(-0.75, x, y)) < 1e-6);
  clnn::copy(tx, ty);
  CHECK(ty.to_host() == x);
  clnn::fill(ty, 2.5f);
  CHECK(ty.to_host() == std::vector<float>(37, 2.5f));
}

TEST_CASE("oclgrind: softmax, reductions and losses", "[oclgrind]") {
  count_launches();
  // A max over the middle axis of [3, 4, 5], and its gradient to the largest elements.
  OpCheck max_check;
  max_check.shapes = {{3, 4, 5}};
  max_check.build = [](const std::vector<Value>& v) { return reduce_max(v[0], {1}); };
  auto largest = [](const Vec& x, std::size_t o, std::size_t k) {
    std::size_t best = o * 20 + k;
    for (std::size_t j = 1; j < 4; ++j)
      if (x[o * 20 + j * 5 + k] > x[best]) best = o * 20 + j * 5 + k;
    return best;
  };
  max_check.forward = [=](const std::vector<Vec>& x) {
    Vec y(15);
    for (std::size_t i = 0; i < 15; ++i) y[i] = x[0][largest(x[0], i / 5, i % 5)];
    return y;
  };
  max_check.backward = [=](const std::vector<Vec>& x, const Vec& g) {
    Vec gx(60, 0.0);
    for (std::size_t i = 0; i < 15; ++i) gx[largest(x[0], i / 5, i % 5)] = g[i];
    return std::vector<Vec>{gx};
  };
  run_op_check(max_check);

  const Shape shape{3, 4, 5};
  for (int axis : {1, 2}) {
    const auto view = reference::middle(shape, std::size_t(axis), std::size_t(axis) + 1);
    OpCheck c;
    c.shapes = {shape};
    c.build = [=](const std::vector<Value>& v) { return softmax(v[0], axis); };
    c.forward = [=](const std::vector<Vec>& x) { return reference::softmax(x[0], view, false); };
    c.backward = [=](const std::vector<Vec>& x, const Vec& g) {
      return std::vector<Vec>{reference::softmax_backward(x[0], view, false, g)};
    };
    run_op_check(c);
  }
  // Over the outer and the inner axes: the strided and the row reductions.
  for (const std::vector<int>& axes : {std::vector<int>{0}, std::vector<int>{2}}) {
    run_op_check(clnn::test::reduce_check(shape, axes, false, false));
  }
  {
    // A GPU's plan: contiguous rows get a work-group each, softmax's long rows too.
    test::ReductionPlanOverride plan;
    plan.use(plan.as_gpu());
    run_op_check(clnn::test::reduce_check(shape, {2}, false, false));
    const Shape rows{2, 70};
    const auto view = reference::middle(rows, 1, 2);
    OpCheck c;
    c.shapes = {rows};
    c.build = [](const std::vector<Value>& v) { return softmax(v[0], 1); };
    c.forward = [=](const std::vector<Vec>& x) { return reference::softmax(x[0], view, false); };
    c.backward = [=](const std::vector<Vec>& x, const Vec& g) {
      return std::vector<Vec>{reference::softmax_backward(x[0], view, false, g)};
    };
    run_op_check(c);
  }

  run_op_check(clnn::test::mse_check({7, 5}));

  OpCheck ce;
  ce.shapes = {{7, 10}, {7}};
  ce.differentiable = {true, false};
  ce.make = [](std::size_t input, std::size_t n, std::uint32_t seed) {
    if (input == 0) return random_vector(n, seed, -4.0f, 4.0f);
    std::vector<float> labels(n);
    for (std::size_t i = 0; i < n; ++i) labels[i] = float((i * 7 + seed) % 10);
    return labels;
  };
  ce.build = [](const std::vector<Value>& v) { return softmax_cross_entropy(v[0], v[1]); };
  ce.forward = [](const std::vector<Vec>& x) {
    return Vec{reference::cross_entropy(x[0], x[1], 10)};
  };
  ce.backward = [](const std::vector<Vec>& x, const Vec& g) {
    return std::vector<Vec>{reference::cross_entropy_backward(x[0], x[1], 10, g[0]), {}};
  };
  run_op_check(ce);
}

TEST_CASE("oclgrind: every matmul kernel, and split K", "[oclgrind]") {
  count_launches();
  for (const MatmulPlan& plan : {MatmulPlan{true, 16, 16, 8, 2, 2, MatmulKernel::tiled},
                                 MatmulPlan{false, 3, 8, 1, 3, 4, MatmulKernel::cpu},
                                 MatmulPlan{false, 3, 24, 1, 3, 12, MatmulKernel::cpu},
                                 MatmulPlan{false, 3, 24, 1, 3, 12, MatmulKernel::cpu, 0, true},
                                 MatmulPlan{false, 6, 12, 8, 3, 12, MatmulKernel::cpu},
                                 MatmulPlan{true, 32, 32, 8, 8, 8, MatmulKernel::vec4}}) {
    REQUIRE(impl().planner.fits(plan));
    check_gemm(&plan, 36, 20, 12, false, true);  // multiples of 4: vec4 serves them too
    check_gemm(&plan, 12, 40, 16, true, false);
    check_gemm(&plan, 37, 20, 12, false, false);  // odd rows of A: vec4 reads past none
    // A column bias where the kernel adds one: rows of whole blocks, a row's last block
    // shifted back, and (n = 8 under blocks of 12 or 24) a block wider than the product.
    if (plan.kernel == MatmulKernel::vec4 || plan.kernel == MatmulKernel::cpu)
      for (std::size_t n : {20, 8}) check_gemm(&plan, 13, n, 12, false, true, nullptr, true);
  }
  // Skinny products (CLNN_GEMM=own here keeps gemm() off them), as GPUs and CPUs run them:
  // rows and columns of the big matrix contiguous, with three outputs split over K and forty not.
  for (const auto* style :
       {&clnn::test::kGpuSmallGroups, &clnn::test::kCpuStyle, &clnn::test::kCpuRowBlocks})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        check_gemm(nullptr, 2, 40, 20, ta, tb, style);
        check_gemm(nullptr, 3, 1, 600, ta, tb, style);
      }
  // K long beside M and N: the product runs in slices of K summed by gemm_sum_slices.
  OpCheck product;
  product.shapes = {{4, 512}, {512, 4}};
  product.build = [](const std::vector<Value>& v) { return matmul(v[0], v[1]); };
  product.forward = [](const std::vector<Vec>& x) {
    return reference::matmul(x[0], {4, 512}, x[1], {512, 4}, false, false);
  };
  product.backward = [](const std::vector<Vec>& x, const Vec& g) {
    auto [ga, gb] = reference::matmul_backward(x[0], {4, 512}, x[1], {512, 4}, false, false, g);
    return std::vector<Vec>{ga, gb};
  };
  run_op_check(product);
}

TEST_CASE("oclgrind: convolution on every route", "[oclgrind]") {
  count_launches();
  const bool saved_rows = impl().row_loops;
  for (bool rows : {false, true}) {  // vol2col and vol2col_rows
    RouteScope scope(ConvRoute::columns);
    impl().row_loops = rows;
    run_op_check(conv_check({2, 3, 5, 4}, {4, 3, 3, 3}, padded({1, 1})));
  }
  impl().row_loops = saved_rows;
  {
    RouteScope scope(ConvRoute::implicit);
    run_op_check(conv_check({1, 2, 5, 5}, {2, 2, 3, 3}, padded({1, 1})));
  }
  for (bool rows : {false, true}) {  // a tile per work-item, and vectors of tiles (_lanes)
    RouteScope scope(ConvRoute::winograd);
    impl().row_loops = rows;
    run_op_check(conv_check({2, 3, 5, 4}, {4, 3, 3, 3}, padded({1, 1})));
  }
  impl().row_loops = saved_rows;
  {
    RouteScope scope(ConvRoute::direct);
    run_op_check(conv_check({2, 3, 11}, {7, 3, 3}, padded({1}, {2})));
  }
  {
    RouteScope scope(ConvRoute::padded);  // every pass
    run_op_check(conv_check({2, 3, 5, 4}, {4, 3, 3, 3}, padded({1, 1})));
    // Strided forward over rows of 32 columns: the copy takes the even phase's 16 columns from
    // two vector loads, and the odd phase's, whose loads would pass the row (and, on the last
    // row, x), one by one.
    run_op_check(conv_check({1, 2, 3, 32}, {4, 2, 3, 3}, padded({0, 0}, {2, 2})));
  }
  {
    RouteScope scope(ConvRoute::pointwise);  // with a bias: channel_bias_rows
    run_op_check(conv_check({2, 3, 5, 4}, {4, 3, 1, 1}, {}));
  }
  {
    RouteScope scope(ConvRoute::shifted);
    run_op_check(conv_check({2, 4, 5, 4}, {4, 4, 3, 3}, padded({1, 1})));
  }
  {
    // Multiplier 2, strided, as a CPU runs it (the *_rows kernels, lines in segments of 4) and as
    // a GPU does (a work-item per element, work-group trees), the weight gradient in pieces.
    RouteScope scope(ConvRoute::depthwise);
    ConvOptions o = padded({1, 1}, {2, 1});
    o.groups = 3;
    test::ReductionPlanOverride plan;
    for (bool gpu : {false, true}) {
      ReductionPlan p = plan.planned();
      p.item_per_row = !gpu;
      p.max_serial = 4;
      plan.use(p);
      impl().row_loops = !gpu;
      run_op_check(conv_check({2, 3, 5, 9}, {6, 1, 3, 3}, o));
    }
    // On CPUs, "same" padding a plane per work-item (depthwise_forward_planes), at stride 1 and
    // 2; and a filter per channel on short lines with other padding over a padded copy.
    impl().row_loops = true;
    ConvOptions same = padded({1, 1});
    same.groups = 3;
    run_op_check(conv_check({2, 3, 5, 7}, {3, 1, 3, 3}, same));
    ConvOptions halved = padded({1, 1}, {2, 2});
    halved.groups = 3;
    run_op_check(conv_check({2, 3, 6, 4}, {3, 1, 3, 3}, halved));
    ConvOptions valid;
    valid.groups = 3;
    run_op_check(conv_check({2, 3, 5, 7}, {3, 1, 3, 3}, valid));
    impl().row_loops = saved_rows;
  }
}

TEST_CASE("oclgrind: pooling", "[oclgrind]") {
  count_launches();
  PoolOptions disjoint;  // each input in one window at most: max_pool scatters its gradient
  disjoint.kernel = {2, 2};
  PoolOptions overlapping;
  overlapping.kernel = {3, 3}, overlapping.strides = {2, 2};
  overlapping.pads_begin = overlapping.pads_end = {1, 1};
  test::RowLoopsOverride rows;
  for (bool per_line : {false, true}) {  // max_pool_forward, and its _rows form (CPUs)
    rows.use(per_line);
    for (bool is_max : {true, false}) {
      run_op_check(pool_check(is_max, {2, 2, 6, 6}, disjoint));  // the windows tile it, too
      run_op_check(pool_check(is_max, {2, 2, 7, 5}, disjoint));  // last row and column left out
      run_op_check(pool_check(is_max, {1, 2, 7, 5}, overlapping));
    }
    run_op_check(pool_check(true, {1, 2, 4, 19}, disjoint));  // eight windows a step on CPUs
    run_op_check(pool_check(true, {1, 2, 4, 18}, disjoint));  // backward too, where they tile
    // Inference on CPUs, a line of maxima per work-item: lines of a vector and more (this one),
    // and shorter ones ({1, 2, 7, 5} above), their last lines' vectors passing x's end.
    run_op_check(pool_check(true, {1, 2, 5, 18}, overlapping));
  }
  run_op_check(max_pool_indices_check({1, 2, 7, 5}, overlapping, true));
}

TEST_CASE("oclgrind: batch_norm and dropout", "[oclgrind]") {
  count_launches();
  run_op_check(batch_norm_check({3, 2, 2, 3}));

  Graph g;
  Value x = g.parameter("x", {300}, init::uniform(0.5f, 1.5f, 3));
  Value r = g.input("R", {300});
  Value y = dropout(x, 0.25f, 7);
  Value loss = sum(mul(y, r));
  Executor ex(context(), g, {y, loss}, Mode::training);
  const auto rh = random_vector(300, 5);
  ex.set_input("R", rh);
  ex.forward();
  ex.backward(loss);
  const auto xh = ex.parameter("x").to_host(), yh = ex.value(y).to_host();
  std::size_t kept = 0, wrong = 0;
  Vec want(300);
  for (std::size_t i = 0; i < 300; ++i) {
    const bool keep = yh[i] != 0.0f;
    kept += keep;
    wrong += keep && std::fabs(yh[i] - xh[i] / 0.75) > 1e-5;
    want[i] = keep ? rh[i] / 0.75 : 0.0;
  }
  CHECK(wrong == 0);
  CHECK(kept > 150);
  CHECK(kept < 300);
  CHECK(relative_error(ex.gradient(x).to_host(), want) < 1e-6);
}

TEST_CASE("oclgrind: optimizers and the trainer's step", "[oclgrind]") {
  count_launches();
  // loss = sum(p * R): the gradient is R at every step.
  Graph g;
  Value p = g.parameter("p", {5, 7}, init::uniform(-1.0f, 1.0f, 3));
  Value loss = sum(mul(p, g.input("R", {5, 7})));
  const auto r = random_vector(35, 9);
  const auto initial = init::uniform(-1.0f, 1.0f, 3)({5, 7});
  for (bool adam : {false, true}) {
    INFO("adam " << adam);
    Executor ex(context(), g, {loss}, Mode::training);
    ex.set_input("R", r);
    optim::SGDOptions so;
    so.lr = 0.1f, so.momentum = 0.9f;
    optim::AdamOptions ao;
    ao.lr = 0.05f;
    std::unique_ptr<optim::Optimizer> opt;
    if (adam)
      opt = std::make_unique<optim::Adam>(ex, ao);
    else
      opt = std::make_unique<optim::SGD>(ex, so);
    Vec host(initial.begin(), initial.end()), m(35, 0.0), v(35, 0.0);
    for (int t = 1; t <= 2; ++t) {
      ex.forward();
      ex.backward(loss);
      opt->step();
      for (std::size_t i = 0; i < 35; ++i) {
        if (adam) {
          m[i] = ao.beta1 * m[i] + (1 - ao.beta1) * r[i];
          v[i] = ao.beta2 * v[i] + (1 - ao.beta2) * r[i] * r[i];
          const double mh = m[i] / (1 - std::pow(double(ao.beta1), t));
          const double vh = v[i] / (1 - std::pow(double(ao.beta2), t));
          host[i] -= ao.lr * mh / (std::sqrt(vh) + ao.eps);
        } else {
          m[i] = so.momentum * m[i] + r[i];
          host[i] -= so.lr * m[i];
        }
      }
    }
    CHECK(relative_error(ex.parameter("p").to_host(), host) < 1e-5);
    // Loss scaling's kernels: a finite step updates, one with an infinity injected is skipped
    // and backs the scale off.
    optim::LossScaler scaler(ex.context());
    ex.backward(loss, scaler.device_state());
    auto before = ex.parameter("p").to_host();
    scaler.step(ex, *opt);
    CHECK(ex.parameter("p").to_host() != before);
    CHECK(opt->steps() == 3);
    auto bad = r;
    bad[3] = INFINITY;
    ex.set_input("R", bad);
    ex.forward();
    ex.backward(loss, scaler.device_state());
    before = ex.parameter("p").to_host();
    scaler.step(ex, *opt);
    CHECK(ex.parameter("p").to_host() == before);
    CHECK(opt->steps() == 3);
    CHECK(scaler.skipped() == 1);
    CHECK(scaler.scale() == 32768.0f);
  }

  // The trainer counts correct predictions on the device (count_correct); at a rate too small to
  // move any parameter (it must be positive), its count must be the evaluation's on the same
  // images.
  data::ImageSet images;
  images.count = 8, images.rows = 4, images.cols = 4, images.classes = 3;
  for (std::size_t i = 0; i < 8 * 16; ++i) images.pixels.push_back(std::uint8_t(i * 37 % 251));
  for (std::uint8_t i = 0; i < 8; ++i) images.labels.push_back(std::uint8_t(i % 3));
  train::Options o;
  o.batch_size = 4, o.lr = 1e-30f;
  std::ostringstream log;
  o.log = &log;
  auto model = [](Graph& graph, const Value& in) {
    nn::Sequential net;
    net.emplace<nn::Flatten>();
    net.emplace<nn::Linear>(graph, "fc", 16, 3);
    return net(in);
  };
  train::Trainer trainer(context(), model, images, images, o);
  const auto epochs = trainer.fit();
  REQUIRE(epochs.size() == 1);
  CHECK(epochs[0].train_accuracy == Approx(trainer.evaluate(images).accuracy));
}

// Hidden (it passes only after the cases above ran in this process): the ctest label oclgrind
// runs it last, with them.
TEST_CASE("oclgrind: the cases above launched every kernel of cl_kernels/", "[.][oclgrind]") {
  REQUIRE(detail::census_on.load());  // the cases above ran in this process and counted
  const std::set<std::string> launched = detail::launched_kernels();
  // Inline PTX throughout, for NVIDIA's tensor cores: it builds on no other device
  // (test_precision runs every form of it on the GPU machine).
  const std::set<std::string> nvidia_only{"gemm_mma"};
  std::set<std::string> all;
  for (const auto& source : detail::embedded_kernel_sources()) {
    const auto kernels = kernels_of(std::string(source.text));
    CHECK_FALSE(kernels.empty());  // a family whose kernels the parser misses must not pass
    for (const std::string& kernel : kernels) {
      INFO("kernel " << kernel << " of cl_kernels/" << source.name << ".cl");
      CHECK(all.insert(kernel).second);  // names are unique across families
      CHECK(launched.count(kernel) == (nvidia_only.count(kernel) ? 0 : 1));
    }
  }
  for (const std::string& kernel : launched) {
    INFO("launched kernel " << kernel);
    CHECK(all.count(kernel) == 1);
  }
}
