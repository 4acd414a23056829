// scaled_dot_product_attention against the double-precision reference (tests/reference/
// attention.hpp), forward and backward, at sizes that cross the kernels' blocks unevenly, with
// masks that broadcast, hide keys and hide whole rows, and causality.
#include <catch2/catch.hpp>

#include <cmath>

#include "attention_checks.hpp"
#include "clnn/ops.hpp"
#include "context_impl.hpp"
#include "plan_override.hpp"
#include "support.hpp"

using namespace clnn;
using clnn::test::attention_check;
using clnn::test::OpCheck;
using clnn::test::run_op_check;
using reference::Vec;

namespace {

// The test context's device taken to have `count` compute units, until the scope ends.
class ComputeUnits {
 public:
  explicit ComputeUnits(std::uint32_t count) { units_ = count; }
  ~ComputeUnits() { units_ = saved_; }
  ComputeUnits(const ComputeUnits&) = delete;
  ComputeUnits& operator=(const ComputeUnits&) = delete;

 private:
  std::uint32_t& units_ = detail::Access::impl(test::context()).info.compute_units;
  const std::uint32_t saved_ = units_;
};

// A check run with forward's kernel for CPUs (an item per few queries) and for GPUs (tiles).
void run_both_styles(const OpCheck& check) {
  for (const bool rows : {true, false}) {
    INFO("CPUs' forward kernel " << rows);
    test::RowLoopsOverride style;
    style.use(rows);
    run_op_check(check);
  }
}

// The tiled kernels alone, as a GPU runs them.
class GpuStyle {
 public:
  GpuStyle() { style_.use(false); }

 private:
  test::RowLoopsOverride style_;
};

}  // namespace

TEST_CASE("scaled_dot_product_attention forward and backward", "[attention]") {
  SECTION("heads, head sizes that differ, lengths under a block") {
    run_both_styles(attention_check({{2, 3, 5, 8}, {2, 3, 7, 8}, {2, 3, 7, 6}}));
  }
  SECTION("one batch dimension, keys over several blocks, a mask over queries and keys") {
    run_both_styles(
        attention_check({{2, 37, 20}, {2, 70, 20}, {2, 70, 12}, Shape{37, 70}, false, 0.3f}));
  }
  SECTION("causal with more queries than keys, a mask per head broadcast over queries") {
    run_both_styles(
        attention_check({{1, 2, 70, 16}, {1, 2, 45, 16}, {1, 2, 45, 16}, Shape{2, 1, 45}, true}));
  }
  SECTION("a mask repeating along the first batch dimension (windows of several images)") {
    run_both_styles(attention_check({{6, 2, 5, 8}, {6, 2, 7, 8}, {6, 2, 7, 8}, Shape{3, 1, 5, 7}}));
    run_both_styles(attention_check({{4, 9, 8}, {4, 11, 8}, {4, 11, 4}, Shape{2, 9, 11}}));
  }
  SECTION("a query whose keys are all hidden gets zeros and no gradient") {
    run_both_styles(attention_check({{1, 1, 4, 4}, {1, 1, 6, 4}, {1, 1, 6, 4}, Shape{4, 6}}, 2));
  }
  SECTION("head sizes of 64 and 128 (fewer queries an item on CPUs)") {
    run_both_styles(attention_check({{2, 11, 64}, {2, 9, 64}, {2, 9, 64}, Shape{11, 9}}));
    run_both_styles(attention_check({{1, 2, 13, 64}, {1, 2, 19, 64}, {1, 2, 19, 128}}));
  }
  SECTION("one head without batch dimensions, head size above a lane's share") {
    run_both_styles(attention_check({{9, 40}, {17, 40}, {17, 33}}));
  }
}

TEST_CASE("scaled_dot_product_attention under a GPU's 48 KiB of local memory", "[attention]") {
  // Smaller blocks than PoCL's local memory allows, as the kernels run on NVIDIA's devices.
  struct LocalMemory {
    std::uint64_t& size = detail::Access::impl(test::context()).info.local_mem_size;
    const std::uint64_t saved = size;
    ~LocalMemory() { size = saved; }
  } local;
  local.size = 48 * 1024;
  const GpuStyle tiles;
  run_op_check(
      attention_check({{1, 1, 40, 64}, {1, 1, 45, 64}, {1, 1, 45, 40}, Shape{1, 1, 45}, true}));
  run_op_check(attention_check({{1, 20, 100}, {1, 40, 100}, {1, 40, 12}, Shape{20, 40}}));
}

