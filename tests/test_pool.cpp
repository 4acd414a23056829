// Max and average pooling in 1, 2 and 3 dimensions, and global average pooling, against the
// double-precision reference.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "op_checks.hpp"
#include "plan_override.hpp"

using namespace clnn;
using clnn::test::max_pool_indices_check;
using clnn::test::OpCheck;
using clnn::test::pool_check;
using clnn::test::run_op_check;
using reference::Vec;

namespace {

PoolOptions pool(std::vector<std::int64_t> kernel, std::vector<std::int64_t> strides = {},
                 std::vector<std::int64_t> pads_begin = {}, std::vector<std::int64_t> pads_end = {},
                 bool ceil_mode = false, bool count_include_pad = true) {
  PoolOptions o;
  o.kernel = std::move(kernel);
  o.strides = std::move(strides);
  o.pads_begin = std::move(pads_begin);
  o.pads_end = std::move(pads_end);
  o.ceil_mode = ceil_mode;
  o.count_include_pad = count_include_pad;
  return o;
}

// max_pool of random x in inference against the double reference, exactly; returns how many of
// its launches ran `kernel`.
long max_pool_launches_of(const Shape& shape, const PoolOptions& o, std::uint32_t seed,
                          const std::string& kernel) {
  const reference::Geometry geometry(shape, o.kernel, o.strides, o.pads_begin, o.pads_end,
                                     o.dilations, o.ceil_mode);
  const auto x = clnn::test::random_vector(std::size_t(element_count(shape)), seed);
  Graph g;
  Value y = max_pool(g.input("x", shape), o);
  Executor ex(clnn::test::context(), g, {y}, Mode::inference);
  ex.set_input("x", x);
  ex.forward();
  CHECK(clnn::test::relative_error(ex.value(y).to_host(),
                                   reference::max_pool(geometry, Vec(x.begin(), x.end()))) == 0.0);
  const auto schedule = ex.schedule();
  REQUIRE(schedule.size() == 1);
  const auto& kernels = schedule[0].kernels;
  return long(std::count(kernels.begin(), kernels.end(), kernel));
}

}  // namespace

TEST_CASE("max_pool and avg_pool in 2-D", "[pool]") {
  for (bool is_max : {true, false}) {
    INFO("max " << is_max);
    run_op_check(pool_check(is_max, {2, 3, 8, 8}, pool({2, 2})));
    run_op_check(pool_check(is_max, {1, 2, 7, 9}, pool({3, 3}, {2, 2}, {1, 1}, {1, 1})));
    run_op_check(pool_check(is_max, {2, 2, 7, 6}, pool({3, 2}, {2, 2}, {1, 0}, {0, 1}, true)));
    run_op_check(pool_check(is_max, {1, 1, 5, 5}, pool({5, 5})));
  }
  run_op_check(pool_check(false, {2, 2, 7, 6}, pool({3, 3}, {2, 2}, {1, 1}, {1, 1}, true, false)));
  run_op_check(pool_check(false, {1, 3, 5, 5}, pool({2, 2}, {1, 1}, {1, 1}, {0, 0}, false, false)));
}

