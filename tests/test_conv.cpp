// Convolution in 1, 2 and 3 dimensions: forward and the gradients of input, weights and bias
// against the double-precision reference, and the shapes it rejects.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>

#include "cl/profiler.hpp"
#include "context_impl.hpp"
#include "conv_checks.hpp"
#include "op_harness.hpp"
#include "ops/conv_depthwise.hpp"
#include "ops/conv_direct.hpp"
#include "ops/conv_implicit.hpp"
#include "ops/conv_padded.hpp"
#include "ops/conv_pointwise.hpp"
#include "ops/conv_shifted.hpp"
#include "ops/conv_winograd.hpp"
#include "ops/gemm_host.hpp"
#include "ops/spatial.hpp"
#include "ops/winograd_transform.hpp"
#include "plan_override.hpp"
#include "reference/conv.hpp"

using namespace clnn;
using clnn::test::conv_check;
using clnn::test::conv_geometry;
using clnn::test::geometry;
using clnn::test::OpCheck;
using clnn::test::options;
using clnn::test::RouteScope;
using clnn::test::run_op_check;
using clnn::test::twice;
using reference::Vec;
using Case = clnn::test::ConvCase;

TEST_CASE("conv2d: padding and bias", "[conv]") {
  run_op_check(conv_check({2, 3, 7, 6}, {4, 3, 3, 3}, true, options({}, {1, 1}, {1, 1}, {})));
  run_op_check(conv_check({1, 1, 5, 5}, {1, 1, 5, 5}, false, {}));  // kernel = input, batch 1
  run_op_check(conv_check({3, 2, 4, 9}, {5, 2, 1, 1}, true, {}));   // 1x1
}

TEST_CASE("a relu after a convolution folds into it in training", "[conv]") {
  // The executor folds the relu into the convolution, whose backward masks the gradient where the
  // output is 0: checked against the reference convolution followed by relu, on each route that
  // takes the geometry (the 3x3 case on every route of a 3x3 window; 1x1 and depthwise on their
  // own), with the gradients written and then added to (twice).
  using detail::ConvRoute;
  struct RouteCase {
    ConvRoute route;
    Shape x, w;
    ConvOptions o;
  };
  const ConvOptions same = options({}, {1, 1}, {1, 1}, {});
  const std::vector<RouteCase> cases{
      {ConvRoute::automatic, {2, 3, 7, 6}, {4, 3, 3, 3}, same},
      {ConvRoute::columns, {2, 3, 7, 6}, {4, 3, 3, 3}, same},
      {ConvRoute::implicit, {2, 3, 7, 6}, {4, 3, 3, 3}, same},
      {ConvRoute::winograd, {2, 3, 7, 6}, {4, 3, 3, 3}, same},
      {ConvRoute::padded, {2, 3, 7, 6}, {4, 3, 3, 3}, same},
      {ConvRoute::pointwise, {2, 4, 5, 3}, {6, 4, 1, 1}, {}},
      {ConvRoute::depthwise, {2, 3, 6, 5}, {3, 1, 3, 3}, options({}, {1, 1}, {1, 1}, {}, 3)},
  };
  for (const RouteCase& c : cases) {
    INFO("route " << int(c.route) << ", x " << to_string(c.x) << " w " << to_string(c.w));
    RouteScope scope(c.route);
    const OpCheck check = clnn::test::relu_after(conv_check(c.x, c.w, true, c.o));
    CHECK(clnn::test::training_routes(check)["relu_1 forward"] == "folded into 'conv_1'");
    run_op_check(check);
    run_op_check(twice(check));
  }
  SECTION("a clip stays a node of its own: its derivative cannot be read from the output") {
    const Shape xs{2, 3, 7, 6}, ws{4, 3, 3, 3};
    const OpCheck check = clnn::test::clip_after(conv_check(xs, ws, true, same), 0.0, 0.5);
    auto by = clnn::test::training_routes(check);
    REQUIRE(by.count("clip_1 forward") == 1);
    CHECK(by["clip_1 forward"].empty());
    run_op_check(check);
  }
}

TEST_CASE("conv2d: strides, asymmetric pads and dilation", "[conv]") {
  run_op_check(conv_check({2, 3, 9, 8}, {4, 3, 3, 2}, true, options({2, 1}, {1, 0}, {0, 2}, {})));
  run_op_check(
      conv_check({2, 2, 11, 10}, {3, 2, 3, 3}, true, options({1, 2}, {2, 1}, {1, 2}, {2, 3})));
}

TEST_CASE("conv2d: groups and depthwise", "[conv]") {
  run_op_check(conv_check({2, 4, 6, 7}, {6, 2, 3, 3}, true, options({}, {1, 1}, {1, 1}, {}, 2)));
  run_op_check(conv_check({2, 3, 6, 5}, {3, 1, 3, 3}, true, options({}, {1, 1}, {1, 1}, {}, 3)));
  run_op_check(
      conv_check({1, 3, 6, 5}, {6, 1, 3, 2}, false, options({2, 1}, {1, 0}, {0, 1}, {}, 3)));
}

TEST_CASE("conv1d", "[conv]") {
  run_op_check(conv_check({2, 3, 11}, {2, 3, 3}, true, options({2}, {1}, {0}, {})));
  run_op_check(conv_check({3, 4, 13}, {4, 2, 4}, true, options({1}, {0}, {3}, {2}, 2)));
}

TEST_CASE("conv3d: strides, asymmetric pads, dilation and groups", "[conv]") {
  run_op_check(conv_check({2, 2, 5, 4, 5}, {3, 2, 3, 3, 3}, true,
                          options({1, 2, 1}, {1, 1, 0}, {0, 1, 2}, {1, 1, 2})));
  run_op_check(conv_check({1, 4, 4, 5, 3}, {4, 1, 2, 3, 2}, true,
                          options({2, 1, 1}, {0, 1, 1}, {1, 1, 0}, {}, 4)));
}

TEST_CASE("both column-building kernels match the reference", "[conv]") {
  // vol2col (a work-item per output position, GPUs) and vol2col_rows (per line, CPUs): the
  // device picks one; each is checked here whatever the device.
  auto& impl = clnn::detail::Access::impl(clnn::test::context());
  const bool saved = impl.row_loops;
  for (bool rows : {false, true}) {
    INFO("row loops " << rows);
    impl.row_loops = rows;
    run_op_check(conv_check({2, 3, 7, 6}, {4, 3, 3, 3}, true, options({}, {1, 1}, {1, 1}, {})));
    run_op_check(
        conv_check({2, 2, 11, 10}, {3, 2, 3, 3}, true, options({1, 2}, {2, 1}, {1, 2}, {2, 3})));
    run_op_check(conv_check({2, 4, 6, 7}, {6, 2, 3, 3}, true, options({}, {1, 1}, {1, 1}, {}, 2)));
    run_op_check(conv_check({2, 2, 5, 4, 5}, {3, 2, 3, 3, 3}, true,
                            options({1, 2, 1}, {1, 1, 0}, {0, 1, 2}, {1, 1, 2})));
  }
  impl.row_loops = saved;
}

