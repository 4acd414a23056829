// batch_norm (gradients, running statistics, inference), dropout (mask statistics, seeding,
// identity in inference) and concat.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>

#include "op_checks.hpp"
#include "plan_override.hpp"

using namespace clnn;
using clnn::test::context;
using clnn::test::OpCheck;
using clnn::test::random_vector;
using clnn::test::relative_error;
using clnn::test::run_op_check;
using reference::Vec;

TEST_CASE("batch_norm forward and backward in training", "[norm]") {
  // Channels of fewer and of more elements per sample than a work-group has work-items, under
  // the planner's plan and under a tiny one (4 work-items, at most 3 elements each) that cuts
  // channels into pieces as a GPU does long ones: 40 elements into 4, 969 into 80 of 12 and
  // one of 9.
  test::ReductionPlanOverride plan;
  for (const ReductionPlan& use : {plan.planned(), ReductionPlan{4, 3, 3}}) {
    for (Shape x : {Shape{4, 3}, Shape{2, 3, 5, 4}, Shape{3, 2, 3, 2, 2}, Shape{3, 2, 17, 19}}) {
      plan.use(use);
      INFO(to_string(x) << " reduction plan: " << use.local_size << " work-items, "
                        << use.max_serial << " elements each");
      OpCheck check = clnn::test::batch_norm_check(x);
      check.forward_tolerance = 1e-5;
      run_op_check(check);
    }
  }
}

TEST_CASE("a relu or clip after batch_norm folds into it in training", "[norm]") {
  // The executor folds the activation into batch_norm, whose backward masks the gradient where
  // the activation's derivative is 0: checked against batch_norm's reference followed by the
  // activation's, at both step widths (S = 12 and 7), with values on both sides of each bound.
  struct Activation {
    const char* name;
    std::function<Value(const Value&)> build;
    double lo, hi;
    bool passes_lo;
  };
  const Activation activations[] = {
      {"relu", [](const Value& v) { return relu(v); }, 0.0, INFINITY, false},
      {"clip", [](const Value& v) { return clip(v, -0.5f, 1.0f); }, -0.5, 1.0, true}};
  for (const Activation& act : activations) {
    for (Shape x : {Shape{3, 2, 3, 4}, Shape{2, 3, 7}}) {
      INFO(act.name << " after batch_norm of " << to_string(x));
      const long n = long(x[0]), c = long(x[1]);
      const long s = long(reference::numel(x)) / (n * c);
      auto passes = [act](double v) {
        return (act.passes_lo ? v >= act.lo : v > act.lo) && v <= act.hi;
      };
      OpCheck check = clnn::test::batch_norm_check(x);
      check.build = [&](const std::vector<Value>& v) {
        return act.build(batch_norm(v[0], v[1], v[2], v[3], v[4]));
      };
      check.forward = [=](const std::vector<Vec>& in) {
        Vec y = reference::batch_norm_training(in, n, c, s);
        for (double& v : y) v = std::min(std::max(v, act.lo), act.hi);
        return y;
      };
      check.backward = [=](const std::vector<Vec>& in, const Vec& gy) {
        const Vec y = reference::batch_norm_training(in, n, c, s);
        Vec masked = gy;
        for (std::size_t i = 0; i < y.size(); ++i)
          if (!passes(y[i])) masked[i] = 0.0;
        return reference::batch_norm_training_backward(in, masked, n, c, s);
      };
      run_op_check(check);
    }
  }
}

TEST_CASE("batch_norm keeps running statistics and uses them in inference", "[norm]") {
  const Shape xs{4, 3, 2, 2};
  Graph g;
  Value x = g.input("x", xs);
  Value gamma = g.parameter("gamma", {3}, init::constant(1.5f));
  Value beta = g.parameter("beta", {3}, init::constant(-0.5f));
  Value rm = g.state("rm", {3}, init::zeros());
  Value rv = g.state("rv", {3}, init::constant(1.0f));
  Value y = batch_norm(x, gamma, beta, rm, rv, 0.2f, 1e-5f);
  auto host = random_vector(48, 3, -2.0f, 3.0f);

  Executor train(context(), g, {y}, Mode::training);
  train.set_input("x", host);
  train.forward();
  train.forward();  // two steps: the statistics move twice
  Vec xd(host.begin(), host.end()), mean, var;
  reference::channel_stats(xd, 4, 3, 4, mean, var);
  Vec want_mean(3), want_var(3);
  for (std::size_t c = 0; c < 3; ++c) {
    double unbiased = var[c] * 16.0 / 15.0;
    want_mean[c] = 0.8 * (0.8 * 0.0 + 0.2 * mean[c]) + 0.2 * mean[c];
    want_var[c] = 0.8 * (0.8 * 1.0 + 0.2 * unbiased) + 0.2 * unbiased;
  }
  CHECK(relative_error(train.state("rm").to_host(), want_mean) < 1e-5);
  CHECK(relative_error(train.state("rv").to_host(), want_var) < 1e-5);

  Executor infer(context(), g, {y}, Mode::inference);
  infer.set_state("rm", train.state("rm").to_host());
  infer.set_state("rv", train.state("rv").to_host());
  infer.set_input("x", host);
  infer.forward();
  CHECK(relative_error(infer.value(y).to_host(),
                       reference::batch_norm_ref(xd, {1.5, 1.5, 1.5}, {-0.5, -0.5, -0.5}, want_mean,
                                                 want_var, 3, 4, 1e-5)) < 1e-5);
  CHECK(infer.state("rm").to_host() == train.state("rm").to_host());  // inference leaves them

  Graph bad;
  Value bx = bad.input("x", {2, 3});
  Value p = bad.parameter("p", {3}, init::zeros());
  Value out = batch_norm(bx, p, p, p, p);
  CHECK_THROWS_WITH(Executor(context(), bad, {out}, Mode::training),
                    Catch::Contains("must be graph state"));
  CHECK_THROWS_AS(batch_norm(bx, bad.input("q", {2}), p, p, p), ShapeError);
}

