// The depthwise route (ops/conv_depthwise.hpp): forward and both gradients against the
// double-precision reference (and the reference against finite differences) at awkward sizes,
// the betas of each pass, the weight gradient's pieces under the reduction plans of GPUs and
// CPUs, and which convolutions the route serves.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "conv_checks.hpp"
#include "ops/conv_depthwise.hpp"
#include "plan_override.hpp"

using namespace clnn;
using clnn::detail::ConvRoute;
using clnn::detail::DepthwiseConv;
using clnn::test::context;
using clnn::test::conv_check;
using clnn::test::conv_geometry;
using clnn::test::options;
using clnn::test::relative_error;
using clnn::test::RouteScope;
using clnn::test::run_op_check;
using reference::Vec;
using Case = clnn::test::ConvCase;

namespace {

DepthwiseConv depthwise(const Case& c) {
  return DepthwiseConv{conv_geometry(c.x, c.w, c.o)};
}

// Runs the route's kernels as a GPU does (a work-item per element, work-group trees for the
// weight gradient) or as a CPU does (the *_rows kernels), whatever the device, until it ends;
// optionally under a reduction plan with other limits.
class Style {
 public:
  explicit Style(bool gpu, std::size_t max_serial = 0, std::size_t max_groups = 0)
      : impl_(detail::Access::impl(context())), saved_rows_(impl_.row_loops) {
    impl_.row_loops = !gpu;
    ReductionPlan plan = plans_.planned();
    plan.item_per_row = !gpu;
    if (max_serial) plan.max_serial = max_serial;
    if (max_groups) plan.max_groups = max_groups;
    plans_.use(plan);
  }
  ~Style() { impl_.row_loops = saved_rows_; }
  Style(const Style&) = delete;
  Style& operator=(const Style&) = delete;

