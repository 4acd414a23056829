// The reduction engine (ops/reduction.hpp) against the double-precision reference: middle-axis
// sums with and without weights, chains of passes, sums of broadcast gradients to a shape, and
// the trainer's count of correct predictions.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "context_impl.hpp"
#include "nn/accuracy.hpp"
#include "op_harness.hpp"
#include "ops/reduction.hpp"
#include "plan_override.hpp"
#include "reference/ops.hpp"

using namespace clnn;
using clnn::test::context;
using clnn::test::random_vector;
using reference::Vec;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// The error a float sum of terms may carry: a work-item adds at most max_serial terms in a row,
// then trees and later passes add a few dozen roundings more, each at most 2^-24 of the sum of
// the magnitudes.
double sum_tolerance(std::size_t max_serial, double magnitude) {
  return double(max_serial + 64) * std::ldexp(1.0, -24) * magnitude + 1e-30;
}

// y (outer x inner) = beta * y + s * the sum over r of x (times w) from x_offset on, on the
// device through `run`, checked against the reference element by element.
template <typename Run>
void check_middle(detail::MiddleAxis v, bool weighted, float s, float beta, std::size_t x_offset,
                  std::size_t max_serial, Run run) {
  INFO("outer " << v.outer << " r " << v.r << " inner " << v.inner << " weighted " << weighted
                << " beta " << beta << " offset " << x_offset);
  const std::size_t n = v.outer * v.r * v.inner;
  const auto x = random_vector(x_offset + n, 11), w = random_vector(x_offset + n, 12);
  const auto y0 = random_vector(v.outer * v.inner, 13);
  Tensor xd = Tensor::from_host(context(), {std::int64_t(x.size())}, x);
  Tensor wd = Tensor::from_host(context(), {std::int64_t(w.size())}, w);
  Tensor yd = Tensor::from_host(context(), {std::int64_t(y0.size())},
                                beta == 0.0f ? std::vector<float>(y0.size(), kNaN) : y0);
  run(xd, weighted ? &wd : nullptr, yd);
  const auto y = yd.to_host();
  for (std::size_t o = 0; o < v.outer; ++o)
    for (std::size_t k = 0; k < v.inner; ++k) {
      double sum = 0, magnitude = 0;
      for (std::size_t j = 0; j < v.r; ++j) {
        const std::size_t at = x_offset + (o * v.r + j) * v.inner + k;
        const double term = double(x[at]) * (weighted ? double(w[at]) : 1.0);
        sum += term;
        magnitude += std::abs(term);
      }
      const std::size_t i = o * v.inner + k;
      const double expected = s * sum + (beta == 0.0f ? 0.0 : double(beta) * y0[i]);
      INFO("output " << i);
      REQUIRE(std::abs(double(y[i]) - expected) <=
              sum_tolerance(max_serial, std::abs(s) * magnitude + std::abs(beta * y0[i])));
    }
}

}  // namespace

TEST_CASE("reduce_middle sums rows and strided runs of every length", "[reduction]") {
  auto& ctx = detail::Access::impl(context());
  const std::size_t max_serial = ctx.reduction_plan.max_serial;
  // Under the device's plan and a GPU's (rows: a work-group each).
  test::ReductionPlanOverride plan;
  for (const ReductionPlan& use : {plan.planned(), plan.as_gpu()})
    for (std::size_t r : {1, 3, 127, 50001})
      for (std::size_t inner : {1, 3, 127}) {
        if (r * inner > 1000000) continue;  // 50,001 x 127 adds nothing but time
        plan.use(use);
        // 517 short rows: several share a work-group, and groups stride over the rest.
        for (std::size_t outer : {1, 3, 517}) {
          if (outer * r * inner > 1000000) continue;
          for (bool weighted : {false, true})
            for (float beta : {0.0f, 1.0f})
              check_middle({outer, r, inner}, weighted, 0.5f, beta, 0, max_serial,
                           [&](const Tensor& x, const Tensor* w, const Tensor& y) {
                             detail::reduce_middle(ctx, x, w, y, {outer, r, inner}, 0.5f, beta);
                           });
        }
      }
  check_middle({2, 127, 3}, true, -1.5f, 1.0f, 7, max_serial,
               [&](const Tensor& x, const Tensor* w, const Tensor& y) {
                 detail::reduce_middle(ctx, x, w, y, {2, 127, 3}, -1.5f, 1.0f, 7);
               });
}

