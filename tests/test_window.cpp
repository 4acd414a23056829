// slice, pad (constant, reflect, edge), expand, tile, split, gather_elements, embedding, top_k and
// resize against the double-precision reference (tests/reference/window.hpp), forward and
// backward, at awkward sizes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "clnn/ops.hpp"
#include "op_checks.hpp"
#include "ops/strided_view.hpp"
#include "reference/window.hpp"

using namespace clnn;
using clnn::test::OpCheck;
using clnn::test::run_op_check;
using reference::Vec;

namespace {

OpCheck mapped_check(const Shape& in, const Shape& out, reference::CoordinateMap map,
                     std::function<Value(const Value&)> build, double pad = 0) {
  OpCheck c;
  c.shapes = {in};
  c.build = [build](const std::vector<Value>& v) { return build(v[0]); };
  c.forward = [=](const std::vector<Vec>& x) { return reference::mapped(x[0], in, out, map, pad); };
  c.backward = [=](const std::vector<Vec>&, const Vec& g) {
    return std::vector<Vec>{reference::mapped_backward(g, in, out, map)};
  };
  return c;
}

}  // namespace

TEST_CASE("slice: ranges, steps of both signs, clamping", "[ops][window]") {
  using reference::Range;
  SECTION("one axis with a step of 2, another reversed") {
    const Shape in{7, 33};
    auto c = mapped_check(in, {3, 11}, reference::slice_map({{1, 2, 3}, {32, -3, 11}}),
                          [](const Value& x) {
                            return slice(x, {0, 1}, {1, -1}, {6, -100}, {2, -3});
                          });
    run_op_check(c);
  }
  SECTION("negative starts and ends past the extent, rank 3, one element") {
    const Shape in{3, 1, 129};
    auto c =
        mapped_check(in, {1, 1, 127}, reference::slice_map({{2, 1, 1}, {0, 1, 1}, {1, 1, 127}}),
                     [](const Value& x) {
                       return slice(x, {0, 2}, {-1, 1}, {1000, -1});
                     });
    run_op_check(c);
  }
  Graph g;
  Value x = g.input("x", {4, 5});
  CHECK(slice(x, {1}, {0}, {5}).shape() == Shape{4, 5});
  CHECK_THROWS_AS(slice(x, {1}, {3}, {3}), ShapeError);            // empty
  CHECK_THROWS_AS(slice(x, {1}, {0}, {5}, {0}), ShapeError);       // step 0
  CHECK_THROWS_AS(slice(x, {2}, {0}, {5}), ShapeError);            // axis out of range
  CHECK_THROWS_AS(slice(x, {1, -1}, {0, 0}, {5, 5}), ShapeError);  // repeated axis
}

TEST_CASE("pad: constant (with cropping), reflect and edge", "[ops][window]") {
  using reference::PadKind;
  const Shape in{3, 7, 5};
  SECTION("constant") {
    auto c = mapped_check(
        in, {4, 8, 7}, reference::pad_map(in, {1, 0, 2}, PadKind::constant),
        [](const Value& x) {
          return pad(x, {1, 0, 2}, {0, 1, 0}, PadMode::constant, 1.5f);
        },
        1.5);
    run_op_check(c);
  }
  SECTION("constant with negative pads crops") {
    auto c = mapped_check(in, {3, 5, 5}, reference::pad_map(in, {0, -1, 0}, PadKind::constant),
                          [](const Value& x) {
                            return pad(x, {0, -1, 0}, {0, -1, 0});
                          });
    run_op_check(c);
  }
  for (auto [kind, mode] :
       {std::pair{PadKind::reflect, PadMode::reflect}, std::pair{PadKind::edge, PadMode::edge}}) {
    INFO("mode " << int(mode));
    auto c = mapped_check(in, {3, 13, 9}, reference::pad_map(in, {0, 4, 1}, kind),
                          [mode = mode](const Value& x) {
                            return pad(x, {0, 4, 1}, {0, 2, 3}, mode);
                          });
    run_op_check(c);
  }
  Graph g;
  Value x = g.input("x", {3, 4});
  CHECK_THROWS_AS(pad(x, {0, 4}, {0, 0}, PadMode::reflect), ShapeError);  // past the edge
  CHECK_THROWS_AS(pad(x, {0}, {0}), ShapeError);                          // one pair per axis
}