 private:
  detail::ContextImpl& impl_;
  const bool saved_rows_;
  clnn::test::ReductionPlanOverride plans_;
};

// Multipliers 1 and 2, strides 1 and 2, pads of 0 and 1 (uneven), dilation 2, 1 to 3
// dimensions, odd extents, 3 and 37 channels, batches of 1 and 3, and 25 and 27 taps (the weight
// gradient's second block of taps ends short of its width).
const std::vector<Case>& cases() {
  static const std::vector<Case> all{
      {{2, 3, 7, 5}, {3, 1, 3, 3}, options({}, {1, 1}, {1, 1}, {}, 3)},          // mobilenet's
      {{1, 3, 7, 5}, {3, 1, 3, 3}, options({2, 2}, {1, 1}, {1, 1}, {}, 3)},      // strided
      {{3, 3, 7, 5}, {6, 1, 3, 3}, options({2, 1}, {1, 0}, {0, 1}, {}, 3)},      // x2, uneven
      {{1, 4, 9, 8}, {8, 1, 3, 2}, options({1, 2}, {0, 1}, {1, 0}, {2, 2}, 4)},  // dilated
      {{3, 37, 7, 5}, {37, 1, 3, 3}, options({2, 2}, {1, 1}, {1, 1}, {}, 37)},   // 37 channels
      {{1, 37, 5, 3}, {74, 1, 3, 3}, options({}, {0, 1}, {1, 0}, {}, 37)},
      {{2, 3, 1, 1}, {3, 1, 3, 3}, options({}, {1, 1}, {1, 1}, {}, 3)},      // 1x1
      {{2, 3, 1, 1}, {6, 1, 1, 1}, options({}, {}, {}, {}, 3)},              // 1x1 filters
      {{2, 2, 8, 7}, {4, 1, 5, 5}, options({2, 1}, {2, 1}, {1, 2}, {}, 2)},  // 25 taps
      {{2, 5, 9, 13}, {5, 1, 7, 7}, options({}, {3, 3}, {3, 3}, {}, 5)},     // convnext's 7 x 7
      {{1, 3, 4, 18}, {3, 1, 3, 5}, options({1, 3}, {1, 4}, {1, 2}, {1, 3}, 3)},  // long lines
      // Lines of 17 and 16 with unit stride, padded at both ends.
      {{2, 3, 3, 17}, {3, 1, 3, 5}, options({}, {1, 2}, {1, 2}, {}, 3)},
      {{1, 2, 2, 16}, {2, 1, 1, 3}, options({}, {0, 1}, {0, 1}, {}, 2)},
      {{1, 2, 5, 11}, {2, 1, 3, 3}, options({}, {1, 2}, {1, 2}, {1, 2}, 2)},  // dilated, shared
      {{3, 4, 11}, {8, 1, 3}, options({2}, {1}, {0}, {2}, 4)},                // 1-D
      {{1, 3, 13}, {3, 1, 4}, options({}, {0}, {1}, {}, 3)},
      {{2, 3, 4, 5, 3}, {6, 1, 3, 3, 3}, options({1, 2, 1}, {1, 0, 1}, {0, 1, 1}, {1, 1, 2}, 3)},
      {{1, 2, 3, 4, 5}, {2, 1, 2, 3, 2}, options({2, 1, 2}, {1, 1, 0}, {0, 1, 1}, {}, 2)},  // 3-D
  };
  return all;
}

// A case's passes run straight on a DepthwiseConv into tensors that already hold `prior`
// (NaN for beta 0, which must never read it): each result against beta * prior + the reference.
void check_betas(const Case& c, float beta, float prior_fill) {
  INFO("x " << to_string(c.x) << " w " << to_string(c.w) << " beta " << beta);
  const DepthwiseConv route = depthwise(c);
  REQUIRE(route.serves());
  const auto g = clnn::test::geometry(c.x, c.w, c.o);
  const Shape y_shape = detail::window_output_shape(route.win, c.w[0]);
  const auto x = clnn::test::random_vector(reference::numel(c.x), 1);
  const auto w = clnn::test::random_vector(reference::numel(c.w), 2);
  const auto b = clnn::test::random_vector(std::size_t(c.w[0]), 3);
  const auto gy = clnn::test::random_vector(reference::numel(y_shape), 4);
  const Vec xd(x.begin(), x.end()), wd(w.begin(), w.end()), bd(b.begin(), b.end()),
      gyd(gy.begin(), gy.end());
  Vec gx_ref, gw_ref, gb_ref;
  reference::conv_backward(g, xd, wd, gyd, gx_ref, gw_ref, gb_ref);
  // The prior contents, and beta * prior + reference.
  auto prior = [&](const Shape& s, std::uint32_t seed) {
    return std::isnan(prior_fill) ? std::vector<float>(reference::numel(s), prior_fill)
                                  : clnn::test::random_vector(reference::numel(s), seed);
  };
  auto expected = [&](const std::vector<float>& before, Vec ref) {
    if (beta != 0.0f)
      for (std::size_t i = 0; i < ref.size(); ++i) ref[i] += double(beta) * double(before[i]);
    return ref;
  };
  const Tensor tx = Tensor::from_host(context(), c.x, x), tw = Tensor::from_host(context(), c.w, w);
  const Tensor tb = Tensor::from_host(context(), {c.w[0]}, b);
  const Tensor tgy = Tensor::from_host(context(), y_shape, gy);

  const auto y0 = prior(y_shape, 5);
  const Tensor ty = Tensor::from_host(context(), y_shape, y0);
  route.forward(tx, tw, &tb, ty, beta, detail::Epilogue{});
  CHECK(relative_error(ty.to_host(), expected(y0, reference::conv(g, xd, wd, &bd))) < 1e-5);

  const auto gx0 = prior(c.x, 6);
  const Tensor tgx = Tensor::from_host(context(), c.x, gx0);
  route.input_gradient(tgy, tw, tgx, beta);
  CHECK(relative_error(tgx.to_host(), expected(gx0, gx_ref)) < 1e-5);

  const auto gw0 = prior(c.w, 7);
  const Tensor tgw = Tensor::from_host(context(), c.w, gw0);
  route.weight_gradient(tx, tgy, tgw, beta);
  CHECK(relative_error(tgw.to_host(), expected(gw0, gw_ref)) < 1e-5);
}

}  // namespace