TEST_CASE("the implicit GEMM matches the reference", "[conv][slow]") {
  // Forward and input gradient through matmul_vec4.cl's CONV_GATHER, whatever the device (a CPU
  // runs it when told to). Output rows of 4k positions are stored as float4s, others (6, 5, 10)
  // element by element from rows padded to a multiple of 4. Channel counts that are multiples of
  // the k-step gather a whole tap per step, others row by row. Unit strides along W spread each
  // work-item's four columns across the tile (LANES_APART); the cases strided along W keep them
  // side by side, row by row (2-D) and a whole tap per step (3-D).
  using clnn::detail::ConvRoute;
  RouteScope scope(ConvRoute::implicit);
  auto implicit = [](const Shape& x, const Shape& w, const ConvOptions& o) {
    return clnn::detail::ImplicitConv{conv_geometry(x, w, o)};
  };
  struct ImplicitCase {
    Shape x, w;
    ConvOptions o;
    bool input_gradient;  // whether that runs implicitly too
  };
  const std::vector<ImplicitCase> cases{
      {{2, 3, 8, 6}, {4, 3, 3, 3}, options({}, {1, 1}, {1, 1}, {}), true},     // rows of 27 taps
      {{3, 4, 6, 6}, {5, 4, 3, 3}, options({}, {1, 1}, {1, 1}, {}), true},     // aligned rows of 36
      {{2, 4, 12, 12}, {40, 4, 3, 3}, options({}, {1, 1}, {1, 1}, {}), true},  // several blocks
      {{2, 2, 12, 10}, {3, 2, 3, 3}, options({}, {2, 1}, {2, 3}, {2, 3}), true},  // dilated
      {{2, 4, 6, 6}, {6, 2, 3, 3}, options({}, {1, 1}, {1, 1}, {}, 2), true},     // groups
      {{2, 3, 6, 6}, {3, 1, 3, 3}, options({}, {1, 1}, {1, 1}, {}, 3), true},     // depthwise
      {{2, 3, 8, 8}, {4, 3, 3, 3}, options({2, 2}, {1, 1}, {1, 1}, {}), false},   // strided
      {{2, 3, 12}, {2, 3, 3}, options({}, {1}, {1}, {}), true},                   // 1-D
      {{1, 2, 5, 5}, {2, 2, 3, 3}, options({}, {1, 1}, {1, 1}, {}), true},        // rows of 5 in 8
      {{2, 2, 4, 4, 5}, {3, 2, 3, 3, 3}, options({}, {1, 1, 1}, {1, 1, 1}, {}), true},  // 3-D
      // Channels per tap in whole k-steps (WHOLE_TAPS) where the step is 8 (CPUs) or 16 too:
      {{2, 16, 7, 6}, {12, 16, 3, 3}, options({}, {1, 1}, {1, 1}, {}), true},
      {{2, 16, 6, 5}, {16, 8, 3, 3}, options({}, {2, 2}, {2, 2}, {2, 2}, 2), true},  // dilated
      {{1, 8, 4, 5, 6}, {8, 8, 3, 3, 3}, options({1, 2, 2}, {1, 1, 1}, {1, 1, 1}, {}), false},
      // One block over 576 rows: split into slices of K, forward and input gradient.
      {{1, 64, 4, 4}, {8, 64, 3, 3}, options({}, {1, 1}, {1, 1}, {}), true},
      {{1, 8, 4, 4}, {64, 8, 3, 3}, options({}, {1, 1}, {1, 1}, {}), true},
  };
  for (const ImplicitCase& c : cases) {
    INFO("x " << to_string(c.x) << " w " << to_string(c.w));
    CHECK(implicit(c.x, c.w, c.o).serves_forward());
    CHECK(implicit(c.x, c.w, c.o).serves_input_gradient() == c.input_gradient);
    run_op_check(conv_check(c.x, c.w, true, c.o));
  }
  scope.set(ConvRoute::columns);
  CHECK_FALSE(implicit({2, 3, 8, 6}, {4, 3, 3, 3}, options({}, {1, 1}, {1, 1}, {})).serves_forward());
}

TEST_CASE("the padded direct convolution matches the reference", "[conv]") {
  // Forward and both gradients through conv_padded.cl, whatever the device (CPUs take it
  // unforced). Output lines shorter and longer than a vector, filter counts of every power of two
  // the plan blocks them in, taps in one block and in several (5 x 5, 3 x 3 x 3), 1-, 2- and 3-D,
  // dilation and asymmetric pads; the bias gradient is a channel sum. Then strided forwards, the
  // stem's 49 taps in loops (windows of up to 9 taps are unrolled, larger ones loop).
  using clnn::detail::ConvRoute;
  RouteScope scope(ConvRoute::padded);
  auto padded = [](const Shape& x, const Shape& w, const ConvOptions& o) {
    return clnn::detail::PaddedConv{conv_geometry(x, w, o)};
  };
  const std::vector<Case> cases{
      {{2, 3, 7, 6}, {4, 3, 3, 3}, options({}, {1, 1}, {1, 1}, {})},
      {{1, 32, 5, 5}, {4, 32, 3, 3}, options({}, {1, 1}, {1, 1}, {})},   // input gradient: 2 blocks
      {{1, 1, 12, 12}, {16, 1, 5, 5}, options({}, {2, 2}, {2, 2}, {})},  // 5x5 as the main job's
      {{1, 2, 6, 6}, {32, 2, 5, 5}, options({}, {2, 2}, {2, 2}, {})},
      {{1, 5, 9, 37}, {6, 5, 3, 2}, options({}, {0, 1}, {2, 0}, {})},       // rows of 37 in 38
      {{2, 2, 11, 10}, {3, 2, 3, 3}, options({}, {2, 1}, {1, 2}, {2, 3})},  // dilated
      {{3, 4, 5, 9}, {5, 4, 1, 1}, {}},                                     // 1x1, 5 filters
      {{2, 4, 3, 32}, {5, 4, 1, 1}, {}},  // rows of whole vectors with no pad between them
      {{2, 3, 13}, {8, 3, 4}, options({}, {1}, {2}, {2})},  // 1-D, dilated
      {{2, 2, 5, 4, 5}, {3, 2, 3, 3, 3}, options({}, {1, 1, 0}, {0, 1, 2}, {1, 1, 2})},  // 3-D
  };
  // The routes an executor's schedule names for the passes (with the convolution's own
  // workspace): forward, then "x: ...; w: ...; bias: ...".
  auto routes = [](const Case& c) {
    Graph g;
    Value x = g.parameter("x", c.x, init::zeros());
    Value w = g.parameter("w", c.w, init::zeros());
    Value y = conv(x, w, g.parameter("b", {c.w[0]}, init::zeros()), c.o);
    Executor ex(clnn::test::context(), g, {sum(y)}, Mode::training);
    std::map<std::string, std::string> by;
    for (const auto& p : ex.schedule()) by[p.op + " " + p.pass] = p.route;
    return std::pair{by["conv forward"], by["conv backward"]};
  };
  for (const Case& c : cases) {
    INFO("x " << to_string(c.x) << " w " << to_string(c.w));
    const auto [forward, backward] = routes(c);
    CHECK_THAT(forward, Catch::StartsWith("padded direct"));
    // Each pass names its own plan: the input gradient's (a convolution of gy into the input's
    // channels), the weight gradient's blocks of filters and taps.
    CHECK_THAT(backward, Catch::Matches("x: padded direct, \\d+ vectors of \\d+ positions by "
                                        "\\d+ filters; w: padded direct, \\d+ filters by \\d+ "
                                        "taps; bias: channel sums"));
    run_op_check(conv_check(c.x, c.w, true, c.o));
    // Gradients that a second pass adds to (beta 1): x and w shared by two convolutions.
    if (c.x[1] >= 4) run_op_check(twice(conv_check(c.x, c.w, false, c.o)));
  }
  // A pad wider than the window's reach leaves the input gradient to the other routes.
  const Case wide{{2, 3, 5, 5}, {4, 3, 1, 3}, options({}, {1, 1}, {1, 1}, {})};
  CHECK_THAT(routes(wide).second, Catch::StartsWith("x: columns + GEMM") &&
                                      Catch::Contains("w: padded direct"));
  run_op_check(conv_check(wide.x, wide.w, true, wide.o));
  // Strided forward passes (their gradients keep to the other routes): the copy dealt into the
  // strides' phases, 2 and 3, along each dimension.
  const std::vector<Case> strided{
      {{2, 3, 9, 8}, {4, 3, 3, 3}, options({2, 2}, {1, 1}, {1, 1}, {})},
      {{1, 3, 15, 14}, {16, 3, 7, 7}, options({2, 2}, {3, 3}, {3, 3}, {})},  // a ResNet's stem
      {{2, 8, 8, 7}, {16, 8, 1, 1}, options({2, 2}, {0, 0}, {0, 0}, {})},    // its downsampling
      {{2, 3, 10, 9}, {5, 3, 3, 3}, options({2, 1}, {1, 1}, {1, 1}, {})},
      {{2, 3, 9, 10}, {5, 3, 3, 3}, options({1, 2}, {1, 1}, {0, 1}, {})},
      {{1, 2, 13, 8}, {3, 2, 3, 3}, options({3, 1}, {1, 1}, {1, 1}, {})},
      {{2, 3, 8, 11}, {4, 3, 2, 5}, options({1, 3}, {1, 2}, {0, 1}, {})},
      {{1, 2, 11, 12}, {3, 2, 3, 3}, options({2, 2}, {2, 2}, {2, 2}, {2, 2})},  // dilated
      {{2, 3, 17}, {4, 3, 3}, options({2}, {1}, {1}, {})},                      // 1-D
      // Rows of 32 columns and more: the stride-2 copy takes 16 a step from two vector loads.
      {{1, 3, 5, 70}, {8, 3, 3, 3}, options({2, 2}, {1, 1}, {1, 1}, {})},  // a first layer's
      {{1, 3, 5, 67}, {8, 3, 3, 3}, options({2, 2}, {0, 0}, {0, 0}, {})},  // squeezenet1_1's
      {{2, 2, 77}, {4, 2, 3}, options({2}, {1}, {1}, {})},
      {{1, 2, 7, 6, 9}, {3, 2, 3, 3, 3}, options({2, 2, 2}, {1, 1, 1}, {1, 1, 1}, {})},  // 3-D
  };
  for (const Case& c : strided) {
    INFO("strided: x " << to_string(c.x) << " w " << to_string(c.w));
    CHECK(padded(c.x, c.w, c.o).serves_forward(std::size_t{1} << 24));
    CHECK_FALSE(padded(c.x, c.w, c.o).serves_input_gradient(std::size_t{1} << 24));
    CHECK_FALSE(padded(c.x, c.w, c.o).serves_weight_gradient(std::size_t{1} << 24));
    CHECK_THAT(routes(c).first, Catch::StartsWith("padded direct"));
    run_op_check(conv_check(c.x, c.w, true, c.o));
  }
  // Blocks of filters first in the grid, where a sample's copy (here over 3 MB) overflows half of
  // a core's cache (PoCL's local memory) and the filters take less: unit stride and stride 2,
  // forward against the reference.
  auto& impl = clnn::detail::Access::impl(clnn::test::context());
  CHECK(impl.planner.padded_filters_first(4 * 12 * 132 * 132, 8 * 4 * 27) ==
        (impl.info.type == DeviceType::cpu));
  for (const Case& c : std::vector<Case>{
           {{1, 4, 10, 130, 130}, {8, 4, 3, 3, 3}, options({}, {1, 1, 1}, {1, 1, 1}, {})},
           {{1, 4, 10, 130, 130}, {8, 4, 3, 3, 3}, options({2, 2, 2}, {1, 1, 1}, {1, 1, 1}, {})}}) {
    INFO("filters first: x " << to_string(c.x) << " w " << to_string(c.w));
    Graph g;
    Value x = g.input("x", c.x);
    Value w = g.parameter("w", c.w, init::uniform(-1.0f, 1.0f, 3));
    Value y = conv(x, w, std::nullopt, c.o);
    Executor ex(clnn::test::context(), g, {y}, Mode::inference);
    const std::vector<float> xs = clnn::test::random_vector(std::size_t(element_count(c.x)), 4);
    ex.set_input("x", xs);
    ex.forward();
    const std::vector<float> ws = ex.parameter("w").to_host();
    const reference::Vec want =
        reference::conv(clnn::test::geometry(c.x, c.w, c.o), reference::Vec(xs.begin(), xs.end()),
                        reference::Vec(ws.begin(), ws.end()), nullptr);
    CHECK(clnn::test::relative_error(ex.value(y).to_host(), want) < 1e-5);
  }
  // Groups keep to the other routes; so does a copy larger than the workspace.
  CHECK_FALSE(padded({2, 4, 6, 6}, {6, 2, 3, 3}, options({}, {1, 1}, {1, 1}, {}, 2))
                  .serves_forward(std::size_t{1} << 24));
  CHECK_FALSE(padded({2, 3, 7, 6}, {4, 3, 3, 3}, options({}, {1, 1}, {1, 1}, {}))
                  .serves_forward(100));
}