TEST_CASE("dropout drops with probability p and is the identity in inference", "[norm]") {
  const std::int64_t n = 200000;
  Graph g;
  Value x = g.parameter("x", {n}, init::constant(1.0f));
  Value y = dropout(x, 0.3f, 42);
  Value r = g.input("R", {n});
  Value loss = sum(mul(y, r));
  Executor ex(context(), g, {y, loss}, Mode::training);
  auto rh = random_vector(std::size_t(n), 5);
  ex.set_input("R", rh);
  ex.forward();
  auto first = ex.value(y).to_host();
  std::size_t zeros = 0, wrongly_scaled = 0;
  for (float v : first) {
    if (v == 0.0f)
      ++zeros;
    else if (std::fabs(v - 1.0 / 0.7) > 1e-6)
      ++wrongly_scaled;
  }
  CHECK(wrongly_scaled == 0);
  CHECK(double(zeros) / double(n) == Approx(0.3).margin(0.005));

  ex.backward(loss);  // the gradient uses forward's mask
  auto grad = ex.gradient(x).to_host();
  std::vector<double> want(first.size());
  for (std::size_t i = 0; i < want.size(); ++i) want[i] = double(rh[i]) * first[i];
  CHECK(relative_error(grad, want) < 1e-6);

  ex.forward();  // a new step draws a new mask
  auto second = ex.value(y).to_host();
  CHECK(second != first);
  Executor again(context(), g, {y}, Mode::training);
  again.forward();
  CHECK(again.value(y).to_host() == first);  // same seed and step, same mask

  Executor infer(context(), g, {y}, Mode::inference);
  infer.forward();
  CHECK(infer.value(y).to_host() == std::vector<float>(std::size_t(n), 1.0f));
  CHECK_THROWS_AS(dropout(x, 1.0f, 1), Error);
  CHECK_THROWS_AS(dropout(x, -0.1f, 1), Error);
}

TEST_CASE("dropout on a shard of a batch draws the whole batch's masks for its rows", "[norm]") {
  auto masked = [](std::int64_t rows, std::uint64_t shard) {
    Graph g;
    Value x = g.parameter("x", {rows, 37}, init::constant(1.0f));
    Value y = dropout(x, 0.5f, 9);
    Executor ex(context(), g, {y}, Mode::training);
    ex.set_shard(shard);
    ex.forward();
    ex.forward();  // the second step's masks
    return ex.value(y).to_host();
  };
  const auto whole = masked(6, 0), first = masked(3, 0), second = masked(3, 1);
  CHECK(first == std::vector<float>(whole.begin(), whole.begin() + 3 * 37));
  CHECK(second == std::vector<float>(whole.begin() + 3 * 37, whole.end()));
  CHECK(first != second);
}