TEST_CASE("the depthwise route matches the reference", "[conv]") {
  // Through the graph: forward, gradients of x, w and bias, finite differences, NaN-poisoned
  // gradients and repeats (run_op_check), in both styles.
  RouteScope scope(ConvRoute::depthwise);
  for (bool gpu : {false, true}) {
    Style style(gpu);
    for (const Case& c : cases()) {
      INFO("x " << to_string(c.x) << " w " << to_string(c.w) << " GPU style " << gpu);
      CHECK(depthwise(c).serves());
      run_op_check(conv_check(c.x, c.w, c.w[0] % 2 == 0, c.o));
    }
  }
}

TEST_CASE("the depthwise passes take beta 0 without reading and beta 1 by adding", "[conv]") {
  RouteScope scope(ConvRoute::depthwise);
  for (bool gpu : {false, true}) {
    Style style(gpu);
    for (const Case& c : {cases()[2], cases()[8], cases()[9], cases()[11]}) {
      check_betas(c, 0.0f, std::numeric_limits<float>::quiet_NaN());
      check_betas(c, 1.0f, 0.0f);
    }
  }
}

TEST_CASE("the depthwise forward pass applies an epilogue in both styles", "[conv]") {
  RouteScope scope(ConvRoute::depthwise);
  for (bool gpu : {false, true}) {
    Style style(gpu);
    // On CPUs the first two run a plane per work-item, the strided one a line per work-item.
    for (const Case& c : {cases()[0], cases()[11], cases()[1]}) {
      INFO("gpu " << gpu << " x " << to_string(c.x));
      const DepthwiseConv route = depthwise(c);
      const auto g = clnn::test::geometry(c.x, c.w, c.o);
      const Shape y_shape = detail::window_output_shape(route.win, c.w[0]);
      const auto x = clnn::test::random_vector(reference::numel(c.x), 1);
      const auto w = clnn::test::random_vector(reference::numel(c.w), 2);
      const Vec xd(x.begin(), x.end()), wd(w.begin(), w.end());
      Vec expected = reference::conv(g, xd, wd, nullptr);
      for (double& v : expected) v = std::min(std::max(v, -0.25), 0.5);
      const Tensor ty = Tensor::empty(context(), y_shape);
      route.forward(Tensor::from_host(context(), c.x, x), Tensor::from_host(context(), c.w, w),
                    nullptr, ty, 0.0f, detail::Epilogue{true, -0.25f, 0.5f});
      CHECK(relative_error(ty.to_host(), expected) < 1e-5);
    }
  }
}

TEST_CASE("the depthwise passes cut long lines and long sums under every plan", "[conv]") {
  // Long columns (2 x 40 x 40 positions; 2 x 150) cut into pieces whose sums the reduction
  // engine adds, in both styles, with short serial runs (lines in segments of 3, many pieces,
  // several passes) and few groups (each strides over several pieces).
  RouteScope scope(ConvRoute::depthwise);
  const std::vector<Case> long_ones{
      {{2, 3, 40, 40}, {6, 1, 3, 3}, options({}, {1, 1}, {1, 1}, {}, 3)},
      {{2, 3, 301}, {3, 1, 5}, options({2}, {2}, {1}, {2}, 3)},
  };
  for (bool gpu : {false, true})
    for (std::size_t max_serial : {std::size_t(2048), std::size_t(3)})
      for (std::size_t max_groups : {std::size_t(1024), std::size_t(2)}) {
        INFO("GPU style " << gpu << " max_serial " << max_serial << " max_groups " << max_groups);
        Style style(gpu, max_serial, max_groups);
        for (const Case& c : long_ones) {
          check_betas(c, 0.0f, std::numeric_limits<float>::quiet_NaN());
          check_betas(c, 1.0f, 0.0f);
        }
      }
}