TEST_CASE("the pointwise convolution matches the reference", "[conv]") {
  // 1x1 convolutions as products of each sample's plane, whatever the device (CPUs take them
  // unforced): 1-, 2- and 3-D, one sample and several, one filter and many, with a bias and
  // without, gradients that a second pass adds to, and relu folded into the forward.
  using clnn::detail::ConvRoute;
  RouteScope scope(ConvRoute::pointwise);
  auto pointwise = [](const Shape& x, const Shape& w, const ConvOptions& o) {
    return clnn::detail::PointwiseConv{conv_geometry(x, w, o)};
  };
  const std::vector<Case> cases{
      {{3, 4, 5, 9}, {5, 4, 1, 1}, {}},
      {{1, 16, 7, 7}, {1, 16, 1, 1}, {}},
      {{2, 3, 13}, {8, 3, 1}, {}},
      {{2, 2, 3, 4, 5}, {6, 2, 1, 1, 1}, options({}, {0, 0, 0}, {0, 0, 0}, {2, 2, 2})},  // dilated
  };
  for (const Case& c : cases) {
    INFO("x " << to_string(c.x) << " w " << to_string(c.w));
    Graph g;
    Value x = g.parameter("x", c.x, init::uniform(-1.0f, 1.0f, 1));
    Value w = g.parameter("w", c.w, init::uniform(-1.0f, 1.0f, 2));
    Value b = g.parameter("b", {c.w[0]}, init::uniform(-1.0f, 1.0f, 3));
    Value y = conv(x, w, b, c.o);
    Executor ex(clnn::test::context(), g, {sum(y)}, Mode::training);
    std::map<std::string, std::string> by;
    for (const auto& p : ex.schedule()) by[p.op + " " + p.pass] = p.route;
    CHECK(by["conv forward"] == "pointwise GEMM");
    CHECK(by["conv backward"] == "x: pointwise GEMM; w: pointwise GEMM; bias: channel sums");
    run_op_check(conv_check(c.x, c.w, true, c.o));
    run_op_check(conv_check(c.x, c.w, false, c.o));
    run_op_check(twice(conv_check(c.x, c.w, false, c.o)));
    // relu folded into the forward (its own pass over y) gives what the column route gives.
    Value r = relu(y);
    auto folded = [&](ConvRoute route) {
      scope.set(route);
      Executor inference(clnn::test::context(), g, {r}, Mode::inference);
      inference.forward();
      return std::pair{inference.value(r).to_host(), inference.schedule()[0].route};
    };
    const auto [got, route] = folded(ConvRoute::pointwise);
    CHECK(route == "pointwise GEMM, activation folded in");
    CHECK(clnn::test::relative_error(got, folded(ConvRoute::columns).first) < 1e-5);
    scope.set(ConvRoute::pointwise);
  }
  // Other taps, strides, pads and groups keep to the other routes.
  CHECK(pointwise({2, 4, 6, 6}, {6, 4, 1, 1}, {}).serves_forward());
  CHECK_FALSE(pointwise({2, 3, 8, 8}, {4, 3, 3, 3}, {}).serves_forward());
  CHECK_FALSE(
      pointwise({2, 3, 8, 8}, {4, 3, 1, 1}, options({2, 2}, {0, 0}, {0, 0}, {})).serves_forward());
  CHECK_FALSE(
      pointwise({2, 3, 8, 8}, {4, 3, 1, 1}, options({}, {1, 0}, {0, 0}, {})).serves_forward());
  CHECK_FALSE(
      pointwise({2, 4, 6, 6}, {6, 2, 1, 1}, options({}, {0, 0}, {0, 0}, {}, 2)).serves_forward());
}