TEST_CASE("concat along an axis", "[norm][shape]") {
  struct Case {
    std::vector<Shape> shapes;
    int axis;
  };
  for (const Case& k :
       std::vector<Case>{{{{2, 3}, {2, 5}}, 1},
                         {{{2, 3}, {4, 3}, {1, 3}}, 0},
                         {{{2, 3, 4}, {2, 1, 4}}, -2},
                         {{{1, 2, 2, 2}, {1, 3, 2, 2}}, 1},
                         // two pairs and one left over (one launch a pair)
                         {{{2, 1, 3}, {2, 2, 3}, {2, 3, 3}, {2, 1, 3}, {2, 2, 3}}, 1}}) {
    const std::size_t axis = std::size_t(k.axis < 0 ? k.axis + int(k.shapes[0].size()) : k.axis);
    OpCheck c;
    c.shapes = k.shapes;
    c.build = [&k](const std::vector<Value>& v) { return concat(v, k.axis); };
    // Blocks of the middle axis, input by input, for each outer index.
    auto split = [&](std::size_t i) { return reference::middle(k.shapes[i], axis, axis + 1); };
    c.forward = [=](const std::vector<Vec>& in) {
      Vec out;
      auto outer = split(0).outer;
      for (std::size_t o = 0; o < outer; ++o)
        for (std::size_t i = 0; i < in.size(); ++i) {
          auto v = split(i);
          out.insert(out.end(), in[i].begin() + long(o * v.r * v.inner),
                     in[i].begin() + long((o + 1) * v.r * v.inner));
        }
      return out;
    };
    c.backward = [=](const std::vector<Vec>& in, const Vec& gy) {
      std::vector<Vec> grads(in.size());
      std::size_t at = 0;
      auto outer = split(0).outer;
      for (std::size_t o = 0; o < outer; ++o)
        for (std::size_t i = 0; i < in.size(); ++i) {
          auto v = split(i);
          grads[i].insert(grads[i].end(), gy.begin() + long(at),
                          gy.begin() + long(at + v.r * v.inner));
          at += v.r * v.inner;
        }
      return grads;
    };
    run_op_check(c);
  }
  Graph g;
  CHECK_THROWS_AS(concat({g.input("a", {2, 3}), g.input("b", {3, 3})}, 1), ShapeError);
  CHECK_THROWS_AS(concat({g.input("c", {2, 3}), g.input("d", {2, 3, 1})}, 0), ShapeError);
  CHECK_THROWS_AS(concat({g.input("e", {2, 3})}, 2), ShapeError);
}

TEST_CASE("layer_norm, instance_norm and group_norm forward and backward", "[norm]") {
  SECTION("layer_norm over the last two axes, rows longer than a work-group") {
    // A GPU's plan: rows of 10 and 96 share work-groups (RowTeams), 37 of them leaving the last
    // group short. A CPU's: a work-item a row.
    for (const bool gpu : {false, true})
      for (Shape x : {Shape{3, 2, 5}, Shape{2, 3, 7, 61}, Shape{37, 2, 48}}) {
        INFO(to_string(x) << " a GPU's plan " << gpu);
        clnn::test::ReductionPlanOverride plan;
        ReductionPlan style = plan.planned();
        style.item_per_row = !gpu;
        plan.use(style);
        const Shape normalized(x.end() - 2, x.end());
        const reference::RowNorm n{std::size_t(element_count(x) / element_count(normalized)),
                                   std::size_t(element_count(normalized)), 1e-3};
        OpCheck c;
        c.shapes = {x, normalized, normalized};
        c.build = [](const std::vector<Value>& v) {
          return layer_norm(v[0], v[1], v[2], -2, 1e-3f);
        };
        c.forward = [=](const std::vector<Vec>& in) {
          return reference::row_norm(n, in[0], in[1], in[2]);
        };
        c.backward = [=](const std::vector<Vec>& in, const Vec& g) {
          return reference::row_norm_backward(n, in[0], in[1], g);
        };
        run_op_check(c);
      }
  }
  SECTION("instance_norm and group_norm") {
    struct Case {
      Shape x;
      std::int64_t groups;  // 0: instance_norm
    };
    for (const Case& k : {Case{{2, 3, 5, 7}, 0}, Case{{2, 6, 5, 3}, 2}, Case{{3, 4, 7}, 1},
                          Case{{1, 6, 2, 2, 3}, 3}}) {
      INFO(to_string(k.x) << " groups " << k.groups);
      const std::size_t c = std::size_t(k.x[1]), groups = k.groups ? std::size_t(k.groups) : c;
      const std::size_t spatial = std::size_t(element_count(k.x)) / std::size_t(k.x[0]) / c;
      const reference::RowNorm n{std::size_t(k.x[0]) * groups, c / groups * spatial, 1e-5, groups,
                                 spatial};
      OpCheck check;
      check.shapes = {k.x, {k.x[1]}, {k.x[1]}};
      const std::int64_t g = k.groups;
      check.build = [g](const std::vector<Value>& v) {
        return g ? group_norm(v[0], g, v[1], v[2]) : instance_norm(v[0], v[1], v[2]);
      };
      check.forward = [=](const std::vector<Vec>& in) {
        return reference::row_norm(n, in[0], in[1], in[2]);
      };
      check.backward = [=](const std::vector<Vec>& in, const Vec& gy) {
        return reference::row_norm_backward(n, in[0], in[1], gy);
      };
      run_op_check(check);
    }
  }
  Graph g;
  Value x = g.input("x", {2, 3, 4});
  CHECK_THROWS_AS(layer_norm(x, g.parameter("w", {3, 4}, init::zeros()), std::nullopt, -1),
                  ShapeError);
  CHECK_THROWS_AS(
      instance_norm(x, g.parameter("c", {4}, init::zeros()), g.parameter("d", {3}, init::zeros())),
      ShapeError);
  const Value gamma = g.parameter("e", {3}, init::zeros()),
              beta = g.parameter("f", {3}, init::zeros());
  CHECK_THROWS_AS(group_norm(x, 2, gamma, beta), ShapeError);  // 2 groups of 3 channels
  CHECK_THROWS_AS(group_norm(x, 0, gamma, beta), ShapeError);
}
