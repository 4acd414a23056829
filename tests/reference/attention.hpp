// Naive double-precision scaled dot-product attention, forward and backward: each head's whole
// score matrix, an ordinary softmax (a row whose keys are all hidden gives zeros), then the
// products.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <vector>

namespace clnn::reference {

using Vec = std::vector<double>;

struct Attention {
  std::size_t heads = 1, lq = 1, lk = 1, d = 1, dv = 1;
  double scale = 1;
  bool causal = false;
  // The additive mask at (head, query, key); null: none.
  std::function<double(std::size_t, std::size_t, std::size_t)> mask;
};

// The probabilities [heads, lq, lk].
inline Vec attention_probabilities(const Attention& a, const Vec& q, const Vec& k) {
  Vec p(a.heads * a.lq * a.lk);
  for (std::size_t h = 0; h < a.heads; ++h)
    for (std::size_t i = 0; i < a.lq; ++i) {
      double* row = &p[(h * a.lq + i) * a.lk];
      double most = -INFINITY;
      for (std::size_t j = 0; j < a.lk; ++j) {
        double s = 0;
        for (std::size_t c = 0; c < a.d; ++c)
          s += q[(h * a.lq + i) * a.d + c] * k[(h * a.lk + j) * a.d + c];
        s *= a.scale;
        if (a.mask) s += a.mask(h, i, j);
        if (a.causal && j > i) s = -INFINITY;
        row[j] = s;
        most = std::max(most, s);
      }
      double total = 0;
      for (std::size_t j = 0; j < a.lk; ++j) {
        row[j] = most == -INFINITY ? 0.0 : std::exp(row[j] - most);
        total += row[j];
      }
      for (std::size_t j = 0; j < a.lk; ++j) row[j] = total > 0 ? row[j] / total : 0.0;
    }
  return p;
}

inline Vec attention(const Attention& a, const Vec& q, const Vec& k, const Vec& v) {
  const Vec p = attention_probabilities(a, q, k);
  Vec out(a.heads * a.lq * a.dv, 0.0);
  for (std::size_t h = 0; h < a.heads; ++h)
    for (std::size_t i = 0; i < a.lq; ++i)
      for (std::size_t j = 0; j < a.lk; ++j)
        for (std::size_t c = 0; c < a.dv; ++c)
          out[(h * a.lq + i) * a.dv + c] +=
              p[(h * a.lq + i) * a.lk + j] * v[(h * a.lk + j) * a.dv + c];
  return out;
}

// Gradients of q, k and v given the output's gradient g.
inline std::vector<Vec> attention_backward(const Attention& a, const Vec& q, const Vec& k,
                                           const Vec& v, const Vec& g) {
  const Vec p = attention_probabilities(a, q, k);
  Vec gq(q.size(), 0.0), gk(k.size(), 0.0), gv(v.size(), 0.0);
  for (std::size_t h = 0; h < a.heads; ++h)
    for (std::size_t i = 0; i < a.lq; ++i) {
      const double* pi = &p[(h * a.lq + i) * a.lk];
      const double* gi = &g[(h * a.lq + i) * a.dv];
      Vec dp(a.lk, 0.0);
      double weighted = 0;
      for (std::size_t j = 0; j < a.lk; ++j) {
        for (std::size_t c = 0; c < a.dv; ++c) {
          dp[j] += gi[c] * v[(h * a.lk + j) * a.dv + c];
          gv[(h * a.lk + j) * a.dv + c] += pi[j] * gi[c];
        }
        weighted += pi[j] * dp[j];
      }
      for (std::size_t j = 0; j < a.lk; ++j) {
        const double ds = pi[j] * (dp[j] - weighted) * a.scale;
        for (std::size_t c = 0; c < a.d; ++c) {
          gq[(h * a.lq + i) * a.d + c] += ds * k[(h * a.lk + j) * a.d + c];
          gk[(h * a.lk + j) * a.d + c] += ds * q[(h * a.lq + i) * a.d + c];
        }
      }
    }
  return {gq, gk, gv};
}

}  // namespace clnn::reference
