// An OpCheck for scaled_dot_product_attention against the double-precision reference
// (tests/reference/attention.hpp), for its tests and the Oclgrind run.
#pragma once

#include <cmath>
#include <optional>
#include <utility>

#include "clnn/ops.hpp"
#include "op_harness.hpp"
#include "reference/attention.hpp"

namespace clnn::test {

struct Case {
  Case(Shape q_, Shape k_, Shape v_, std::optional<Shape> mask_ = std::nullopt,
       bool causal_ = false, std::optional<float> scale_ = std::nullopt)
      : q(std::move(q_)),
        k(std::move(k_)),
        v(std::move(v_)),
        mask(std::move(mask_)),
        causal(causal_),
        scale(scale_) {}
  Shape q, k, v;
  std::optional<Shape> mask;
  bool causal;
  std::optional<float> scale;
};

// The flat index of a mask element (right-aligned against [batch..., lq, lk], broadcast where
// its extent is 1, repeating where it divides the batch's) for head h of `inner` heads per batch
// entry.
inline std::size_t mask_index(const Shape& mask, const Shape& full, std::size_t inner,
                              std::size_t h, std::size_t i, std::size_t j) {
  std::vector<std::size_t> at(full.size());
  at[full.size() - 1] = j;
  at[full.size() - 2] = i;
  if (full.size() == 4) {
    at[0] = h / inner;
    at[1] = h % inner;
  } else if (full.size() == 3) {
    at[0] = h;
  }
  std::size_t index = 0;
  for (std::size_t m = 0; m < mask.size(); ++m) {
    const std::size_t d = full.size() - mask.size() + m;
    index = index * std::size_t(mask[m]) + at[d] % std::size_t(mask[m]);
  }
  return index;
}

// The mask's values: uniform in [-1, 1] with every seventh key hidden, and `hidden_row` (if
// any) hidden whole.
inline std::vector<float> mask_values(std::size_t n, std::uint32_t seed, const Shape& mask,
                                      std::optional<std::size_t> hidden_row) {
  auto values = random_vector(n, seed);
  const std::size_t lk = std::size_t(mask.back());
  const std::size_t lq = mask.size() > 1 ? std::size_t(mask[mask.size() - 2]) : 1;
  for (std::size_t e = 0; e < n; ++e)
    if (e % 7 == 3 || (hidden_row && (e / lk) % lq == *hidden_row)) values[e] = -INFINITY;
  return values;
}

inline OpCheck attention_check(const Case& c,
                               std::optional<std::size_t> hidden_row = std::nullopt) {
  const std::size_t rank = c.q.size();
  reference::Attention a;
  a.heads = std::size_t(element_count(c.q) / (c.q[rank - 2] * c.q[rank - 1]));
  a.lq = std::size_t(c.q[rank - 2]);
  a.lk = std::size_t(c.k[rank - 2]);
  a.d = std::size_t(c.q[rank - 1]);
  a.dv = std::size_t(c.v[rank - 1]);
  a.scale = c.scale ? double(*c.scale) : 1.0 / std::sqrt(double(a.d));
  a.causal = c.causal;
  const std::size_t inner = rank == 4 ? std::size_t(c.q[1]) : 1;
  Shape full(c.q.begin(), c.q.end() - 1);
  full.push_back(c.k[rank - 2]);

  OpCheck check;
  check.shapes = {c.q, c.k, c.v};
  if (c.mask) {
    check.shapes.push_back(*c.mask);
    check.differentiable = {true, true, true, false};
    check.make = [c, hidden_row](std::size_t input, std::size_t n, std::uint32_t seed) {
      return input == 3 ? mask_values(n, seed, *c.mask, hidden_row) : random_vector(n, seed);
    };
  }
  auto with_mask = [=](const std::vector<Vec>& in) {
    reference::Attention r = a;
    if (c.mask) {
      const Vec mask = in[3];
      const Shape mask_shape = *c.mask;
      r.mask = [=](std::size_t h, std::size_t i, std::size_t j) {
        return mask[mask_index(mask_shape, full, inner, h, i, j)];
      };
    }
    return r;
  };
  check.build = [c](const std::vector<Value>& v) {
    return scaled_dot_product_attention(
        v[0], v[1], v[2], c.mask ? std::optional<Value>(v[3]) : std::nullopt, c.causal, c.scale);
  };
  check.forward = [=](const std::vector<Vec>& in) {
    return reference::attention(with_mask(in), in[0], in[1], in[2]);
  };
  check.backward = [=](const std::vector<Vec>& in, const Vec& g) {
    auto grads = reference::attention_backward(with_mask(in), in[0], in[1], in[2], g);
    if (c.mask) grads.emplace_back();
    return grads;
  };
  return check;
}

}  // namespace clnn::test