TEST_CASE("the depthwise forward rows load lines' padded ends as moved vectors", "[conv]") {
  // Lines of 16 or more whose taps reach 1 to 3 columns past either end (3 x 3, 5 x 5 and 7 x 7
  // filters at stride 1, 3 x 3 at stride 2 from a line of 32 or more), and lines that end on an
  // overlapping segment (beta 0) or on a short one (beta 1), against the reference; pads of 4 and
  // short lines keep the gather. Rows padded other than "same", so that the plane kernel leaves
  // them to the line kernel. At stride 2 with 3 taps from column -1, segments whose 32 columns
  // lie inside the line share a pair of loads among a row's taps (lines of 40 and 64, a
  // multiplier of 2); a segment reaching the last column of an odd line takes the taps' loads.
  RouteScope scope(ConvRoute::depthwise);
  const std::vector<Case> ends{
      {{1, 2, 3, 40}, {2, 1, 3, 3}, options({}, {0, 1}, {0, 1}, {}, 2)},
      {{1, 2, 4, 21}, {2, 1, 5, 5}, options({}, {1, 2}, {0, 2}, {}, 2)},
      {{2, 2, 7, 19}, {4, 1, 7, 7}, options({}, {2, 3}, {2, 3}, {}, 2)},
      {{1, 3, 5, 40}, {3, 1, 3, 3}, options({2, 2}, {1, 1}, {1, 1}, {}, 3)},
      {{2, 2, 5, 64}, {4, 1, 3, 3}, options({2, 2}, {1, 1}, {1, 1}, {}, 2)},
      {{1, 2, 5, 45}, {2, 1, 3, 3}, options({2, 2}, {1, 1}, {1, 1}, {}, 2)},
      {{1, 3, 5, 33}, {3, 1, 3, 3}, options({2, 2}, {1, 1}, {0, 0}, {}, 3)},
      {{1, 2, 9, 18}, {2, 1, 9, 9}, options({}, {3, 4}, {3, 4}, {}, 2)},
      {{1, 2, 3, 16}, {2, 1, 3, 3}, options({}, {0, 1}, {0, 1}, {}, 2)},
  };
  Style style(false);
  for (const Case& c : ends) {
    INFO("x " << to_string(c.x) << " w " << to_string(c.w));
    CHECK(depthwise(c).describe_forward() == "depthwise, a line per work-item");
    check_betas(c, 0.0f, std::numeric_limits<float>::quiet_NaN());
    check_betas(c, 1.0f, 0.0f);
    check_betas(c, 0.5f, 0.0f);
  }
}