TEST_CASE("Winograd's transforms compute the correlation of a tile", "[conv]") {
  // y = A^T [(G g G^T) . (B^T d B)] A against the direct sum, in double, for each F(m, r) the
  // construction may be asked for.
  using clnn::detail::winograd_transform;
  for (auto [m, r] : {std::pair<int, int>{2, 3}, {2, 5}, {4, 3}, {3, 3}, {1, 2}, {2, 7}}) {
    INFO("F(" << m << ", " << r << ")");
    const auto t = winograd_transform(m, r);
    const int n = t.alpha;
    REQUIRE(n == m + r - 1);
    std::vector<double> g(std::size_t(r * r)), d(std::size_t(n * n));
    for (std::size_t i = 0; i < g.size(); ++i) g[i] = std::sin(1.0 + double(i));
    for (std::size_t i = 0; i < d.size(); ++i) d[i] = std::cos(0.5 + double(i));
    auto at = [](const std::vector<double>& v, int cols, int i, int j) {
      return v[std::size_t(i * cols + j)];
    };
    std::vector<double> product(std::size_t(n * n));
    for (int a = 0; a < n; ++a)
      for (int b = 0; b < n; ++b) {
        double u = 0, v = 0;
        for (int i = 0; i < r; ++i)
          for (int j = 0; j < r; ++j) u += at(t.g, r, a, i) * at(g, r, i, j) * at(t.g, r, b, j);
        for (int i = 0; i < n; ++i)
          for (int j = 0; j < n; ++j) v += at(t.bt, n, a, i) * at(d, n, i, j) * at(t.bt, n, b, j);
        product[std::size_t(a * n + b)] = u * v;
      }
    for (int y = 0; y < m; ++y)
      for (int x = 0; x < m; ++x) {
        double got = 0, want = 0;
        for (int a = 0; a < n; ++a)
          for (int b = 0; b < n; ++b)
            got += at(t.at, n, y, a) * at(product, n, a, b) * at(t.at, n, x, b);
        for (int i = 0; i < r; ++i)
          for (int j = 0; j < r; ++j) want += at(g, r, i, j) * at(d, n, y + i, x + j);
        CHECK(got == Approx(want).epsilon(1e-9).margin(1e-9));
      }
  }
  CHECK_THROWS_WITH(winograd_transform(6, 5), Catch::Contains("at most 8 points"));
  CHECK_THROWS_WITH(winograd_transform(2, 1), Catch::Contains("F(2, 1)"));
}

TEST_CASE("Winograd's F(4x4, 3x3) and F(2x2, 5x5) match the reference", "[conv]") {
  // Forward and input gradient through winograd.cl, whatever the device: odd output extents (a last
  // tile half outside), paddings of 0 to the filter's reach and uneven ones, channel and filter
  // counts off float4s (the GEMM's general kernel), tiles off float4s.
  using clnn::detail::ConvRoute;
  RouteScope scope(ConvRoute::winograd);
  auto winograd = [](const Shape& x, const Shape& w, const ConvOptions& o) {
    return clnn::detail::WinogradConv{conv_geometry(x, w, o)};
  };
  const std::vector<Case> served{
      {{2, 3, 7, 6}, {4, 3, 3, 3}, options({}, {1, 1}, {1, 1}, {})},    // 7 rows: odd output
      {{1, 32, 5, 5}, {4, 32, 3, 3}, options({}, {1, 1}, {1, 1}, {})},  // input gradient: 2 blocks
      {{1, 8, 8, 8}, {8, 8, 3, 3}, options({}, {1, 1}, {1, 1}, {})},    // aligned: vec4 GEMM
      {{3, 5, 6, 9}, {6, 5, 3, 3}, options({}, {0, 0}, {0, 0}, {})},    // no padding
      {{2, 4, 5, 5}, {3, 4, 3, 3}, options({}, {2, 0}, {1, 2}, {})},    // uneven padding
      {{1, 2, 3, 3}, {2, 2, 3, 3}, options({}, {2, 2}, {2, 2}, {})},    // padding of 2
      {{2, 3, 8, 7}, {4, 3, 5, 5}, options({}, {2, 2}, {2, 2}, {})},    // 5x5, odd output
      {{1, 8, 9, 9}, {8, 8, 5, 5}, options({}, {0, 0}, {0, 0}, {})},    // 5x5, no padding
      {{2, 4, 5, 6}, {3, 4, 5, 5}, options({}, {4, 1}, {3, 0}, {})},    // 5x5, uneven padding
      // 50 tiles: on CPUs, whole vectors of 16 (or 8, 4) tiles and a last part of one.
      {{2, 3, 20, 18}, {4, 3, 3, 3}, options({}, {1, 1}, {1, 1}, {})},
  };
  // Both transforms' styles: a tile per work-item (GPUs), vectors of tiles (CPUs' row loops);
  // the input gradient this way too, or (3-D) on another route.
  auto check_served = [&](const std::vector<Case>& cases, bool input_gradient) {
    clnn::test::RowLoopsOverride row_loops;
    for (bool rows : {false, true})
      for (const Case& c : cases) {
        INFO("x " << to_string(c.x) << " w " << to_string(c.w) << " row loops " << rows);
        row_loops.use(rows);
        CHECK(winograd(c.x, c.w, c.o).serves_forward());
        CHECK(winograd(c.x, c.w, c.o).serves_input_gradient() == input_gradient);
        run_op_check(conv_check(c.x, c.w, true, c.o));
      }
  };
  check_served(served, true);
  // 3-D, forward only (the input gradient takes another route): the planes by F(4x4, 3x3) or
  // F(2x2, 5x5), the depth taps summed by the implicit GEMM's grouped product, or (row loops) by
  // a GEMM per tap.
  const std::vector<Case> volumes{
      {{1, 2, 4, 4, 5}, {3, 2, 3, 3, 3}, options({}, {1, 1, 1}, {1, 1, 1}, {})},  // odd planes
      {{2, 5, 3, 6, 7}, {6, 5, 2, 3, 3}, options({}, {0, 1, 1}, {1, 1, 0}, {})},  // 2 taps, uneven
      {{1, 3, 5, 5, 5}, {4, 3, 1, 3, 3}, options({}, {0, 1, 1}, {0, 1, 1}, {})},  // 1 depth tap
      {{1, 2, 3, 4, 4}, {2, 2, 3, 3, 3}, options({}, {0, 1, 1}, {0, 1, 1}, {})},  // depth 1 out
      {{2, 4, 3, 7, 6}, {3, 4, 3, 5, 5}, options({}, {1, 2, 2}, {1, 2, 2}, {})},  // 5x5 planes
      // depth pads past the taps' reach: no tap reaches every output plane
      {{1, 2, 2, 4, 4}, {2, 2, 2, 3, 3}, options({}, {2, 1, 1}, {2, 1, 1}, {})},
  };
  check_served(volumes, false);
  const std::vector<Case> others{
      {{2, 3, 8, 8}, {4, 3, 3, 3}, options({2, 2}, {1, 1}, {1, 1}, {})},                 // strided
      {{2, 3, 8, 8}, {4, 3, 3, 3}, options({}, {2, 2}, {2, 2}, {2, 2})},                 // dilated
      {{2, 4, 6, 6}, {6, 2, 3, 3}, options({}, {1, 1}, {1, 1}, {}, 2)},                  // groups
      {{2, 3, 8, 8}, {4, 3, 7, 7}, options({}, {3, 3}, {3, 3}, {})},                     // 7x7
      {{2, 3, 8, 8}, {4, 3, 5, 3}, options({}, {2, 1}, {2, 1}, {})},                     // 5x3
      {{2, 3, 8, 8}, {4, 3, 3, 1}, options({}, {1, 0}, {1, 0}, {})},                     // 3x1
      {{2, 3, 12}, {2, 3, 3}, options({}, {1}, {1}, {})},                                // 1-D
      {{1, 2, 5, 4, 5}, {3, 2, 3, 3, 3}, options({2, 1, 1}, {1, 1, 1}, {1, 1, 1}, {})},  // depth:
      {{1, 2, 5, 4, 5},
       {3, 2, 3, 3, 3},
       options({}, {2, 1, 1}, {2, 1, 1}, {2, 1, 1})},  // stride 2,
      // dilation 2; 3x5 planes
      {{1, 2, 4, 5, 5}, {3, 2, 3, 3, 5}, options({}, {1, 1, 2}, {1, 1, 2}, {})},
  };
  for (const Case& c : others) {
    INFO("x " << to_string(c.x) << " w " << to_string(c.w));
    CHECK_FALSE(winograd(c.x, c.w, c.o).serves_forward());
    run_op_check(conv_check(c.x, c.w, true, c.o));  // the other routes serve
  }
  scope.set(ConvRoute::columns);
  CHECK_FALSE(winograd({2, 3, 7, 6}, {4, 3, 3, 3}, options({}, {1, 1}, {1, 1}, {})).serves_forward());
  // Unforced: 3x3 on CPUs from 32 channels, 64 filters and 32 tiles, or 16 tiles where channels
  // times filters is 8192 or more (on GPUs from 64 channels and filters).
  scope.set(ConvRoute::automatic);
  const ConvOptions same = options({}, {1, 1}, {1, 1}, {});
  const bool gpu = winograd({1, 1, 4, 4}, {1, 1, 3, 3}, same).ctx.info.type == DeviceType::gpu;
  CHECK(winograd({32, 128, 7, 7}, {128, 128, 3, 3}, same).serves_forward());
  CHECK(winograd({32, 128, 7, 7}, {256, 128, 3, 3}, same).serves_input_gradient());
  CHECK(winograd({1, 128, 7, 7}, {128, 128, 3, 3}, same).serves_forward() == gpu);  // 4 tiles
  CHECK(winograd({1, 64, 14, 14}, {64, 64, 3, 3}, same).serves_forward() == gpu);   // 16 tiles
  CHECK(winograd({1, 64, 14, 14}, {128, 64, 3, 3}, same).serves_forward());         // 8192 pairs
  CHECK(winograd({1, 32, 14, 14}, {256, 32, 3, 3}, same).serves_forward() == !gpu);
  CHECK_FALSE(winograd({1, 32, 14, 14}, {128, 32, 3, 3}, same).serves_forward());  // 4096 pairs
  CHECK(winograd({1, 128, 14, 14}, {64, 128, 3, 3}, same).serves_input_gradient());
  CHECK(winograd({1, 32, 27, 27}, {128, 32, 3, 3}, same).serves_forward() == !gpu);  // 49 tiles
  CHECK_FALSE(winograd({1, 32, 27, 27}, {128, 32, 3, 3}, same).serves_input_gradient());
  CHECK(winograd({32, 64, 7, 7}, {64, 64, 3, 3}, same).serves_forward());
  CHECK_FALSE(winograd({32, 16, 7, 7}, {64, 16, 3, 3}, same).serves_forward());  // 16 channels
  CHECK_FALSE(winograd({32, 64, 7, 7}, {32, 64, 3, 3}, same).serves_forward());  // 32 filters
  CHECK(winograd({32, 128, 8, 8}, {128, 128, 5, 5}, options({}, {2, 2}, {2, 2}, {}))
            .serves_forward() == gpu);
  // 3-D: on GPUs from 64 channels and filters as in 2-D; on CPUs the tiles of every output plane
  // count (7x7 planes, 4 tiles: 2 deep at batch 1 too few, at batch 8 enough).
  const ConvOptions same3 = options({}, {1, 1, 1}, {1, 1, 1}, {});
  CHECK(winograd({1, 64, 4, 56, 56}, {64, 64, 3, 3, 3}, same3).serves_forward());
  CHECK_FALSE(winograd({1, 64, 4, 56, 56}, {64, 64, 3, 3, 3}, same3).serves_input_gradient());
  CHECK(winograd({1, 32, 4, 56, 56}, {64, 32, 3, 3, 3}, same3).serves_forward() == !gpu);
  CHECK(winograd({1, 512, 2, 7, 7}, {512, 512, 3, 3, 3}, same3).serves_forward() == gpu);
  CHECK(winograd({8, 512, 2, 7, 7}, {512, 512, 3, 3, 3}, same3).serves_forward());
  // ... and a tap reaches every output plane (depth pads of 3 do not: the GPUs' product).
  CHECK(winograd({8, 64, 4, 8, 8}, {64, 64, 3, 3, 3}, options({}, {3, 1, 1}, {3, 1, 1}, {}))
            .serves_forward() == gpu);
  // Nor where its scratch is more than the device allocates at once.
  auto& impl = clnn::detail::Access::impl(clnn::test::context());
  const auto most = impl.info.max_mem_alloc_size;
  impl.info.max_mem_alloc_size = 1 << 20;  // 1 MiB: U alone is 2.25 MiB
  CHECK_FALSE(winograd({32, 128, 7, 7}, {128, 128, 3, 3}, same).serves_forward());
  CHECK_FALSE(winograd({32, 128, 7, 7}, {128, 128, 3, 3}, same).serves_input_gradient());
  impl.info.max_mem_alloc_size = most;
}