TEST_CASE("expand and tile", "[ops][window]") {
  SECTION("expand over leading and inner axes") {
    const Shape in{3, 1, 5};
    auto c =
        mapped_check(in, {2, 3, 33, 5}, reference::broadcast_map(in, 4, false), [](const Value& x) {
          return expand(x, {2, 1, 33, 1});
        });
    run_op_check(c);
  }
  SECTION("tile") {
    const Shape in{3, 7};
    auto c = mapped_check(in, {6, 21}, reference::broadcast_map(in, 2, true), [](const Value& x) {
      return tile(x, {2, 3});
    });
    run_op_check(c);
  }
  Graph g;
  Value x = g.input("x", {3, 4});
  CHECK_THROWS_AS(expand(x, {2, 4}), ShapeError);
  CHECK_THROWS_AS(tile(x, {2}), ShapeError);
}

// The host merges axes that read as one run (whole inner axes under a shifted outer one, adjacent
// broadcast axes): the merged launches must read what the unmerged ones did.
TEST_CASE("window: slices, pads and expands whose axes merge", "[ops][window]") {
  SECTION("a slice along the second axis with whole inner axes (swin's roll)") {
    const Shape in{2, 9, 5, 3};
    auto c = mapped_check(in, {2, 4, 5, 3},
                          reference::slice_map({{0, 1, 2}, {5, 1, 4}, {0, 1, 5}, {0, 1, 3}}),
                          [](const Value& x) { return slice(x, {1}, {5}, {9}); });
    run_op_check(c);
  }
  SECTION("a stepped slice above whole axes, a unit axis in between") {
    const Shape in{7, 1, 4, 6};
    auto c = mapped_check(in, {3, 1, 4, 6},
                          reference::slice_map({{1, 2, 3}, {0, 1, 1}, {0, 1, 4}, {0, 1, 6}}),
                          [](const Value& x) { return slice(x, {0}, {1}, {7}, {2}); });
    run_op_check(c);
  }
  SECTION("padding of a middle axis above a whole inner axis") {
    const Shape in{3, 4, 17};
    auto c = mapped_check(
        in, {3, 7, 17}, reference::pad_map(in, {0, 2, 0}, reference::PadKind::constant),
        [](const Value& x) {
          return pad(x, {0, 2, 0}, {0, 1, 0}, PadMode::constant, -0.5f);
        },
        -0.5);
    run_op_check(c);
  }
  SECTION("whole rows of float4s: a slice and padding, four floats at a time") {
    const Shape in{2, 9, 4, 3};
    auto c = mapped_check(in, {2, 4, 4, 3},
                          reference::slice_map({{0, 1, 2}, {5, 1, 4}, {0, 1, 4}, {0, 1, 3}}),
                          [](const Value& x) { return slice(x, {1}, {5}, {9}); });
    run_op_check(c);
    const Shape rows{3, 4, 16};
    auto p = mapped_check(
        rows, {3, 7, 16}, reference::pad_map(rows, {0, 2, 0}, reference::PadKind::constant),
        [](const Value& x) {
          return pad(x, {0, 2, 0}, {0, 1, 0}, PadMode::constant, 2.5f);
        },
        2.5);
    run_op_check(p);
  }
  SECTION("adjacent broadcast axes") {
    const Shape in{1, 1, 5};
    auto c =
        mapped_check(in, {4, 3, 5}, reference::broadcast_map(in, 3, false), [](const Value& x) {
          return expand(x, {4, 3, 5});
        });
    run_op_check(c);
  }
}

TEST_CASE("split into uneven parts, each with its gradient", "[ops][window]") {
  const Shape in{4, 9};
  OpCheck c;
  c.shapes = {in};
  // The parts joined back in reverse order: every part's gradient flows.
  c.build = [](const std::vector<Value>& v) {
    auto parts = split(v[0], 1, {2, 4, 3});
    return concat({parts[2], parts[0], parts[1]}, 1);
  };
  auto map = [](const std::vector<long>& out, std::vector<long>& inc) {
    inc[0] = out[0];
    inc[1] = out[1] < 3 ? out[1] + 6 : out[1] - 3;
    return true;
  };
  c.forward = [=](const std::vector<Vec>& x) { return reference::mapped(x[0], in, in, map); };
  c.backward = [=](const std::vector<Vec>&, const Vec& g) {
    return std::vector<Vec>{reference::mapped_backward(g, in, in, map)};
  };
  run_op_check(c);
  Graph g;
  CHECK_THROWS_AS(split(g.input("x", {4, 9}), 1, {2, 4}), ShapeError);
}