TEST_CASE("a small reduction plan chains many passes through scratch", "[reduction]") {
  auto& ctx = detail::Access::impl(context());
  // Four work-items a group, three groups, three elements a work-item: 50,001 elements per
  // output take five passes as rows and ten strided. One work-item of one element: every pass
  // halves the run, so the chain still ends (about sixteen passes).
  for (const ReductionPlan& tiny : {ReductionPlan{4, 3, 3}, ReductionPlan{1, 3, 1}})
    for (std::size_t inner : {1, 3})
      for (std::size_t r : {1, 3, 127, 50001})
        for (std::size_t outer : {2, 37})
          for (float beta : {0.0f, 1.0f}) {
            if (outer * r > 100000) continue;
            check_middle({outer, r, inner}, inner == 1, 2.0f, beta, 5, tiny.max_serial,
                         [&](const Tensor& x, const Tensor* w, const Tensor& y) {
                           detail::ReductionPasses passes(tiny);
                           passes.sum_middle({detail::Place::Of::input, 5}, w != nullptr,
                                             {outer, r, inner}, {detail::Place::Of::output, 0},
                                             2.0f, beta);
                           passes.run(ctx, detail::Access::mem(x), detail::Access::mem(w ? *w : x),
                                      detail::Access::mem(y));
                         });
          }
}

TEST_CASE("sum_to_shape folds a broadcast gradient back to its operand", "[reduction]") {
  auto& ctx = detail::Access::impl(context());
  const Shape out{3, 5, 7, 11};
  const std::vector<Shape> targets{{1, 5, 1, 11}, {3, 1, 7, 1}, {1, 1, 1, 1}, {3, 5, 7, 11},
                                   {1, 5, 7, 1},  {3, 5, 7, 1}, {1, 1, 7, 11}};
  auto check = [&](const Shape& from, const Shape& to, float beta) {
    INFO("from " << to_string(from) << " to " << to_string(to) << " beta " << beta);
    const auto src = random_vector(std::size_t(element_count(from)), 21);
    const auto dst0 = random_vector(std::size_t(element_count(to)), 22);
    std::vector<bool> reduced;
    for (std::size_t d = 0; d < from.size(); ++d) reduced.push_back(to[d] != from[d]);
    Shape kept;
    const Vec expected = reference::sum_axes(Vec(src.begin(), src.end()), from, reduced, kept);
    Vec magnitude_src(src.size());
    for (std::size_t i = 0; i < src.size(); ++i) magnitude_src[i] = std::abs(src[i]);
    const Vec magnitude = reference::sum_axes(magnitude_src, from, reduced, kept);
    Tensor s = Tensor::from_host(context(), from, src);
    Tensor d = Tensor::from_host(context(), to,
                                 beta == 0.0f ? std::vector<float>(dst0.size(), kNaN) : dst0);
    detail::sum_to_shape(ctx, s, from, d, to, beta);
    const auto got = d.to_host();
    for (std::size_t i = 0; i < got.size(); ++i) {
      INFO("element " << i);
      const double want = expected[i] + (beta == 0.0f ? 0.0 : double(beta) * dst0[i]);
      REQUIRE(std::abs(double(got[i]) - want) <=
              sum_tolerance(ctx.reduction_plan.max_serial, magnitude[i] + std::abs(dst0[i])));
    }
  };
  for (const Shape& to : targets)
    for (float beta : {0.0f, 1.0f}) check(out, to, beta);
  // A convolution's bias gradient: every sample and position of each channel.
  for (std::int64_t positions : {1, 3, 127, 50001}) {
    check({3, 4, positions}, {1, 4, 1}, 0.0f);
    check({3, 4, positions}, {1, 4, 1}, 1.0f);
  }
}

TEST_CASE("count_correct adds the rows whose first largest logit is the label", "[reduction]") {
  auto& ctx = detail::Access::impl(context());
  for (std::size_t rows : {1, 3, 127, 50001})
    for (std::size_t classes : {1, 3, 10}) {
      INFO("rows " << rows << " classes " << classes);
      auto logits = random_vector(rows * classes, 31);
      std::vector<float> labels(rows);
      double expected = 5;  // the counter's value before
      for (std::size_t b = 0; b < rows; ++b) {
        if (b % 7 == 0 && classes > 1) logits[b * classes + 1] = logits[b * classes];  // a tie
        std::size_t best = 0;
        for (std::size_t c = 1; c < classes; ++c)
          if (logits[b * classes + c] > logits[b * classes + best]) best = c;
        labels[b] = float(b % 2 == 0 ? best : (b * 5) % classes);
        expected += labels[b] == float(best);
      }
      Tensor l = Tensor::from_host(context(), {std::int64_t(rows), std::int64_t(classes)}, logits);
      Tensor y = Tensor::from_host(context(), {std::int64_t(rows)}, labels);
      Tensor counter = Tensor::from_host(context(), {1}, {5.0f});
      detail::count_correct(ctx, l, y, counter);
      CHECK(counter.to_host()[0] == float(expected));
    }
}