TEST_CASE("max_pool forward per element and per line of outputs", "[pool]") {
  // max_pool_forward (GPUs; max_pool_forward_2x2 for whole 2 x 2 windows) and
  // max_pool_forward_rows (CPUs): the device picks one; each is checked here whatever the
  // device, with padding, dilation and 1-D and 3-D windows.
  test::RowLoopsOverride rows;
  PoolOptions dilated = pool({2, 3}, {1, 2}, {1, 0}, {0, 1});
  dilated.dilations = {2, 2};
  for (bool per_line : {false, true}) {
    INFO("per line " << per_line);
    rows.use(per_line);
    run_op_check(pool_check(true, {2, 3, 8, 8}, pool({2, 2})));
    // 2 x 2 windows eight at a time on CPUs (max_pool_forward_pairs), an odd extent's last row
    // and column left out; where they tile the input, backward too (max_pool_backward_pairs).
    run_op_check(pool_check(true, {2, 3, 7, 37}, pool({2, 2})));
    run_op_check(pool_check(true, {2, 3, 6, 36}, pool({2, 2})));
    run_op_check(clnn::test::twice(pool_check(true, {2, 3, 6, 36}, pool({2, 2}))));  // beta 1
    run_op_check(pool_check(true, {1, 2, 7, 9}, pool({3, 3}, {2, 2}, {1, 1}, {1, 1})));
    run_op_check(pool_check(true, {2, 2, 9, 10}, dilated));
    run_op_check(pool_check(true, {2, 3, 11}, pool({3}, {2}, {1}, {0})));
    run_op_check(
        pool_check(true, {1, 2, 5, 6, 4}, pool({2, 3, 2}, {2, 2, 1}, {1, 1, 0}, {0, 1, 1})));
  }
}

TEST_CASE("2 x 2 max pooling keeps a NaN only as its window's first element", "[pool]") {
  // max_pool_forward_2x2 (GPUs) and max_pool_forward_pairs (CPUs) as window_argmax: the first
  // element starts the maximum, and isgreater never prefers a NaN. A 2 x 8 plane of increasing
  // values, window j with a NaN at its j-th element (row by row).
  std::vector<float> x(16);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = float(i + 1);
  for (std::size_t j = 0; j < 4; ++j) x[j / 2 * 8 + 2 * j + j % 2] = NAN;
  test::RowLoopsOverride rows;
  for (bool per_line : {false, true})
    for (Mode mode : {Mode::inference, Mode::training}) {
      INFO("per line " << per_line << " training " << (mode == Mode::training));
      rows.use(per_line);
      Graph g;
      Value xv = g.input("x", {1, 1, 2, 8});
      Value y = max_pool(xv, pool({2, 2}));
      Executor ex(test::context(), g, {y}, mode);
      ex.set_input("x", x);
      ex.forward();
      const auto got = ex.value(y).to_host();
      REQUIRE(got.size() == 4);
      CHECK(std::isnan(got[0]));
      CHECK(got[1] == 12.0f);  // the bottom right elements: 2 * j + 10
      CHECK(got[2] == 14.0f);
      CHECK(got[3] == 15.0f);  // its own bottom right is the NaN: the bottom left
    }
}