TEST_CASE("scaled_dot_product_attention: backward's work-groups walk several key blocks",
          "[attention]") {
  // Two compute units: backward wants 4 work-groups, so 2 heads share each head's 3 key blocks
  // (of 32 keys where local memory allows) between 2 of them, with a copy of gq each, and 8
  // heads take one each.
  const ComputeUnits units(2);
  const GpuStyle tiles;
  run_op_check(
      attention_check({{1, 2, 70, 16}, {1, 2, 70, 16}, {1, 2, 70, 16}, std::nullopt, true}));
  run_op_check(attention_check({{8, 37, 16}, {8, 70, 16}, {8, 70, 12}, Shape{37, 70}}));
}

TEST_CASE("scaled_dot_product_attention: forward takes fewer rows a group to fill the device",
          "[attention]") {
  // 500 compute units: 2 heads of 70 queries take blocks of 8 rows (18 groups) instead of 64.
  const ComputeUnits units(500);
  const GpuStyle tiles;
  run_op_check(
      attention_check({{1, 2, 70, 16}, {1, 2, 45, 16}, {1, 2, 45, 12}, Shape{2, 1, 45}, true}));
  run_op_check(attention_check({{2, 37, 20}, {2, 70, 20}, {2, 70, 12}, Shape{37, 70}}));
}

TEST_CASE("scaled_dot_product_attention: self-attention sums the three gradients", "[attention]") {
  const Shape x{2, 9, 8};
  reference::Attention a;
  a.heads = 2;
  a.lq = a.lk = 9;
  a.d = a.dv = 8;
  a.scale = 1.0 / std::sqrt(8.0);
  a.causal = true;
  OpCheck c;
  c.shapes = {x};
  c.build = [](const std::vector<Value>& v) {
    return scaled_dot_product_attention(v[0], v[0], v[0], std::nullopt, true);
  };
  c.forward = [=](const std::vector<Vec>& in) {
    return reference::attention(a, in[0], in[0], in[0]);
  };
  c.backward = [=](const std::vector<Vec>& in, const Vec& g) {
    auto grads = reference::attention_backward(a, in[0], in[0], in[0], g);
    for (std::size_t i = 0; i < grads[0].size(); ++i) grads[0][i] += grads[1][i] + grads[2][i];
    return std::vector<Vec>{grads[0]};
  };
  run_op_check(c);
}

TEST_CASE("scaled_dot_product_attention rejects operands that do not fit", "[attention]") {
  Graph g;
  const Value q = g.input("q", {2, 4, 8}), k = g.input("k", {2, 6, 8}), v = g.input("v", {2, 6, 5});
  CHECK_THROWS_AS(scaled_dot_product_attention(q, g.input("k2", {2, 6, 7}), v), ShapeError);
  CHECK_THROWS_AS(scaled_dot_product_attention(q, k, g.input("v2", {2, 5, 5})), ShapeError);
  CHECK_THROWS_AS(scaled_dot_product_attention(q, g.input("k3", {3, 6, 8}), v), ShapeError);
  CHECK_THROWS_AS(scaled_dot_product_attention(q, k, g.input("v3", {2, 6})), ShapeError);
  CHECK_THROWS_AS(scaled_dot_product_attention(q, k, v, g.input("m", {4, 5})), ShapeError);
  CHECK_THROWS_AS(scaled_dot_product_attention(q, k, v, g.input("m2", {1, 2, 4, 6})), ShapeError);
  // A first dimension that neither matches nor divides the batch's, or repeats below it.
  const Value q6 = g.input("q6", {6, 2, 4, 8}), k6 = g.input("k6", {6, 2, 6, 8});
  CHECK_THROWS_AS(scaled_dot_product_attention(q6, k6, k6, g.input("m3", {4, 2, 4, 6})),
                  ShapeError);
  const Value q4 = g.input("q4", {2, 4, 4, 8}), k4 = g.input("k4", {2, 4, 6, 8});
  CHECK_THROWS_AS(scaled_dot_product_attention(q4, k4, k4, g.input("m4", {1, 2, 4, 6})),
                  ShapeError);
  const Value big = g.input("big", {1, 2, 300});
  CHECK_THROWS_AS(scaled_dot_product_attention(big, big, big), ShapeError);
  CHECK_THROWS_AS(scaled_dot_product_attention(q, k, v, std::nullopt, false, NAN), Error);
  const Value r5 = g.input("r5", {1, 1, 1, 2, 8});
  CHECK_THROWS_AS(scaled_dot_product_attention(r5, r5, r5), ShapeError);
}