TEST_CASE("gather_elements: repeated and negative indices, a smaller index shape",
          "[ops][window]") {
  for (int axis : {0, 1, -1}) {
    const std::size_t a = std::size_t(axis < 0 ? axis + 3 : axis);
    const Shape x_shape{5, 7, 3};
    Shape index_shape{4, 6, 2};
    index_shape[a] = 9;
    INFO("axis " << axis);
    OpCheck c;
    c.shapes = {x_shape, index_shape};
    c.differentiable = {true, false};
    // Whole numbers in [-extent, extent): repeats are certain with 9 draws from 5 or 7 (or 3).
    c.make = [=](std::size_t input, std::size_t n, std::uint32_t seed) {
      auto v = clnn::test::random_vector(n, seed);
      if (input == 1)
        for (auto& e : v) e = std::floor(e * float(x_shape[a]));
      return v;
    };
    c.build = [axis](const std::vector<Value>& v) { return gather_elements(v[0], v[1], axis); };
    auto map = [=](const std::vector<Vec>& in) {
      return [=](const std::vector<long>& out, std::vector<long>& src) {
        src = out;
        long index = long(in[1][reference::flat_index(out, index_shape)]);
        src[a] = index < 0 ? index + long(x_shape[a]) : index;
        return true;
      };
    };
    c.forward = [=](const std::vector<Vec>& in) {
      return reference::mapped(in[0], x_shape, index_shape, map(in));
    };
    c.backward = [=](const std::vector<Vec>& in, const Vec& g) {
      return std::vector<Vec>{reference::mapped_backward(g, x_shape, index_shape, map(in)), {}};
    };
    run_op_check(c);
  }
  Graph g;
  Value x = g.input("x", {3, 4});
  CHECK_THROWS_AS(gather_elements(x, g.input("i", {3}), 0), ShapeError);     // rank
  CHECK_THROWS_AS(gather_elements(x, g.input("j", {3, 5}), 0), ShapeError);  // past x
  // An index outside the axis, or not a whole number, reads NaN.
  Value y = gather_elements(x, g.input("k", {1, 3}), 1);
  Executor ex(clnn::test::context(), g, {y}, Mode::inference);
  ex.set_input("x", std::vector<float>(12, 1.0f));
  ex.set_input("k", {-4.0f, 4.0f, 0.5f});
  ex.forward();
  const auto got = ex.value(y).to_host();
  CHECK(got[0] == 1.0f);
  CHECK(std::isnan(got[1]));
  CHECK(std::isnan(got[2]));
}

TEST_CASE("top_k: values and positions along any axis, ties to the lower position",
          "[ops][window]") {
  const Shape x_shape{4, 9, 3};
  for (int axis : {0, 1, -1})
    for (bool largest : {true, false}) {
      const std::size_t a = std::size_t(axis < 0 ? axis + 3 : axis);
      const std::int64_t k = axis == 1 ? 5 : 2;
      Shape out_shape = x_shape;
      out_shape[a] = k;
      INFO("axis " << axis << " largest " << largest);
      auto positions = [=](const std::vector<Vec>& in) {
        return reference::top_k_positions(in[0], x_shape, a, k, largest);
      };
      auto map = [=](const std::vector<Vec>& in) {
        const Vec p = positions(in);
        return [=](const std::vector<long>& out, std::vector<long>& src) {
          src = out;
          src[a] = long(p[reference::flat_index(out, out_shape)]);
          return true;
        };
      };
      OpCheck values;
      values.shapes = {x_shape};
      values.build = [=](const std::vector<Value>& v) {
        return top_k(v[0], k, axis, largest).values;
      };
      values.forward = [=](const std::vector<Vec>& in) {
        return reference::mapped(in[0], x_shape, out_shape, map(in));
      };
      // Distinct random values: the reference's central differences move no element past
      // another (the positions case below has ties).
      values.backward = [=](const std::vector<Vec>& in, const Vec& g) {
        return std::vector<Vec>{reference::mapped_backward(g, x_shape, out_shape, map(in))};
      };
      run_op_check(values);

      run_op_check(clnn::test::top_k_positions_check(x_shape, k, axis, largest));
    }
  Graph g;
  Value x = g.input("x", {3, 4});
  CHECK_THROWS_AS(top_k(x, 5, 1), ShapeError);
  CHECK_THROWS_AS(top_k(x, 0, 1), ShapeError);
  CHECK_THROWS_AS(top_k(x, 1, 2), ShapeError);
  // NaN ranks above every number: first when largest, last when smallest.
  const TopK high = top_k(x, 4, 1, true), low = top_k(x, 4, 1, false);
  Executor ex(clnn::test::context(), g, {high.positions, low.positions}, Mode::inference);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  ex.set_input("x", {1, nan, 3, 2, 0, 0, -1, nan, nan, 5, nan, 4});
  ex.forward();
  CHECK(ex.value(high.positions).to_host() ==
        std::vector<float>{1, 2, 3, 0, 3, 0, 1, 2, 0, 2, 1, 3});
  CHECK(ex.value(low.positions).to_host() ==
        std::vector<float>{0, 3, 2, 1, 2, 0, 1, 3, 3, 1, 0, 2});
}