TEST_CASE("max_pool in inference: a line of window maxima per work-item", "[pool]") {
  // max_pool_forward_values (CPUs in inference, where the 2 x 2 kernel does not serve), forced
  // here whatever the device, against the double reference: strides 1 and 2, padding, ceil
  // mode, lines shorter than a vector, of exactly one and past whole vectors, 1-D; and the
  // windows it leaves to the rows kernel (a line too long for its private copy, stride 3,
  // dilation, 3-D).
  struct Case {
    Shape x;
    PoolOptions o;
    bool values;  // whether max_pool_forward_values takes it
  };
  PoolOptions dilated = pool({3, 3}, {2, 2});
  dilated.dilations = {1, 2};
  const std::vector<Case> cases{
      {{1, 3, 9, 37}, pool({3, 3}, {2, 2}, {}, {}, true), true},     // squeezenet1_1's, 18 a line
      {{2, 2, 20, 20}, pool({3, 3}, {2, 2}, {1, 1}, {1, 1}), true},  // resnet's
      {{1, 2, 6, 40}, pool({3, 3}, {1, 1}, {1, 1}, {1, 1}), true},   // stride 1, 40 a line
      {{2, 2, 7, 9}, pool({3, 3}, {2, 2}, {1, 1}, {1, 1}), true},    // shorter than a vector
      {{1, 2, 13, 13}, pool({3, 3}, {2, 2}), true},  // the last lines' vector would pass x's end
      {{1, 1, 4, 16}, pool({2, 3}, {1, 1}), true},   // one vector exactly
      {{2, 3, 41}, pool({3}, {2}, {1}, {1}), true},  // 1-D
      {{1, 1, 3, 1100}, pool({3, 3}, {2, 2}), false},
      {{1, 2, 9, 10}, pool({3, 3}, {3, 3}), false},
      {{1, 2, 9, 11}, dilated, false},
      {{1, 2, 5, 6, 4}, pool({2, 3, 2}, {2, 2, 1}), false},
  };
  test::RowLoopsOverride rows;
  rows.use(true);
  for (const Case& k : cases) {
    INFO(to_string(k.x) << " values " << k.values);
    CHECK(max_pool_launches_of(k.x, k.o, 3, "max_pool_forward_values") == k.values);
  }
  // A NaN makes each window that holds it NaN, and no other.
  Graph g;
  const Shape shape{1, 1, 5, 20};
  Value y = max_pool(g.input("x", shape), pool({3, 3}, {2, 2}));
  auto x = clnn::test::random_vector(100, 4);
  x[2 * 20 + 7] = std::nanf("");  // row 2, column 7: windows (0, 3) and (1, 3)
  Executor ex(clnn::test::context(), g, {y}, Mode::inference);
  ex.set_input("x", x);
  ex.forward();
  const auto out = ex.value(y).to_host();
  x[2 * 20 + 7] = -2.0f;  // below every other value: the reference of the other windows
  const auto expected = reference::max_pool(
      reference::Geometry(shape, {3, 3}, {2, 2}, {}, {}, {}, false), Vec(x.begin(), x.end()));
  REQUIRE(out.size() == expected.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    INFO("output " << i);
    if (i == 3 || i == 9 + 3)
      CHECK(std::isnan(out[i]));
    else
      CHECK(out[i] == float(expected[i]));
  }
}

TEST_CASE("max_pool in inference on GPUs: a work-item per output, the window's taps unrolled",
          "[pool]") {
  // max_pool_forward_unrolled (GPUs in inference, where the 2 x 2 kernel does not serve), forced
  // here whatever the device, against the double reference: padding, ceil mode, strides 1 to 3,
  // dilation, 1-D; and the windows it leaves to other kernels (2 x 2, 3-D, more than 64 taps).
  struct Case {
    Shape x;
    PoolOptions o;
    bool unrolled;  // whether max_pool_forward_unrolled takes it
  };
  PoolOptions dilated = pool({3, 3}, {2, 2}, {2, 1}, {0, 1});
  dilated.dilations = {2, 3};
  PoolOptions padding_only = pool({2}, {1}, {1}, {1});  // taps at -1 and 4 of 4: y is 0
  padding_only.dilations = {5};
  const std::vector<Case> cases{
      {{2, 3, 9, 37}, pool({3, 3}, {2, 2}, {}, {}, true), true},     // squeezenet1_1's
      {{2, 2, 20, 20}, pool({3, 3}, {2, 2}, {1, 1}, {1, 1}), true},  // resnet's
      {{1, 2, 6, 17}, pool({3, 2}, {1, 3}, {1, 0}, {1, 1}), true},
      {{1, 2, 11, 13}, dilated, true},
      {{2, 3, 41}, pool({3}, {2}, {1}, {1}), true},  // 1-D
      {{1, 1, 4}, padding_only, true},
      {{2, 3, 8, 8}, pool({2, 2}, {2, 2}), false},
      {{1, 2, 5, 6, 4}, pool({2, 3, 2}, {2, 2, 1}), false},
      {{1, 1, 9, 9}, pool({9, 9}), false},
  };
  test::RowLoopsOverride rows;
  rows.use(false);
  // The first two cases' 432 and 400 outputs take a work-item's loop round more than once.
  REQUIRE(detail::Access::impl(clnn::test::context()).elementwise_plan.local_size < 400);
  for (const Case& k : cases) {
    test::ElementwiseGroupsOverride one_group;  // each work-item takes many outputs
    INFO(to_string(k.x) << " unrolled " << k.unrolled);
    CHECK(max_pool_launches_of(k.x, k.o, 5, "max_pool_forward_unrolled") == k.unrolled);
  }
  // A NaN makes each window that holds it NaN, wherever it lies in the window.
  Graph g;
  Value y = max_pool(g.input("x", {1, 1, 3, 7}), pool({3, 3}, {1, 1}));
  auto x = clnn::test::random_vector(21, 6);
  x[1 * 7 + 3] = std::nanf("");  // the middle row's column 3: windows 1, 2 and 3 of 5
  Executor ex(clnn::test::context(), g, {y}, Mode::inference);
  ex.set_input("x", x);
  ex.forward();
  const auto out = ex.value(y).to_host();
  REQUIRE(out.size() == 5);
  for (std::size_t i = 0; i < out.size(); ++i) {
    INFO("output " << i);
    CHECK(std::isnan(out[i]) == (i >= 1 && i <= 3));
  }
}