TEST_CASE("the depthwise forward planes run whole planes of same-padded layers", "[conv]") {
  // Planes shorter and longer than a segment, of 3x3, 5x5 and 7x7 filters at stride 1 and 2 (even
  // extents), pads uneven, a multiplier of 2, a 1-D line, and the last segment short or whole,
  // each with beta 0, 1 and 0.5, against the reference; then layers the plane kernel must leave
  // to the others.
  RouteScope scope(ConvRoute::depthwise);
  Style style(false);
  const std::vector<Case> planes{
      {{1, 2, 14, 14}, {2, 1, 3, 3}, options({}, {1, 1}, {1, 1}, {}, 2)},      // 196
      {{2, 3, 7, 7}, {6, 1, 3, 3}, options({}, {1, 1}, {1, 1}, {}, 3)},        // x2
      {{1, 2, 2, 2}, {2, 1, 3, 3}, options({}, {1, 1}, {1, 1}, {}, 2)},        // 4 positions
      {{1, 2, 4, 8}, {2, 1, 3, 3}, options({}, {0, 2}, {2, 0}, {}, 2)},        // uneven, 32
      {{1, 3, 9, 9}, {3, 1, 7, 7}, options({}, {3, 3}, {3, 3}, {}, 3)},        // 7 x 7
      {{1, 2, 14, 14}, {2, 1, 3, 3}, options({2, 2}, {1, 1}, {1, 1}, {}, 2)},  // 7 x 7 out
      {{2, 2, 8, 6}, {4, 1, 5, 5}, options({2, 2}, {2, 2}, {2, 2}, {}, 2)},    // 5 x 5, x2
      {{1, 2, 10, 12}, {2, 1, 5, 5}, options({2, 2}, {2, 2}, {1, 1}, {}, 2)},  // uneven
      {{1, 2, 4, 40}, {2, 1, 3, 3}, options({2, 2}, {0, 0}, {1, 1}, {}, 2)},   // 2 x 20
      {{2, 3, 11}, {3, 1, 3}, options({}, {1}, {1}, {}, 3)},                   // 1-D
  };
  for (const Case& c : planes) {
    INFO("x " << to_string(c.x) << " w " << to_string(c.w));
    CHECK(depthwise(c).describe_forward() == "depthwise, a plane per work-item");
    check_betas(c, 0.0f, std::numeric_limits<float>::quiet_NaN());
    check_betas(c, 1.0f, 0.0f);
    check_betas(c, 0.5f, 0.0f);
  }
  // Padding other than "same", odd extents at stride 2, dilation, 3-D, one input plane padded in
  // depth (three output planes), and more taps than the kernel unrolls; each against the
  // reference.
  const std::vector<Case> others{
      cases()[1],
      cases()[3],
      cases()[5],
      cases()[16],
      {{1, 2, 1, 2, 2}, {2, 1, 1, 1, 1}, options({}, {1, 0, 0}, {1, 0, 0}, {}, 2)},
      {{1, 2, 8, 8}, {2, 1, 9, 9}, options({}, {4, 4}, {4, 4}, {}, 2)},
  };
  for (const Case& c : others) {
    INFO("x " << to_string(c.x) << " w " << to_string(c.w));
    CHECK(depthwise(c).describe_forward() != "depthwise, a plane per work-item");
    check_betas(c, 0.0f, std::numeric_limits<float>::quiet_NaN());
  }
  {
    Style gpu(true);
    CHECK(depthwise(planes[0]).describe_forward() == "depthwise");
  }
}

TEST_CASE("the depthwise route serves one group per channel", "[conv]") {
  const Case dw{{2, 3, 7, 5}, {6, 1, 3, 3}, options({}, {1, 1}, {1, 1}, {}, 3)};
  const Case one_channel{{2, 1, 7, 5}, {4, 1, 3, 3}, options({}, {1, 1}, {1, 1}, {})};
  const Case grouped{{2, 4, 7, 5}, {4, 2, 3, 3}, options({}, {1, 1}, {1, 1}, {}, 2)};
  const Case ordinary{{2, 3, 7, 5}, {4, 3, 3, 3}, options({}, {1, 1}, {1, 1}, {})};
  RouteScope scope(ConvRoute::automatic);
  CHECK(depthwise(dw).serves());                 // on every device
  CHECK_FALSE(depthwise(one_channel).serves());  // an ordinary first layer
  CHECK_FALSE(depthwise(grouped).serves());
  CHECK_FALSE(depthwise(ordinary).serves());
  scope.set(ConvRoute::depthwise);
  CHECK(depthwise(dw).serves());
  CHECK(depthwise(one_channel).serves());  // forced, one channel in one group is depthwise
  CHECK_FALSE(depthwise(grouped).serves());
  CHECK_FALSE(depthwise(ordinary).serves());
  run_op_check(conv_check(one_channel.x, one_channel.w, true, one_channel.o));
  for (ConvRoute other : {ConvRoute::columns, ConvRoute::implicit, ConvRoute::direct}) {
    scope.set(other);
    CHECK_FALSE(depthwise(dw).serves());
  }
}