TEST_CASE("direct gradients for few column rows match the reference", "[conv][slow]") {
  // conv_direct.cl's input and weight gradients, whatever the device (a CPU runs them when told
  // to): strides, dilations and uneven pads in 1 to 3 dimensions, runs of columns that end inside
  // a tile, filters and rows that do not fill a work-group's pairs evenly.
  using clnn::detail::ConvRoute;
  RouteScope scope(ConvRoute::direct);
  auto direct = [](const Shape& x, const Shape& w, const ConvOptions& o) {
    return clnn::detail::DirectConv{conv_geometry(x, w, o)};
  };
  const std::vector<Case> served{
      {{3, 1, 9, 8}, {5, 1, 5, 5}, options({}, {2, 2}, {2, 2}, {})},            // a first layer
      {{2, 3, 9, 8}, {4, 3, 3, 2}, options({2, 1}, {1, 0}, {0, 2}, {})},        // strided, uneven
      {{2, 2, 11, 10}, {3, 2, 3, 3}, options({1, 2}, {2, 1}, {1, 2}, {2, 3})},  // dilated
      {{2, 3, 11}, {7, 3, 3}, options({2}, {1}, {0}, {})},                      // 1-D
      {{2, 2, 5, 4, 5}, {3, 2, 3, 3, 3}, options({1, 2, 1}, {1, 1, 0}, {0, 1, 2}, {1, 1, 2})},
      {{1, 2, 40, 40}, {9, 2, 3, 3}, options({}, {1, 1}, {1, 1}, {})},  // many runs of columns
      {{3, 2, 9, 8}, {30, 2, 3, 3}, options({}, {1, 1}, {1, 1}, {})},   // 540 pairs
  };
  for (const Case& c : served) {
    INFO("x " << to_string(c.x) << " w " << to_string(c.w));
    CHECK(direct(c.x, c.w, c.o).serves_gradients());
    run_op_check(conv_check(c.x, c.w, true, c.o));
  }
  {  // A first layer's 288 pairs, in tiles of 64 columns where the device has work-groups enough
    // (the reference backward alone: its finite differences are checked above)
    const Case first{{8, 1, 28, 28}, {32, 1, 3, 3}, options({}, {1, 1}, {1, 1}, {})};
    CHECK(direct(first.x, first.w, first.o).serves_gradients());
    OpCheck check = conv_check(first.x, first.w, true, first.o);
    check.finite_differences = false;
    run_op_check(check);
  }
  const std::vector<Case> others{
      {{2, 4, 6, 7}, {6, 2, 3, 3}, options({}, {1, 1}, {1, 1}, {}, 2)},  // groups
      {{2, 8, 6, 6}, {4, 8, 3, 3}, options({}, {1, 1}, {1, 1}, {})},     // 72 rows
  };
  for (const Case& c : others) {
    INFO("x " << to_string(c.x) << " w " << to_string(c.w));
    CHECK_FALSE(direct(c.x, c.w, c.o).serves_gradients());
    run_op_check(conv_check(c.x, c.w, true, c.o));
  }
  scope.set(ConvRoute::columns);
  CHECK_FALSE(direct({3, 1, 9, 8}, {5, 1, 5, 5}, options({}, {2, 2}, {2, 2}, {})).serves_gradients());
}