TEST_CASE("embedding: repeated and negative indices; the gradient sums the repeats",
          "[ops][window]") {
  struct Case {
    Shape table, indices;
  };
  // A few indices, and more than a thousand (a sort of a length not a power of two) over a
  // table with rows nothing names.
  for (const Case& k : {Case{{7, 13}, {3, 5}}, Case{{600, 5}, {3, 347}}}) {
    INFO(to_string(k.table) << " by " << to_string(k.indices));
    const long rows = long(k.table[0]), d = long(k.table[1]), n = long(element_count(k.indices));
    Shape out = k.indices;
    out.push_back(d);
    OpCheck c;
    c.shapes = {k.table, k.indices};
    c.differentiable = {true, false};
    c.make = [=](std::size_t input, std::size_t count, std::uint32_t seed) {
      auto v = clnn::test::random_vector(count, seed);
      // Whole numbers in [-rows, rows) for the small table (repeats certain), [0, 400) for the
      // large one (some rows never named).
      if (input == 1)
        for (auto& e : v) e = rows < 100 ? std::floor(e * float(rows)) : std::floor((e + 1) * 200);
      return v;
    };
    c.build = [](const std::vector<Value>& v) { return embedding(v[0], v[1]); };
    auto map = [=](const std::vector<Vec>& in) {
      return [=](const std::vector<long>& o, std::vector<long>& src) {
        const long index = long(in[1][std::size_t(o[0] * (n / long(k.indices[0])) + o[1])]);
        src = {index < 0 ? index + rows : index, o[2]};
        return true;
      };
    };
    c.forward = [=](const std::vector<Vec>& in) {
      return reference::mapped(in[0], k.table, out, map(in));
    };
    c.backward = [=](const std::vector<Vec>& in, const Vec& g) {
      return std::vector<Vec>{reference::mapped_backward(g, k.table, out, map(in)), {}};
    };
    run_op_check(c);
  }
  Graph g;
  CHECK_THROWS_AS(embedding(g.input("t", {7}), g.input("i", {3})), ShapeError);
}

TEST_CASE("resize: nearest and linear in every coordinate mode, up and down", "[ops][window]") {
  struct Case {
    Shape in, out;
    ResizeOptions o;
  };
  ResizeOptions nearest_asym;
  nearest_asym.coordinates = ResizeCoordinates::asymmetric;
  nearest_asym.rounding = ResizeRounding::floor;
  nearest_asym.scales = {1.0f, 1.0f, 2.5f, 0.6f};
  ResizeOptions nearest_ceil = nearest_asym;
  nearest_ceil.scales.clear();
  nearest_ceil.coordinates = ResizeCoordinates::half_pixel;
  nearest_ceil.rounding = ResizeRounding::round_prefer_ceil;
  ResizeOptions linear;
  linear.mode = ResizeMode::linear;
  ResizeOptions corners = linear;
  corners.coordinates = ResizeCoordinates::align_corners;
  ResizeOptions torch = linear;
  torch.coordinates = ResizeCoordinates::pytorch_half_pixel;
  for (const Case& c :
       {Case{{2, 3, 4, 5}, {2, 3, 10, 3}, nearest_asym},
        Case{{2, 3, 4, 5}, {2, 3, 7, 2}, nearest_ceil}, Case{{1, 2, 5, 4}, {1, 2, 9, 7}, linear},
        Case{{1, 2, 5, 4}, {1, 2, 3, 1}, corners}, Case{{2, 6, 5}, {2, 6, 1}, torch},
        Case{{3, 7}, {5, 16}, torch}}) {
    INFO(to_string(c.in) << " -> " << to_string(c.out));
    const auto taps = [c](const std::vector<Vec>&) {
      return reference::resize_taps(c.in, c.out, c.o);
    };
    OpCheck check;
    check.shapes = {c.in};
    check.build = [c](const std::vector<Value>& v) { return resize(v[0], c.out, c.o); };
    check.forward = [=](const std::vector<Vec>& in) {
      const auto t = taps(in);
      Vec y(reference::numel(c.out), 0.0);
      for (std::size_t k = 0; k < t.out.size(); ++k) y[t.out[k]] += t.weight[k] * in[0][t.in[k]];
      return y;
    };
    check.backward = [=](const std::vector<Vec>& in, const Vec& g) {
      const auto t = taps(in);
      Vec gx(reference::numel(c.in), 0.0);
      for (std::size_t k = 0; k < t.out.size(); ++k) gx[t.in[k]] += t.weight[k] * g[t.out[k]];
      return std::vector<Vec>{gx};
    };
    run_op_check(check);
  }
  Graph g;
  const Value x = g.input("x", {2, 3});
  CHECK_THROWS_AS(resize(x, {2, 3, 1}), ShapeError);
  CHECK_THROWS_AS(resize(x, {2, 0}), ShapeError);
  ResizeOptions bad;
  bad.scales = {1.0f, -2.0f};
  CHECK_THROWS_AS(resize(x, {2, 3}, bad), ShapeError);
  bad.scales = {1.0f, 0.5f};  // gives 1 column, not 12: the gradient's window would miss outputs
  CHECK_THROWS_AS(resize(x, {2, 12}, bad), ShapeError);
}