TEST_CASE("max_pool's gradient goes to each window's first maximum, per element and per line",
          "[pool]") {
  // Whole numbers in [-3, 3): ties in most windows, which the reference breaks by order (the
  // harness's finite differences cannot judge ties, so the gradient is compared alone).
  const PoolOptions o = pool({2, 2});
  clnn::test::RowLoopsOverride rows;
  for (bool per_line : {false, true})
    for (const Shape& shape : {Shape{2, 3, 7, 37}, Shape{2, 3, 6, 36}}) {  // windows tile it
      INFO("per line " << per_line << " x " << to_string(shape));
      const reference::Geometry geometry(shape, o.kernel, o.kernel, {}, {}, {}, false);
      const auto x = clnn::test::tied_values(0, std::size_t(element_count(shape)), 7);
      rows.use(per_line);
      Graph g;
      Value xv = g.parameter("x", shape, init::zeros());
      Value y = max_pool(xv, o);
      Value r = g.input("R", y.shape());
      Value loss = sum(mul(y, r));
      const auto weights = clnn::test::random_vector(std::size_t(element_count(y.shape())), 8);
      Executor ex(clnn::test::context(), g, {y, loss}, Mode::training);
      ex.set_parameter("x", x);
      ex.set_input("R", weights);
      ex.forward();
      ex.backward(loss);
      const Vec xd(x.begin(), x.end()), rd(weights.begin(), weights.end());
      CHECK(clnn::test::relative_error(ex.value(y).to_host(), reference::max_pool(geometry, xd)) ==
            0.0);
      CHECK(clnn::test::relative_error(ex.gradient(xv).to_host(),
                                       reference::max_pool_backward(geometry, xd, rd)) == 0.0);
    }
}

TEST_CASE("dilated max_pool", "[pool]") {
  PoolOptions o = pool({2, 3}, {1, 2}, {1, 0}, {0, 1});
  o.dilations = {2, 2};
  run_op_check(pool_check(true, {2, 2, 9, 10}, o));  // overlapping windows: the gathering path
  o.strides = {4, 6};
  run_op_check(pool_check(true, {1, 2, 9, 13}, o));  // disjoint windows: the scattering path
  Graph g;
  CHECK_THROWS_AS(avg_pool(g.input("x", {1, 1, 9, 9}), o), ShapeError);
}

TEST_CASE("max_pool and avg_pool in 1-D and 3-D", "[pool]") {
  for (bool is_max : {true, false}) {
    INFO("max " << is_max);
    run_op_check(pool_check(is_max, {2, 3, 11}, pool({3}, {2}, {1}, {0})));
    run_op_check(
        pool_check(is_max, {1, 2, 5, 6, 4}, pool({2, 3, 2}, {2, 2, 1}, {1, 1, 0}, {0, 1, 1})));
    run_op_check(pool_check(is_max, {1, 2, 5, 5, 5}, pool({2, 2, 2}, {2, 2, 2}, {}, {}, true)));
    // Windows that tile the input (max: backward writes each window whole, no fill).
    run_op_check(pool_check(is_max, {2, 2, 4, 6, 2}, pool({2, 3, 1}, {2, 3, 1})));
  }
}