TEST_CASE("the weight gradient over shifted padded copies matches the reference",
          "[conv][slow]") {
  // conv_shifted.cpp's weight and bias gradients, whatever the device (a CPU runs them when told
  // to): pads of 0 to 2, uneven ones, dilations, a 1x1 filter whose output outgrows the padded
  // blocks, 1 to 3 dimensions.
  using clnn::detail::ConvRoute;
  RouteScope scope(ConvRoute::shifted);
  const std::size_t room = std::size_t(1) << 25;  // the column route's workspace at most
  auto shifted = [](const Shape& x, const Shape& w, const ConvOptions& o) {
    return clnn::detail::ShiftedConv{conv_geometry(x, w, o)};
  };
  const std::vector<Case> served{
      {{2, 4, 7, 6}, {4, 4, 3, 3}, options({}, {1, 1}, {1, 1}, {})},
      {{3, 4, 6, 9}, {8, 4, 3, 3}, options({}, {2, 0}, {0, 2}, {})},          // uneven
      {{2, 4, 9, 8}, {4, 4, 3, 3}, options({}, {2, 2}, {2, 2}, {2, 2})},      // dilated
      {{2, 4, 6, 6}, {8, 4, 3, 3}, options({}, {0, 0}, {0, 0}, {})},          // no padding
      {{2, 4, 5, 5}, {4, 4, 1, 1}, options({}, {1, 1}, {1, 1}, {})},          // 1x1, padded
      {{2, 4, 11}, {4, 4, 3}, options({}, {1}, {0}, {})},                     // 1-D
      {{2, 4, 4, 5, 3}, {4, 4, 3, 3, 3}, options({}, {1, 0, 1}, {0, 1, 1}, {1, 1, 2})},  // 3-D
      {{2, 4, 8, 8}, {8, 4, 5, 5}, options({}, {2, 2}, {2, 2}, {})},          // 5x5
  };
  for (const Case& c : served) {
    INFO("x " << to_string(c.x) << " w " << to_string(c.w));
    CHECK(shifted(c.x, c.w, c.o).serves_weight_gradient(room));
    run_op_check(conv_check(c.x, c.w, true, c.o));
  }
  const std::vector<Case> others{
      {{2, 4, 8, 8}, {4, 4, 3, 3}, options({2, 2}, {1, 1}, {1, 1}, {})},   // strided
      {{2, 4, 6, 7}, {8, 2, 3, 3}, options({}, {1, 1}, {1, 1}, {}, 2)},    // groups
      {{2, 4, 6, 6}, {3, 4, 3, 3}, options({}, {1, 1}, {1, 1}, {})},       // 3 filters
      {{2, 3, 6, 6}, {4, 3, 3, 3}, options({}, {1, 1}, {1, 1}, {})},       // 27 column rows
  };
  for (const Case& c : others) {
    INFO("x " << to_string(c.x) << " w " << to_string(c.w));
    CHECK_FALSE(shifted(c.x, c.w, c.o).serves_weight_gradient(room));
    run_op_check(conv_check(c.x, c.w, true, c.o));
  }
  const Case& first = served.front();
  CHECK_FALSE(shifted(first.x, first.w, first.o).serves_weight_gradient(100));  // no room

  SECTION("filters shared by two convolutions sum both gradients") {
    const Shape xs{2, 4, 7, 6}, ws{4, 4, 3, 3};
    const ConvOptions o = first.o;
    Graph g;
    Value X1 = g.input("x1", xs), X2 = g.input("x2", xs);
    Value W = g.parameter("w", ws, init::zeros());
    Value B = g.parameter("b", {4}, init::zeros());
    Value Y1 = conv(X1, W, B, o), Y2 = conv(X2, W, B, o);
    Value R = g.input("R", Y1.shape());
    Value loss = sum(mul(add(Y1, Y2), R));
    Executor ex(clnn::test::context(), g, {loss}, Mode::training);
    const auto x1 = clnn::test::random_vector(reference::numel(xs), 1);
    const auto x2 = clnn::test::random_vector(reference::numel(xs), 2);
    const auto w = clnn::test::random_vector(reference::numel(ws), 3);
    const auto b = clnn::test::random_vector(4, 4);
    const auto r = clnn::test::random_vector(reference::numel(Y1.shape()), 5);
    ex.set_input("x1", x1);
    ex.set_input("x2", x2);
    ex.set_parameter("w", w);
    ex.set_parameter("b", b);
    ex.set_input("R", r);
    ex.forward();
    ex.backward(loss);
    const auto geo = geometry(xs, ws, o);
    const Vec wd(w.begin(), w.end()), rd(r.begin(), r.end());
    Vec gw(wd.size(), 0.0), gb(4, 0.0);
    for (const auto* x : {&x1, &x2}) {
      Vec gx_one, gw_one, gb_one;
      reference::conv_backward(geo, Vec(x->begin(), x->end()), wd, rd, gx_one, gw_one, gb_one);
      for (std::size_t i = 0; i < gw.size(); ++i) gw[i] += gw_one[i];
      for (std::size_t i = 0; i < gb.size(); ++i) gb[i] += gb_one[i];
    }
    CHECK(clnn::test::relative_error(ex.gradient(W).to_host(), gw) < 1e-4);
    CHECK(clnn::test::relative_error(ex.gradient(B).to_host(), gb) < 1e-4);
  }
}

namespace {

// The chunks case on the route and GEMM backend the context has.
void check_conv_in_chunks();

}  // namespace

TEST_CASE("conv splits large batches into chunks", "[conv]") {
  check_conv_in_chunks();
  // The column route, its products finishing their samples (gemm_cpu) or leaving the bias to a
  // pass over each chunk's samples (the host BLAS, on CPUs; elsewhere the chunk's reorder adds
  // it).
  RouteScope scope(detail::ConvRoute::columns);
  auto& impl = detail::Access::impl(clnn::test::context());
  const auto saved = impl.gemm_backend;
  for (auto backend : {detail::GemmBackend::own, detail::GemmBackend::blas}) {
    impl.gemm_backend = backend;
    check_conv_in_chunks();
  }
  impl.gemm_backend = saved;
}

namespace {

void check_conv_in_chunks() {
  // 16 channels x 25 taps x 100 x 100 positions: a few samples per chunk, so the gradients of
  // weights and bias add across chunks. The relu folds into the convolution (chunk by chunk
  // where each sample has its own product: CPUs where the host BLAS pays).
  const Shape xs{10, 16, 100, 100}, ws{4, 16, 5, 5};
  const ConvOptions o = options({}, {2, 2}, {2, 2}, {});
  const auto x = clnn::test::random_vector(reference::numel(xs), 1);
  const auto w = clnn::test::random_vector(reference::numel(ws), 2);
  const auto b = clnn::test::random_vector(4, 3);
  Graph g;
  Value X = g.parameter("x", xs, init::zeros());
  Value W = g.parameter("w", ws, init::zeros());
  Value B = g.parameter("b", {4}, init::zeros());
  Value Y = relu(conv(X, W, B, o));
  Value R = g.input("R", Y.shape());
  Value loss = sum(mul(Y, R));
  Executor ex(clnn::test::context(), g, {Y, loss}, Mode::training);
  ex.set_parameter("x", x);
  ex.set_parameter("w", w);
  ex.set_parameter("b", b);
  const auto r = clnn::test::random_vector(reference::numel(Y.shape()), 4);
  ex.set_input("R", r);
  ex.forward();
  ex.backward(loss);
  for (const auto& pass : ex.schedule())
    if (pass.op == "relu") CHECK_THAT(pass.route, Catch::StartsWith("folded into"));

  auto geo = geometry(xs, ws, o);
  Vec xd(x.begin(), x.end()), wd(w.begin(), w.end()), bd(b.begin(), b.end()),
      rd(r.begin(), r.end());
  // The gradient masked where the device's output is 0, as its relu does: no output rounded
  // across 0 can flip an element of the reference's mask.
  const auto got = ex.value(Y).to_host();
  Vec y = reference::conv(geo, xd, wd, &bd), gy = rd;
  for (std::size_t i = 0; i < y.size(); ++i) {
    y[i] = std::max(y[i], 0.0);
    if (got[i] == 0.0f) gy[i] = 0.0;
  }
  CHECK(clnn::test::relative_error(got, y) < 1e-4);
  Vec gx, gw, gb;
  reference::conv_backward(geo, xd, wd, gy, gx, gw, gb);
  CHECK(clnn::test::relative_error(ex.gradient(X).to_host(), gx) < 1e-4);
  CHECK(clnn::test::relative_error(ex.gradient(W).to_host(), gw) < 1e-4);
  CHECK(clnn::test::relative_error(ex.gradient(B).to_host(), gb) < 1e-4);
}

}  // namespace