TEST_CASE("StridedView composes reshapes, transposes and slices into strides", "[window]") {
  using clnn::detail::SliceAxis;
  using clnn::detail::StridedView;
  using Strides = std::vector<std::int64_t>;
  SECTION("a head of k from a packed projection, as PyTorch's attention splits it") {
    // P [S 3, B 2, 3E 12], E = 4 as H 2 x D 2: k[b, h, s, d] = P[s, b, E + h D + d].
    StridedView v(Shape{3, 2, 12});
    REQUIRE(v.reshape({3, 2, 3, 4}));
    REQUIRE(v.reshape({1, 3, 2, 3, 4}));
    REQUIRE(v.permute({3, 1, 2, 0, 4}));
    REQUIRE(v.reshape({3, 3, 2, 4}));
    REQUIRE(v.slice({{1, 1, 1}, {0, 1, 3}, {0, 1, 2}, {0, 1, 4}}));
    REQUIRE(v.reshape({3, 2, 4}));
    REQUIRE(v.reshape({3, 4, 2}));  // [S, B*H, D]: B and H are not one run, yet
    CHECK_FALSE(v.tensor_view());
    REQUIRE(v.permute({1, 0, 2}));
    REQUIRE(v.reshape({2, 2, 3, 2}));  // [B, H, S, D]
    const auto view = v.tensor_view();
    REQUIRE(view);
    CHECK(view->shape == Shape{2, 2, 3, 2});
    CHECK(view->offset == 4);
    CHECK(view->strides == Strides{12, 2, 24, 1});
  }
  SECTION("a transposed matrix read as rows is no strided view until transposed back") {
    StridedView v(Shape{2, 3});
    REQUIRE(v.permute({1, 0}));
    REQUIRE(v.reshape({6}));
    CHECK_FALSE(v.tensor_view());
    REQUIRE(v.reshape({3, 2}));
    REQUIRE(v.tensor_view());
    CHECK(v.tensor_view()->strides == Strides{1, 3});
    CHECK_FALSE(v.reshape({2, 3}));  // would split the 3 rows' atom in 2
  }
  SECTION("slices with steps, and extents of 1") {
    StridedView v(Shape{10, 4});
    REQUIRE(v.slice({{1, 3, 3}, {2, 1, 1}}));
    CHECK(v.shape() == Shape{3, 1});
    CHECK(v.tensor_view()->offset == 6);
    CHECK(v.tensor_view()->strides == Strides{12, 1});
    REQUIRE(v.reshape({1, 3}));
    CHECK(v.tensor_view()->strides == Strides{1, 12});
    CHECK_FALSE(v.slice({{0, 1, 1}, {2, 1, 2}}));  // past the end
    StridedView w(Shape{4, 3});
    CHECK_FALSE(w.permute({0, 0}));
    CHECK_FALSE(w.reshape({5, 2}));
  }
}