TEST_CASE("max_pool_indices: each window's first maximum, row- and column-major", "[pool]") {
  struct Case {
    Shape x;
    PoolOptions o;
  };
  PoolOptions dilated = pool({2, 3}, {1, 2}, {1, 0}, {0, 1});
  dilated.dilations = {2, 2};
  const std::vector<Case> cases{
      {{2, 3, 11}, pool({3}, {2}, {1}, {0})},
      {{1, 2, 7, 9}, pool({3, 3}, {2, 2}, {1, 1}, {1, 1})},
      {{2, 2, 7, 6}, pool({3, 2}, {2, 2}, {1, 0}, {0, 1}, true)},
      {{2, 2, 9, 10}, dilated},
      {{1, 2, 5, 6, 4}, pool({2, 3, 2}, {2, 2, 1}, {1, 1, 0}, {0, 1, 1})},
  };
  for (const Case& k : cases)
    for (bool column_major : {false, true}) {
      INFO(to_string(k.x) << " column-major " << column_major);
      run_op_check(max_pool_indices_check(k.x, k.o, column_major));
    }
  Graph g;
  CHECK_THROWS_AS(max_pool_indices(g.input("x", {1, 1, 4097, 4097}), pool({2, 2})), ShapeError);
}

TEST_CASE("global_avg_pool", "[pool]") {
  for (Shape x : {Shape{2, 3, 5, 4}, Shape{2, 3, 7}, Shape{1, 2, 3, 4, 5}}) {
    reference::Geometry g(x, std::vector<std::int64_t>(x.begin() + 2, x.end()), {}, {}, {}, {});
    OpCheck c;
    c.shapes = {x};
    c.build = [](const std::vector<Value>& v) { return global_avg_pool(v[0]); };
    c.forward = [g](const std::vector<Vec>& in) { return reference::avg_pool(g, in[0], true); };
    c.backward = [g](const std::vector<Vec>& in, const Vec& gy) {
      return std::vector<Vec>{reference::avg_pool_backward(g, in[0], gy, true)};
    };
    run_op_check(c);
  }
  Graph g;
  CHECK(global_avg_pool(g.input("x", {2, 3, 5, 4})).shape() == Shape{2, 3, 1, 1});
  CHECK_THROWS_AS(global_avg_pool(g.input("y", {2, 3})), ShapeError);
}

TEST_CASE("pooling shapes: ceil mode and errors", "[pool][errors]") {
  Graph g;
  Value x = g.input("x", {1, 1, 6, 6});
  CHECK(max_pool(x, pool({3, 3}, {2, 2})).shape() == Shape{1, 1, 2, 2});
  CHECK(max_pool(x, pool({3, 3}, {2, 2}, {}, {}, true)).shape() == Shape{1, 1, 3, 3});
  CHECK(max_pool(x, pool({2, 2}, {2, 2}, {1, 1}, {1, 1}, true)).shape() == Shape{1, 1, 4, 4});
  CHECK_THROWS_WITH(max_pool(x, pool({7, 7})),
                    Catch::Contains("max_pool_") && Catch::Contains("padded input"));
  CHECK_THROWS_AS(max_pool(x, pool({2})), ShapeError);
  CHECK_THROWS_AS(max_pool(x, pool({2, 2}, {0, 1})), ShapeError);
  CHECK_THROWS_AS(avg_pool(x, pool({2, 2}, {}, {2, 2}, {2, 2})), ShapeError);
  CHECK_THROWS_AS(avg_pool(g.input("v", {4, 5}), pool({2})), ShapeError);
}
