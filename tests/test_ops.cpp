// Elementwise arithmetic, activations, softmax, reductions, shape ops and losses: forward and
// backward against the double-precision reference (see op_harness.hpp).
#include <catch2/catch.hpp>

#include "op_checks.hpp"
#include "plan_override.hpp"

#include <cmath>
#include <string>

using namespace clnn;
using clnn::test::identity_check;
using clnn::test::OpCheck;
using clnn::test::run_op_check;
using reference::Vec;

namespace {

OpCheck binary_check(reference::Binary op, Shape sa, Shape sb) {
  OpCheck c;
  c.shapes = {sa, sb};
  c.build = [op](const std::vector<Value>& v) {
    return op == reference::Binary::add   ? add(v[0], v[1])
           : op == reference::Binary::sub ? sub(v[0], v[1])
                                          : mul(v[0], v[1]);
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

OpCheck activation_check(reference::Act act, double p, std::function<Value(const Value&)> build,
                         Shape shape, double q = 0, float lo = -3.0f, float hi = 3.0f) {
  OpCheck c;
  c.shapes = {shape};
  c.build = [build](const std::vector<Value>& v) { return build(v[0]); };
  c.forward = [=](const std::vector<Vec>& x) {
    Vec y(x[0].size());
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = reference::activation(act, x[0][i], p, q);
    return y;
  };
  c.backward = [=](const std::vector<Vec>& x, const Vec& g) {
    Vec gx(x[0].size());
    for (std::size_t i = 0; i < gx.size(); ++i)
      gx[i] = g[i] * reference::activation_derivative(act, x[0][i], p, q);
    return std::vector<Vec>{gx};
  };
  // Inputs spread over [lo, hi], away from relu's kink where finite differences mislead.
  c.make = [lo, hi](std::size_t, std::size_t n, std::uint32_t seed) {
    auto v = clnn::test::random_vector(n, seed, lo, hi);
    for (auto& x : v)
      if (std::fabs(x) < 1e-3f) x = 0.5f;
    return v;
  };
  return c;
}

}  // namespace

TEST_CASE("add sub mul on equal shapes and with a trailing-part operand", "[ops][elementwise]") {
  using reference::Binary;
  for (Binary op : {Binary::add, Binary::sub, Binary::mul}) {
    INFO("op " << int(op));
    run_op_check(binary_check(op, {7, 33}, {7, 33}));
    run_op_check(binary_check(op, {1}, {1}));
    run_op_check(binary_check(op, {5, 129}, {129}));       // a bias row
    run_op_check(binary_check(op, {3, 4, 5, 2}, {5, 2}));  // a trailing block
    run_op_check(binary_check(op, {6, 3, 12}, {3, 12}));   // four at a time
    run_op_check(binary_check(op, {8, 4}, {8, 4}));
  }
}

TEST_CASE("a relu after add sub or mul folds into it in training", "[ops][elementwise]") {
  // Its backward masks the gradient where the output is 0: the direct kernels' shapes and a
  // broadcast one, against the reference followed by relu, written and then added to (twice).
  using reference::Binary;
  for (Binary op : {Binary::add, Binary::sub, Binary::mul}) {
    for (auto [a, b] :
         {std::pair<Shape, Shape>{{7, 33}, {7, 33}}, {{5, 129}, {129}}, {{3, 4, 5}, {4, 1}}}) {
      INFO("op " << int(op) << ", " << to_string(a) << " and " << to_string(b));
      const OpCheck check = clnn::test::relu_after(binary_check(op, a, b));
      const std::string producer = op == Binary::add   ? "add_1"
                                   : op == Binary::sub ? "sub_1"
                                                       : "mul_1";
      CHECK(clnn::test::training_routes(check)["relu_1 forward"] ==
            "folded into '" + producer + "'");
      run_op_check(check);
      run_op_check(twice(clnn::test::relu_after(binary_check(op, a, b))));
    }
  }
}

TEST_CASE("binary operations with numpy broadcasting", "[ops][elementwise]") {
  using reference::Binary;
  struct Case {
    Shape a, b;
  };
  const std::vector<Case> cases{{{3, 4, 5}, {5}},
                                {{3, 4, 5}, {4, 1}},
                                {{3, 1, 5}, {1, 4, 1}},
                                {{1}, {2, 3}},
                                {{4, 1}, {4, 6}},
                                {{2, 3, 4, 5}, {3, 1, 1}},
                                {{7, 33}, {7, 33}},
                                // bias + x as exporters write it, one by one and four at a time
                                {{129}, {5, 129}},
                                {{12}, {7, 12}},
                                // four at a time: a per-channel scale, a row broadcast
                                {{2, 3, 8}, {3, 1}},
                                {{4, 8}, {2, 1, 8}}};
  for (Binary op : {Binary::add, Binary::sub, Binary::mul, Binary::div, Binary::pow, Binary::prelu})
    for (const Case& k : cases) {
      INFO("op " << int(op) << " " << to_string(k.a) << " with " << to_string(k.b));
      OpCheck c;
      c.shapes = {k.a, k.b};
      c.build = [op](const std::vector<Value>& v) {
        switch (op) {
          case Binary::add:
            return add(v[0], v[1]);
          case Binary::sub:
            return sub(v[0], v[1]);
          case Binary::mul:
            return mul(v[0], v[1]);
          case Binary::div:
            return div(v[0], v[1]);
          case Binary::pow:
            return clnn::pow(v[0], v[1]);
          case Binary::prelu:
            break;
        }
        return prelu(v[0], v[1]);
      };
      c.forward = [=](const std::vector<Vec>& x) {
        return reference::broadcast_binary(op, x[0], k.a, x[1], k.b);
      };
      c.backward = [=](const std::vector<Vec>& x, const Vec& g) {
        auto [ga, gb] = reference::broadcast_binary_backward(op, x[0], k.a, x[1], k.b, g);
        return std::vector<Vec>{ga, gb};
      };
      // Divisors and bases away from 0 (pow's gradient needs a > 0); prelu's x away from its kink.
      c.make = [op](std::size_t input, std::size_t n, std::uint32_t seed) {
        const bool positive =
            (op == Binary::div && input == 1) || (op == Binary::pow && input == 0);
        auto v =
            clnn::test::random_vector(n, seed, positive ? 0.5f : -1.0f, positive ? 2.0f : 1.0f);
        for (auto& x : v)
          if (std::fabs(x) < 1e-3f) x = 0.25f;
        return v;
      };
      c.forward_tolerance = 1e-5;
      run_op_check(c);
    }
  Graph g;
  CHECK_THROWS_WITH(add(g.input("p", {3, 4}), g.input("q", {3, 5})),
                    Catch::Contains("do not broadcast") && Catch::Contains("[3, 4]"));
  CHECK(add(g.input("r", {3, 1}), g.input("s", {1, 4})).shape() == Shape{3, 4});
}

TEST_CASE("mul of a value with itself sums both gradients", "[ops][elementwise]") {
  OpCheck c;
  c.shapes = {{9, 4}};
  c.build = [](const std::vector<Value>& v) { return mul(v[0], v[0]); };
  c.forward = [](const std::vector<Vec>& x) {
    return reference::binary(reference::Binary::mul, x[0], x[0]);
  };
  c.backward = [](const std::vector<Vec>& x, const Vec& g) {
    Vec gx(x[0].size());
    for (std::size_t i = 0; i < gx.size(); ++i) gx[i] = 2 * x[0][i] * g[i];
    return std::vector<Vec>{gx};
  };
  run_op_check(c);
}

TEST_CASE("scale", "[ops][elementwise]") {
  OpCheck c;
  c.shapes = {{33, 3}};
  c.build = [](const std::vector<Value>& v) { return scale(v[0], -2.5f); };
  c.forward = [](const std::vector<Vec>& x) {
    Vec y = x[0];
    for (auto& e : y) e *= -2.5;
    return y;
  };
  c.backward = [](const std::vector<Vec>&, const Vec& g) {
    Vec gx = g;
    for (auto& e : gx) e *= -2.5;
    return std::vector<Vec>{gx};
  };
  run_op_check(c);
}

TEST_CASE("activations", "[ops][activation]") {
  using reference::Act;
  for (Shape shape : {Shape{1}, Shape{7}, Shape{129, 3}}) {
    INFO(to_string(shape));
    run_op_check(activation_check(
        Act::relu, 0, [](const Value& v) { return relu(v); }, shape));
    run_op_check(activation_check(
        Act::leaky_relu, 0.1, [](const Value& v) { return leaky_relu(v, 0.1f); }, shape));
    run_op_check(activation_check(
        Act::sigmoid, 0, [](const Value& v) { return sigmoid(v); }, shape));
    run_op_check(activation_check(
        Act::tanh, 0, [](const Value& v) { return clnn::tanh(v); }, shape));
    run_op_check(activation_check(
        Act::elu, 0.7, [](const Value& v) { return elu(v, 0.7f); }, shape));
    run_op_check(activation_check(
        Act::gelu, 0, [](const Value& v) { return gelu(v); }, shape));
  }
}

TEST_CASE("sqrt exp selu hard_sigmoid and clip", "[ops][activation]") {
  using reference::Act;
  for (Shape shape : {Shape{1}, Shape{129, 3}}) {
    INFO(to_string(shape));
    run_op_check(activation_check(
        Act::sqrt, 0, [](const Value& v) { return clnn::sqrt(v); }, shape, 0, 0.1f));
    run_op_check(activation_check(
        Act::exp, 0, [](const Value& v) { return clnn::exp(v); }, shape));
    run_op_check(activation_check(
        Act::selu, 1.5, [](const Value& v) { return selu(v, 1.5f, 1.1f); }, shape, 1.1));
    run_op_check(activation_check(
        Act::hard_sigmoid, 0.3, [](const Value& v) { return hard_sigmoid(v, 0.3f, 0.4f); }, shape,
        0.4));
    run_op_check(activation_check(
        Act::clip, -1.0, [](const Value& v) { return clip(v, -1.0f, 1.5f); }, shape, 1.5));
  }
  Graph g;
  CHECK_THROWS_AS(clip(g.input("x", {2}), 1.0f, -1.0f), Error);
}

TEST_CASE("math functions and more activations", "[ops][activation]") {
  using reference::Act;
  using F = Value (*)(const Value&);
  // Each over the part of [-3, 3] where it is defined and finite differences hold (away from
  // the poles of tan and the ends of asin's domain).
  const struct {
    Act act;
    F f;
    float lo, hi;
  } plain[] = {
      {Act::abs, clnn::abs, -3, 3},
      {Act::log, clnn::log, 0.1f, 3},
      {Act::reciprocal, reciprocal, 0.2f, 3},
      {Act::floor, clnn::floor, -3, 3},
      {Act::ceil, clnn::ceil, -3, 3},
      {Act::round, clnn::round, -3, 3},
      {Act::sign, sign, -3, 3},
      {Act::erf, clnn::erf, -3, 3},
      {Act::softplus, softplus, -3, 3},
      {Act::softsign, softsign, -3, 3},
      {Act::hard_swish, hard_swish, -4, 4},
      {Act::mish, mish, -3, 3},
      {Act::sin, clnn::sin, -3, 3},
      {Act::cos, clnn::cos, -3, 3},
      {Act::tan, clnn::tan, -1.2f, 1.2f},
      {Act::asin, clnn::asin, -0.9f, 0.9f},
      {Act::acos, clnn::acos, -0.9f, 0.9f},
      {Act::atan, clnn::atan, -3, 3},
      {Act::sinh, clnn::sinh, -3, 3},
      {Act::cosh, clnn::cosh, -3, 3},
      {Act::asinh, clnn::asinh, -3, 3},
      {Act::acosh, clnn::acosh, 1.1f, 3},
      {Act::atanh, clnn::atanh, -0.9f, 0.9f},
  };
  for (Shape shape : {Shape{1}, Shape{129, 3}}) {
    for (const auto& t : plain) {
      INFO(to_string(shape) << " function " << int(t.act));
      // Tolerances as for exp: float's own functions are within a few ulp.
      run_op_check(activation_check(
          t.act, 0, [f = t.f](const Value& v) { return f(v); }, shape, 0, t.lo, t.hi));
    }
    run_op_check(activation_check(
        Act::celu, 0.7, [](const Value& v) { return celu(v, 0.7f); }, shape));
    run_op_check(activation_check(
        Act::thresholded_relu, 0.4, [](const Value& v) { return thresholded_relu(v, 0.4f); },
        shape));
    run_op_check(activation_check(
        Act::shrink, 0.3, [](const Value& v) { return shrink(v, 0.3f, 0.8f); }, shape, 0.8));
    run_op_check(activation_check(
        Act::shift, -1.25, [](const Value& v) { return add(v, -1.25f); }, shape));
  }
  Graph g;
  CHECK_THROWS_AS(celu(g.input("x", {2}), 0.0f), Error);
  CHECK_THROWS_AS(shrink(g.input("y", {2}), 0.0f, -1.0f), Error);
}

TEST_CASE("maximum and minimum broadcast, ties to the first operand", "[ops][elementwise]") {
  for (bool max : {true, false}) {
    INFO((max ? "maximum" : "minimum"));
    OpCheck c;
    c.shapes = {{5, 33}, {33}};
    c.build = [max](const std::vector<Value>& v) {
      return max ? maximum(v[0], v[1]) : minimum(v[0], v[1]);
    };
    auto first = [max](double a, double b) { return max ? a >= b : a <= b; };
    c.forward = [=](const std::vector<Vec>& x) {
      Vec y(x[0].size());
      for (std::size_t i = 0; i < y.size(); ++i) {
        const double a = x[0][i], b = x[1][i % 33];
        y[i] = first(a, b) ? a : b;
      }
      return y;
    };
    c.backward = [=](const std::vector<Vec>& x, const Vec& g) {
      Vec ga(x[0].size(), 0.0), gb(x[1].size(), 0.0);
      for (std::size_t i = 0; i < g.size(); ++i)
        (first(x[0][i], x[1][i % 33]) ? ga[i] : gb[i % 33]) += g[i];
      return std::vector<Vec>{ga, gb};
    };
    run_op_check(c);
  }
}

TEST_CASE("sigmoid and tanh saturate cleanly on large inputs", "[ops][activation]") {
  Graph g;
  Value x = g.input("x", {4});
  Value s = sigmoid(x), t = clnn::tanh(x);
  Executor ex(clnn::test::context(), g, {s, t}, Mode::inference);
  ex.set_input("x", {-200.0f, -90.0f, 90.0f, 200.0f});
  ex.forward();
  auto sv = ex.value(s).to_host(), tv = ex.value(t).to_host();
  const std::vector<float> s_want{0.0f, 0.0f, 1.0f, 1.0f}, t_want{-1.0f, -1.0f, 1.0f, 1.0f};
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(sv[i] >= 0.0f);
    CHECK(sv[i] <= 1.0f);
    CHECK(std::fabs(sv[i] - s_want[i]) < 1e-7f);
    CHECK(std::fabs(tv[i] - t_want[i]) < 1e-7f);
  }
}

TEST_CASE("softmax and log_softmax along any axis", "[ops][softmax]") {
  // Under the device's plan and a GPU's (long contiguous rows: a work-group each).
  test::ReductionPlanOverride plan;
  for (const ReductionPlan& use : {plan.planned(), plan.as_gpu()})
    for (bool log_mode : {false, true})
      for (auto [shape, axis] : std::vector<std::pair<Shape, int>>{{{5, 10}, -1},
                                                                   {{5, 10}, 0},
                                                                   {{3, 4, 7}, 1},
                                                                   {{1, 1}, 1},
                                                                   {{2, 129}, 1},
                                                                   {{3, 64}, 1},
                                                                   {{2, 3001}, -1},
                                                                   {{37, 49}, 1}}) {
        INFO("log " << log_mode << " shape " << to_string(shape) << " axis " << axis
                    << " item per row " << use.item_per_row);
        plan.use(use);
        std::size_t a = std::size_t(axis < 0 ? axis + int(shape.size()) : axis);
        auto view = reference::middle(shape, a, a + 1);
        OpCheck c;
        c.shapes = {shape};
        c.build = [=](const std::vector<Value>& v) {
          return log_mode ? log_softmax(v[0], axis) : softmax(v[0], axis);
        };
        c.forward = [=](const std::vector<Vec>& x) {
          return reference::softmax(x[0], view, log_mode);
        };
        c.backward = [=](const std::vector<Vec>& x, const Vec& g) {
          return std::vector<Vec>{reference::softmax_backward(x[0], view, log_mode, g)};
        };
        run_op_check(c);
      }
}

TEST_CASE("softmax is stable for large inputs", "[ops][softmax]") {
  Graph g;
  Value x = g.input("x", {2, 3});
  Value s = softmax(x), ls = log_softmax(x);
  Executor ex(clnn::test::context(), g, {s, ls}, Mode::inference);
  ex.set_input("x", {1000.0f, 1000.0f, 1000.0f, -1000.0f, 0.0f, 1000.0f});
  ex.forward();
  auto sv = ex.value(s).to_host(), lv = ex.value(ls).to_host();
  CHECK(sv[0] == Approx(1.0 / 3));
  CHECK(sv[5] == Approx(1.0));
  CHECK(sv[3] == 0.0f);
  CHECK(lv[0] == Approx(-std::log(3.0)));
  CHECK(lv[3] == Approx(-2000.0));
  for (float v : lv) CHECK(std::isfinite(v));
}

TEST_CASE("sum and mean over axes", "[ops][reduce]") {
  struct Case {
    Shape shape;
    std::vector<int> axes;
    bool keep;
  };
  for (const Case& k : std::vector<Case>{{{7, 33}, {1}, false},
                                         {{7, 33}, {0}, false},
                                         {{3, 4, 5}, {0, 2}, false},
                                         {{3, 4, 5}, {-1, -2}, true},
                                         {{3, 4, 5}, {}, false},
                                         {{1000}, {}, false},
                                         {{2, 3, 4, 5}, {1, 3}, true}})
    for (bool use_mean : {false, true}) {
      INFO(to_string(k.shape) << " mean " << use_mean);
      OpCheck c = clnn::test::reduce_check(k.shape, k.axes, k.keep, use_mean);
      c.forward_tolerance = 1e-5;
      run_op_check(c);
    }
  Graph g;
  CHECK(sum(g.input("x", {3, 4, 5}), {0, 2}).shape() == Shape{4});
  CHECK(sum(g.input("y", {3, 4, 5}), {0, 2}, true).shape() == Shape{1, 4, 1});
  CHECK(mean(g.input("z", {3, 4})).shape() == Shape{});
  CHECK_THROWS_AS(sum(g.input("w", {3, 4}), {2}), ShapeError);
}

TEST_CASE("max, min and prod over axes, in one pass and chained", "[ops][reduce]") {
  enum Kind { max, min, prod };
  struct Case {
    Shape shape;
    std::vector<int> axes;
  };
  test::ReductionPlanOverride plan;
  // The tiny plan (4 work-items of at most 3 elements) chains passes through partial results.
  for (const ReductionPlan& use : {plan.planned(), plan.as_gpu(), ReductionPlan{4, 3, 3}})
    for (const Case& k : std::vector<Case>{
             {{7, 129}, {1}}, {{129, 3}, {0}}, {{3, 4, 5}, {0, 2}}, {{2, 3, 4, 5}, {1, 3}}})
      for (Kind kind : {max, min, prod}) {
        plan.use(use);
        INFO(to_string(k.shape) << " kind " << int(kind) << " plan " << use.local_size);
        const Shape shape = k.shape;
        std::vector<bool> reduced(shape.size(), false);
        for (int a : k.axes) reduced[std::size_t(a)] = true;
        // The output element each input element folds into.
        auto target = [=](std::size_t i) {
          std::size_t out = 0, rest = i;
          std::vector<std::size_t> c(shape.size());
          for (std::size_t d = shape.size(); d-- > 0;) {
            c[d] = rest % std::size_t(shape[d]);
            rest /= std::size_t(shape[d]);
          }
          for (std::size_t d = 0; d < shape.size(); ++d)
            if (!reduced[d]) out = out * std::size_t(shape[d]) + c[d];
          return out;
        };
        std::size_t outputs = 1;
        for (std::size_t d = 0; d < shape.size(); ++d)
          if (!reduced[d]) outputs *= std::size_t(shape[d]);
        auto reference_forward = [=](const Vec& x) {
          Vec y(outputs, kind == max ? -INFINITY : kind == min ? INFINITY : 1.0);
          for (std::size_t i = 0; i < x.size(); ++i) {
            double& acc = y[target(i)];
            acc = kind == max   ? std::max(acc, x[i])
                  : kind == min ? std::min(acc, x[i])
                                : acc * x[i];
          }
          return y;
        };
        OpCheck c;
        c.shapes = {shape};
        c.build = [=](const std::vector<Value>& v) {
          return kind == max   ? reduce_max(v[0], k.axes)
                 : kind == min ? reduce_min(v[0], k.axes)
                               : reduce_prod(v[0], k.axes);
        };
        c.forward = [=](const std::vector<Vec>& x) { return reference_forward(x[0]); };
        c.backward = [=](const std::vector<Vec>& x, const Vec& g) {
          const Vec y = reference_forward(x[0]);
          Vec gx(x[0].size());
          for (std::size_t i = 0; i < gx.size(); ++i) {
            const std::size_t o = target(i);
            gx[i] = kind == prod ? g[o] * y[o] / x[0][i] : x[0][i] == y[o] ? g[o] : 0.0;
          }
          return std::vector<Vec>{gx};
        };
        // Products of up to 129 factors stay in range near 1.
        if (kind == prod)
          c.make = [](std::size_t, std::size_t n, std::uint32_t seed) {
            return clnn::test::random_vector(n, seed, 0.9f, 1.1f);
          };
        c.forward_tolerance = 1e-5;
        run_op_check(c);
      }
  Graph g;
  CHECK(reduce_max(g.input("x", {3, 4, 5}), {0, 2}, true).shape() == Shape{1, 4, 1});
  CHECK_THROWS_AS(reduce_min(g.input("y", {3, 4}), {2}), ShapeError);
}

TEST_CASE("comparisons, where, argmax and argmin", "[ops][elementwise]") {
  SECTION("where broadcasts its three operands; the gradient goes to the operand taken") {
    OpCheck c;
    c.shapes = {{4, 7}, {5, 1, 7}, {7}};
    c.differentiable = {false, true, true};
    c.make = [](std::size_t input, std::size_t n, std::uint32_t seed) {
      auto v = clnn::test::random_vector(n, seed);
      if (input == 0)
        for (auto& e : v) e = e > 0 ? 1.0f : 0.0f;
      return v;
    };
    c.build = [](const std::vector<Value>& v) { return where(v[0], v[1], v[2]); };
    c.forward = [](const std::vector<Vec>& x) {
      Vec y(140);
      for (std::size_t i = 0; i < 140; ++i) {
        const std::size_t k = i % 7, row = (i / 7) % 4, plane = i / 28;
        y[i] = x[0][row * 7 + k] != 0 ? x[1][plane * 7 + k] : x[2][k];
      }
      return y;
    };
    c.backward = [](const std::vector<Vec>& x, const Vec& g) {
      Vec ga(35, 0.0), gb(7, 0.0);
      for (std::size_t i = 0; i < 140; ++i) {
        const std::size_t k = i % 7, row = (i / 7) % 4, plane = i / 28;
        (x[0][row * 7 + k] != 0 ? ga[plane * 7 + k] : gb[k]) += g[i];
      }
      return std::vector<Vec>{{}, ga, gb};
    };
    run_op_check(c);
  }
  SECTION("comparisons give 0 and 1; arg positions break ties first or last") {
    Graph g;
    Value a = g.input("a", {2, 4}), b = g.input("b", {4});
    std::vector<Value> outs{equal(a, b),
                            less(a, b),
                            less_equal(a, b),
                            greater(a, b),
                            greater_equal(a, b),
                            argmax(a, 1),
                            argmax(a, 1, true, true),
                            argmin(a, 0),
                            argmin(a, -1, false, true)};
    Executor ex(clnn::test::context(), g, outs, Mode::inference);
    ex.set_input("a", {1, 5, 5, 2, /**/ 3, 3, 0, 0});
    ex.set_input("b", {1, 3, 6, 2});
    ex.forward();
    auto get = [&](std::size_t i) { return ex.value(outs[i]).to_host(); };
    using F = std::vector<float>;
    CHECK(get(0) == F{1, 0, 0, 1, 0, 1, 0, 0});
    CHECK(get(1) == F{0, 0, 1, 0, 0, 0, 1, 1});
    CHECK(get(2) == F{1, 0, 1, 1, 0, 1, 1, 1});
    CHECK(get(3) == F{0, 1, 0, 0, 1, 0, 0, 0});
    CHECK(get(4) == F{1, 1, 0, 1, 1, 1, 0, 0});
    CHECK(get(5) == F{1, 0});  // the first of the tied 5s; the first of the tied 3s
    CHECK(get(6) == F{2, 1});  // the last of them
    CHECK(outs[6].shape() == Shape{2, 1});
    CHECK(get(7) == F{0, 1, 1, 1});
    CHECK(get(8) == F{0, 3});
  }
}

TEST_CASE("reshape flatten and transpose", "[ops][shape]") {
  run_op_check(identity_check({6, 4}, [](const Value& v) { return reshape(v, {3, -1, 2}); }));
  run_op_check(identity_check({2, 3, 4, 5}, [](const Value& v) { return flatten(v); }));
  run_op_check(identity_check({7}, [](const Value& v) { return reshape(v, {7, 1}); }));

  // Element by element, or by blocks where both sides of the transposed pair span half a tile
  // (the last three shapes, with partial blocks and batches): a work-item's (CPUs, row loops)
  // or a work-group's through local memory (GPUs).
  test::RowLoopsOverride style;
  for (bool rows : {false, true})
    for (auto [shape, perm] : std::vector<std::pair<Shape, std::vector<int>>>{
             {{7, 33}, {1, 0}},
             {{2, 3, 4}, {2, 0, 1}},
             {{2, 3, 4, 5}, {3, 1, 0, 2}},
             {{1, 5}, {1, 0}},
             {{33, 17}, {1, 0}},
             {{3, 37, 50}, {0, 2, 1}},
             {{2, 40, 3, 18}, {0, 3, 2, 1}},
             {{2, 3, 8}, {1, 0, 2}},  // the innermost axis kept: four floats at a time
             {{2, 5, 3, 4}, {0, 2, 1, 3}}}) {
      INFO(to_string(shape) << " row loops " << rows);
      style.use(rows);
      run_op_check(test::permute_check(shape, perm));
    }
  Graph g;
  Value x = g.input("x", {2, 3, 4});
  CHECK(flatten(x).shape() == Shape{2, 12});
  CHECK(flatten(x, 2).shape() == Shape{6, 4});
  CHECK(flatten(x, 0).shape() == Shape{1, 24});
  CHECK(transpose(x).shape() == Shape{2, 4, 3});
  CHECK_THROWS_AS(reshape(x, {5, -1}), ShapeError);
  CHECK_THROWS_AS(reshape(x, {-1, -1}), ShapeError);
  CHECK_THROWS_AS(reshape(x, {25}), ShapeError);
  CHECK_THROWS_AS(transpose(x, {0, 0, 1}), ShapeError);
  CHECK_THROWS_AS(transpose(g.input("v", {5})), ShapeError);
}

TEST_CASE("mse_loss", "[ops][loss]") {
  for (Shape shape : {Shape{1}, Shape{64, 1}, Shape{7, 33}}) {
    OpCheck c = clnn::test::mse_check(shape);
    c.forward_tolerance = 1e-5;
    run_op_check(c);
  }
  Graph g;
  CHECK_THROWS_AS(mse_loss(g.input("p", {3, 2}), g.input("t", {2, 3})), ShapeError);
}

TEST_CASE("softmax_cross_entropy", "[ops][loss]") {
  for (auto [rows, classes] :
       std::vector<std::pair<std::int64_t, std::int64_t>>{{1, 1}, {7, 10}, {33, 3}}) {
    OpCheck c;
    c.shapes = {{rows, classes}, {rows}};
    c.differentiable = {true, false};
    c.make = [classes = classes](std::size_t input, std::size_t n, std::uint32_t seed) {
      if (input == 0) return clnn::test::random_vector(n, seed, -4.0f, 4.0f);
      std::vector<float> labels(n);
      for (std::size_t i = 0; i < n; ++i) labels[i] = float((i * 7 + seed) % std::size_t(classes));
      return labels;
    };
    c.build = [](const std::vector<Value>& v) { return softmax_cross_entropy(v[0], v[1]); };
    c.forward = [classes = classes](const std::vector<Vec>& x) {
      return Vec{reference::cross_entropy(x[0], x[1], std::size_t(classes))};
    };
    c.backward = [classes = classes](const std::vector<Vec>& x, const Vec& g) {
      return std::vector<Vec>{
          reference::cross_entropy_backward(x[0], x[1], std::size_t(classes), g[0]), {}};
    };
    run_op_check(c);
  }
}

TEST_CASE("softmax_cross_entropy is stable and flags bad labels", "[ops][loss]") {
  Graph g;
  Value logits = g.input("logits", {2, 3});
  Value labels = g.input("labels", {2});
  Value loss = softmax_cross_entropy(logits, labels);
  Executor ex(clnn::test::context(), g, {loss}, Mode::inference);
  ex.set_input("logits", {1000.0f, 0.0f, -1000.0f, 500.0f, 500.0f, 0.0f});
  ex.set_input("labels", {0.0f, 1.0f});
  ex.forward();
  CHECK(ex.value(loss).to_host()[0] == Approx(std::log(2.0) / 2));
  ex.set_input("labels", {0.0f, 3.0f});
  ex.forward();
  CHECK(std::isnan(ex.value(loss).to_host()[0]));
  CHECK_THROWS_AS(softmax_cross_entropy(g.input("l2", {2, 3}), g.input("y2", {3})), ShapeError);
}

TEST_CASE("long reductions are split across work-groups and stay exact", "[ops][reduce]") {
  // Rows long enough for the two-pass reduction, of lengths that match no piece size.
  for (Shape shape : {Shape{1000003}, Shape{3, 400003}, Shape{2, 5, 70001}}) {
    INFO(to_string(shape));
    const auto host = clnn::test::random_vector(reference::numel(shape), 9);
    Graph g;
    Value x = g.input("x", shape);
    Value total = sum(x);
    Value rows = mean(x, {-1});
    Executor ex(clnn::test::context(), g, {total, rows}, Mode::inference);
    ex.set_input("x", host);
    ex.forward();
    const std::size_t r = std::size_t(shape.back()), outer = host.size() / r;
    Vec want_rows(outer, 0.0);
    double want_total = 0;
    for (std::size_t i = 0; i < host.size(); ++i) {
      want_total += host[i];
      want_rows[i / r] += host[i] / double(r);
    }
    CHECK(clnn::test::relative_error(ex.value(total).to_host(), Vec{want_total}) < 1e-4);
    CHECK(clnn::test::relative_error(ex.value(rows).to_host(), want_rows) < 1e-4);
  }
}