TEST_CASE("conv rejects sizes that make no sense", "[conv][errors]") {
  Graph g;
  Value x = g.input("x", {2, 4, 5, 5});
  auto w = [&](Shape s) {
    return g.parameter("w" + std::to_string(g.node_count()), s, init::zeros());
  };
  CHECK_THROWS_WITH(conv(x, w({3, 4, 7, 7})),
                    Catch::Contains("conv_1") && Catch::Contains("more than the padded input"));
  CHECK_NOTHROW(conv(x, w({3, 4, 7, 7}), std::nullopt, options({}, {1, 1}, {1, 1}, {})));
  CHECK_THROWS_WITH(conv(x, w({3, 2, 3, 3}), std::nullopt, options({}, {}, {}, {}, 3)),
                    Catch::Contains("not divisible by 3 groups"));
  CHECK_THROWS_AS(conv(x, w({3, 4, 3, 3}), std::nullopt, options({0, 1}, {}, {}, {})), ShapeError);
  CHECK_THROWS_AS(conv(x, w({3, 4, 3, 3}), std::nullopt, options({-1, 1}, {}, {}, {})), ShapeError);
  CHECK_THROWS_AS(conv(x, w({3, 4, 3, 3}), std::nullopt, options({1}, {}, {}, {})), ShapeError);
  CHECK_THROWS_AS(conv(x, w({3, 4, 3, 3}), std::nullopt, options({}, {-1, 0}, {}, {})), ShapeError);
  CHECK_THROWS_AS(conv(x, w({3, 3, 3, 3})), ShapeError);          // channels differ
  CHECK_THROWS_AS(conv(x, w({3, 4, 3})), ShapeError);             // rank differs
  CHECK_THROWS_AS(conv(x, w({3, 4, 3, 3}), w({4})), ShapeError);  // bias is not [K]
  CHECK_THROWS_AS(conv(g.input("v", {4, 5}), w({3, 4, 3})), ShapeError);
}

namespace {

// Transposed convolution by its definition: every input element scatters w into the output.
struct Transposed {
  Shape x, w, y;
  std::vector<std::int64_t> s, pb, d;
  std::int64_t groups;

  // Calls f(x index, w index, y index) for every product that contributes to y.
  template <typename F>
  void each(F f) const {
    const std::size_t dims = x.size() - 2;
    const std::int64_t cg = x[1] / groups, mg = w[1];
    std::vector<std::int64_t> in(dims), tap(dims);
    const std::int64_t in_count = [&] {
      std::int64_t n = 1;
      for (std::size_t k = 2; k < x.size(); ++k) n *= x[k];
      return n;
    }();
    const std::int64_t tap_count = [&] {
      std::int64_t n = 1;
      for (std::size_t k = 2; k < w.size(); ++k) n *= w[k];
      return n;
    }();
    for (std::int64_t n = 0; n < x[0]; ++n)
      for (std::int64_t c = 0; c < x[1]; ++c)
        for (std::int64_t m = 0; m < mg; ++m)
          for (std::int64_t i = 0; i < in_count; ++i)
            for (std::int64_t t = 0; t < tap_count; ++t) {
              std::int64_t ri = i, rt = t, yoff = 0;
              bool inside = true;
              std::vector<std::int64_t> o(dims);
              for (std::size_t k = dims; k-- > 0;) {
                const std::int64_t ii = ri % x[k + 2], tt = rt % w[k + 2];
                ri /= x[k + 2], rt /= w[k + 2];
                o[k] = ii * s[k] - pb[k] + tt * d[k];
                inside = inside && o[k] >= 0 && o[k] < y[k + 2];
              }
              if (!inside) continue;
              for (std::size_t k = 0; k < dims; ++k) yoff = yoff * y[k + 2] + o[k];
              const std::int64_t ych = (c / cg) * mg + m;
              f(std::size_t((n * x[1] + c) * in_count + i),
                std::size_t((c * mg + m) * tap_count + t),
                std::size_t((n * y[1] + ych) * (std::int64_t(reference::numel(y)) / (y[0] * y[1])) +
                            yoff));
            }
  }
};

OpCheck transpose_check(Shape x, Shape w, bool bias, std::vector<std::int64_t> s,
                        std::vector<std::int64_t> pb, std::vector<std::int64_t> pe,
                        std::vector<std::int64_t> d, std::vector<std::int64_t> op,
                        std::int64_t groups) {
  ConvTransposeOptions o;
  o.strides = s, o.pads_begin = pb, o.pads_end = pe, o.dilations = d, o.output_padding = op;
  o.groups = groups;
  Shape y{x[0], w[1] * groups};
  for (std::size_t k = 0; k + 2 < x.size(); ++k)
    y.push_back(s[k] * (x[k + 2] - 1) + op[k] + d[k] * (w[k + 2] - 1) + 1 - pb[k] - pe[k]);
  Transposed t{x, w, y, s, pb, d, groups};
  OpCheck c;
  c.shapes = {x, w};
  if (bias) c.shapes.push_back({y[1]});
  c.build = [o](const std::vector<Value>& v) {
    return conv_transpose(v[0], v[1], v.size() == 3 ? std::optional<Value>(v[2]) : std::nullopt, o);
  };
  const std::int64_t per_channel = std::int64_t(reference::numel(y)) / (y[0] * y[1]);
  c.forward = [=](const std::vector<Vec>& in) {
    Vec out(reference::numel(y), 0.0);
    t.each(
        [&](std::size_t xi, std::size_t wi, std::size_t yi) { out[yi] += in[0][xi] * in[1][wi]; });
    if (in.size() == 3)
      for (std::size_t i = 0; i < out.size(); ++i)
        out[i] += in[2][std::size_t(std::int64_t(i) / per_channel % y[1])];
    return out;
  };
  c.backward = [=](const std::vector<Vec>& in, const Vec& gy) {
    Vec gx(in[0].size(), 0.0), gw(in[1].size(), 0.0), gb(std::size_t(y[1]), 0.0);
    t.each([&](std::size_t xi, std::size_t wi, std::size_t yi) {
      gx[xi] += gy[yi] * in[1][wi];
      gw[wi] += gy[yi] * in[0][xi];
    });
    for (std::size_t i = 0; i < gy.size(); ++i)
      gb[std::size_t(std::int64_t(i) / per_channel % y[1])] += gy[i];
    std::vector<Vec> grads{gx, gw};
    if (in.size() == 3) grads.push_back(gb);
    return grads;
  };
  c.forward_tolerance = 1e-4;
  return c;
}

}  // namespace

TEST_CASE("conv_transpose in 1, 2 and 3 dimensions", "[conv]") {
  run_op_check(
      transpose_check({2, 3, 5, 4}, {3, 2, 3, 3}, true, {1, 1}, {0, 0}, {0, 0}, {1, 1}, {0, 0}, 1));
  run_op_check(
      transpose_check({1, 2, 4, 3}, {2, 3, 3, 2}, true, {2, 3}, {1, 0}, {0, 1}, {1, 2}, {1, 0}, 1));
  run_op_check(transpose_check({2, 4, 3, 3}, {4, 1, 2, 2}, false, {2, 2}, {0, 0}, {0, 0}, {1, 1},
                               {0, 0}, 2));
  run_op_check(transpose_check({2, 2, 5}, {2, 3, 3}, true, {2}, {1}, {1}, {1}, {1}, 1));
  run_op_check(transpose_check({1, 2, 2, 3, 2}, {2, 2, 2, 2, 2}, true, {2, 1, 2}, {0, 1, 0},
                               {1, 0, 0}, {1, 1, 1}, {0, 0, 1}, 1));
  Graph g;
  Value x = g.input("x", {1, 4, 5, 5});
  CHECK_THROWS_AS(conv_transpose(x, g.input("w", {3, 2, 3, 3})), ShapeError);  // w[0] != C
  ConvTransposeOptions bad;
  bad.strides = {1, 1};
  bad.output_padding = {1, 1};  // not below the stride
  CHECK_THROWS_AS(conv_transpose(x, g.input("w2", {4, 2, 3, 3}), std::nullopt, bad), ShapeError);
  CHECK(conv_transpose(x, g.input("w3", {4, 2, 3, 3})).shape() == Shape{1, 2, 7, 7});
}

TEST_CASE("conv_transpose through the implicit GEMM", "[conv]") {
  // Its forward pass is a convolution's input gradient, its input gradient a forward pass.
  RouteScope scope(clnn::detail::ConvRoute::implicit);
  run_op_check(
      transpose_check({2, 3, 5, 4}, {3, 2, 3, 3}, true, {1, 1}, {0, 0}, {0, 0}, {1, 1}, {0, 0}, 1));
  run_op_check(transpose_check({2, 4, 3, 3}, {4, 1, 2, 2}, false, {1, 1}, {1, 0}, {0, 1}, {2, 1},
                               {0, 0}, 2));
}

TEST_CASE("conv_transpose through the direct gradients", "[conv]") {
  // Its forward pass is a convolution's input gradient, its weight gradient one with x and gy
  // exchanged.
  RouteScope scope(clnn::detail::ConvRoute::direct);
  run_op_check(
      transpose_check({2, 3, 5, 4}, {3, 2, 3, 3}, true, {1, 1}, {0, 0}, {0, 0}, {1, 1}, {0, 0}, 1));
  run_op_check(
      transpose_check({1, 2, 4, 3}, {2, 3, 3, 2}, true, {2, 3}, {1, 0}, {0, 1}, {1, 2}, {1, 0}, 1));
}

TEST_CASE("conv_transpose with one output channel per group through the depthwise route",
          "[conv]") {
  // Its virtual convolution conv(y, w) then has one group per channel of y: the forward pass is
  // the depthwise input gradient, the weight gradient the depthwise one with x and gy exchanged.
  RouteScope scope(clnn::detail::ConvRoute::depthwise);
  const Case virtual_conv{{2, 3, 11, 8}, {3, 1, 3, 3}, options({2, 2}, {1, 0}, {0, 1}, {}, 3)};
  CHECK(clnn::detail::DepthwiseConv{conv_geometry(virtual_conv.x, virtual_conv.w, virtual_conv.o)}
            .serves());
  run_op_check(
      transpose_check({2, 3, 5, 4}, {3, 1, 3, 3}, true, {2, 2}, {1, 0}, {0, 1}, {1, 1}, {1, 0}, 3));
  run_op_check(transpose_check({2, 4, 3, 3}, {4, 1, 2, 2}, false, {1, 1}, {1, 0}, {0, 1}, {2, 1},
                               {0, 0}, 2));  // multiplier 2
  run_op_check(transpose_check({1, 2, 5}, {2, 1, 3}, true, {2}, {1}, {1}, {2}, {1}, 2));  // 1-D
}

TEST_CASE("a route CLNN_CONV forces is the only one that takes a pass", "[conv][route]") {
  // 64 -> 64 3x3 filters: Winograd, the implicit GEMM and the shifted weight gradient all apply
  // (the direct gradients take at most 64 column rows; these have 576). A forced route takes what
  // it can, every other route nothing, whatever the device; the column route is the fallback.
  using detail::ConvRoute;
  ConvOptions o;
  o.pads_begin = o.pads_end = {1, 1};
  const detail::ConvGeometry g = conv_geometry({2, 64, 8, 8}, {64, 64, 3, 3}, o);
  const detail::WinogradConv winograd{g};
  const detail::ImplicitConv implicit{g};
  const detail::ShiftedConv shifted{g};
  const detail::DirectConv direct{g};
  const detail::PaddedConv padded{g};
  const detail::PointwiseConv pointwise{conv_geometry({2, 64, 8, 8}, {64, 64, 1, 1}, {})};
  ConvOptions dw = o;
  dw.groups = 64;
  const detail::DepthwiseConv depthwise{conv_geometry({2, 64, 8, 8}, {64, 1, 3, 3}, dw)};
  test::RouteScope scope(ConvRoute::automatic);
  for (ConvRoute route : {ConvRoute::winograd, ConvRoute::implicit, ConvRoute::shifted,
                          ConvRoute::direct, ConvRoute::depthwise, ConvRoute::padded,
                          ConvRoute::pointwise, ConvRoute::columns}) {
    INFO("forced route " << int(route));
    scope.set(route);
    CHECK(winograd.serves_forward() == (route == ConvRoute::winograd));
    CHECK(winograd.serves_input_gradient() == (route == ConvRoute::winograd));
    CHECK(implicit.serves_forward() == (route == ConvRoute::implicit));
    CHECK(implicit.serves_input_gradient() == (route == ConvRoute::implicit));
    CHECK(shifted.serves_weight_gradient(std::size_t{1} << 24) == (route == ConvRoute::shifted));
    CHECK_FALSE(direct.serves_gradients());  // 576 rows: not even when forced
    CHECK(depthwise.serves() == (route == ConvRoute::depthwise));
    CHECK(padded.serves_forward(std::size_t{1} << 24) == (route == ConvRoute::padded));
    CHECK(padded.serves_input_gradient(std::size_t{1} << 24) == (route == ConvRoute::padded));
    CHECK(padded.serves_weight_gradient(std::size_t{1} << 24) == (route == ConvRoute::padded));
    CHECK(pointwise.serves_forward() == (route == ConvRoute::pointwise));
    CHECK(pointwise.serves_gradients() == (route == ConvRoute::pointwise));
  }
  scope.set(ConvRoute::automatic);
  CHECK(depthwise.serves());  // on every device
  // 1x1 forward passes on every CPU; their gradients where the host BLAS pays.
  const bool gpu = pointwise.ctx.info.type == DeviceType::gpu;
  CHECK(pointwise.serves_forward() == !gpu);
  CHECK(pointwise.serves_gradients() == (!gpu && detail::host_blas_pays(pointwise.ctx)));
  // Strided forward passes on every CPU, but 1x1 windows where the host BLAS pays.
  ConvOptions strided = o;
  strided.strides = {2, 2};
  CHECK(detail::PaddedConv{conv_geometry({2, 3, 8, 8}, {8, 3, 3, 3}, strided)}.serves_forward(
            std::size_t{1} << 24) == !gpu);
  strided.pads_begin = strided.pads_end = {0, 0};
  CHECK(detail::PaddedConv{conv_geometry({2, 8, 8, 8}, {8, 8, 1, 1}, strided)}.serves_forward(
            std::size_t{1} << 24) == (!gpu && !detail::host_blas_pays(pointwise.ctx)));
}

TEST_CASE("Executor::schedule names each pass's route as the pass takes it", "[conv][route]") {
  // x -> conv (64 -> 64, 3x3) -> relu -> sum(* r), in training (x a parameter, so that its
  // gradient is wanted too): forward, then backward in reverse. Forced routes make the schedule the same on every device; the profile of a step
  // shows the kernels of the routes it names.
  using detail::ConvRoute;
  Graph g;
  Value x = g.parameter("x", {2, 64, 8, 8}, init::uniform(-1.0f, 1.0f, 2));
  Value w = g.parameter("w", {64, 64, 3, 3}, init::uniform(-0.1f, 0.1f, 1));
  Value b = g.parameter("b", {64}, init::zeros());
  ConvOptions o;
  o.pads_begin = o.pads_end = {1, 1};
  Value y = relu(conv(x, w, b, o));
  Value loss = sum(mul(y, g.input("r", y.shape())));
  test::RouteScope scope(ConvRoute::winograd);
  Executor ex(test::context(), g, {loss}, Mode::training);
  const auto passes = ex.schedule();
  std::map<std::string, Executor::ScheduledPass> by;
  for (const auto& p : passes) by[p.node + " " + p.pass] = p;
  REQUIRE(by.count("conv_1 forward") == 1);
  CHECK(by["conv_1 forward"].op == "conv");
  CHECK(by["conv_1 forward"].route == "winograd F(4x4, 3x3), activation folded in");
  CHECK(by["conv_1 backward"].route ==
        "x: winograd F(4x4, 3x3); w: columns + GEMM; bias: columns + GEMM");
  CHECK(by["conv_1 forward"].workspace_bytes > 0);
  CHECK(by["relu_1 forward"].route == "folded into 'conv_1'");
  CHECK(passes.front().pass == "forward");
  CHECK(passes.back().node == "conv_1");  // backward runs in reverse
  CHECK(passes.back().pass == "backward");

  scope.set(ConvRoute::columns);
  Executor columns(test::context(), g, {y}, Mode::inference);  // x: a parameter, set already
  CHECK(columns.schedule().size() == 2);
  CHECK(columns.schedule()[0].route == "columns + GEMM, activation folded in");
  CHECK(columns.schedule()[1].route == "folded into 'conv_1'");

  // What the schedule names is what runs: the forward pass's kernels are Winograd's.
  scope.set(ConvRoute::winograd);
  ex.set_input("r", test::random_vector(2 * 64 * 8 * 8, 3));
  detail::ProfilingOn on;
  detail::take_profile();
  ex.forward();
  test::context().finish();
  bool winograd_ran = false;
  for (const auto& row : detail::take_profile())
    if (row.label == "conv forward")  // vectors of tiles where the context loops rows (CPUs)
      winograd_ran =
          row.kernel_ms.count("winograd_outputs") + row.kernel_ms.count("winograd_outputs_lanes") ==
          1;
  CHECK(winograd_ran);
}
