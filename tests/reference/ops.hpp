// Naive double-precision references for the operators: the oracle every kernel is checked
// against. Tensors are flat row-major vectors with their shapes given alongside.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

#include "clnn/shape.hpp"

namespace clnn::reference {

using Vec = std::vector<double>;

inline std::size_t numel(const Shape& s) {
  std::size_t n = 1;
  for (auto d : s) n *= std::size_t(d);
  return n;
}

// ---- matmul: C[b] = op(A[b]) op(B[b]); 2-D operands are shared by every batch ----------------

struct MatmulDims {
  std::size_t batch, m, n, k;
  bool a_batched, b_batched;
};

inline MatmulDims matmul_dims(const Shape& a, const Shape& b, bool ta, bool tb) {
  const auto ra = a.size(), rb = b.size();
  MatmulDims d{};
  d.a_batched = ra == 3;
  d.b_batched = rb == 3;
  d.batch = d.a_batched ? std::size_t(a[0]) : d.b_batched ? std::size_t(b[0]) : 1;
  d.m = std::size_t(ta ? a[ra - 1] : a[ra - 2]);
  d.k = std::size_t(ta ? a[ra - 2] : a[ra - 1]);
  d.n = std::size_t(tb ? b[rb - 2] : b[rb - 1]);
  return d;
}

inline double a_at(const Vec& a, const MatmulDims& d, bool ta, std::size_t bt, std::size_t i,
                   std::size_t kk) {
  std::size_t base = d.a_batched ? bt * d.m * d.k : 0;
  return ta ? a[base + kk * d.m + i] : a[base + i * d.k + kk];
}
inline double b_at(const Vec& b, const MatmulDims& d, bool tb, std::size_t bt, std::size_t kk,
                   std::size_t j) {
  std::size_t base = d.b_batched ? bt * d.k * d.n : 0;
  return tb ? b[base + j * d.k + kk] : b[base + kk * d.n + j];
}

inline Vec matmul(const Vec& a, const Shape& sa, const Vec& b, const Shape& sb, bool ta, bool tb) {
  auto d = matmul_dims(sa, sb, ta, tb);
  Vec c(d.batch * d.m * d.n, 0.0);
  for (std::size_t bt = 0; bt < d.batch; ++bt)
    for (std::size_t i = 0; i < d.m; ++i)
      for (std::size_t j = 0; j < d.n; ++j) {
        double acc = 0;
        for (std::size_t kk = 0; kk < d.k; ++kk)
          acc += a_at(a, d, ta, bt, i, kk) * b_at(b, d, tb, bt, kk, j);
        c[(bt * d.m + i) * d.n + j] = acc;
      }
  return c;
}

// Gradients of sum(C * gc) with respect to A and B, accumulated element by element.
inline std::pair<Vec, Vec> matmul_backward(const Vec& a, const Shape& sa, const Vec& b,
                                           const Shape& sb, bool ta, bool tb, const Vec& gc) {
  auto d = matmul_dims(sa, sb, ta, tb);
  Vec ga(a.size(), 0.0), gb(b.size(), 0.0);
  for (std::size_t bt = 0; bt < d.batch; ++bt)
    for (std::size_t i = 0; i < d.m; ++i)
      for (std::size_t j = 0; j < d.n; ++j) {
        const double g = gc[(bt * d.m + i) * d.n + j];
        for (std::size_t kk = 0; kk < d.k; ++kk) {
          std::size_t abase = d.a_batched ? bt * d.m * d.k : 0;
          std::size_t bbase = d.b_batched ? bt * d.k * d.n : 0;
          std::size_t ai = abase + (ta ? kk * d.m + i : i * d.k + kk);
          std::size_t bi = bbase + (tb ? j * d.k + kk : kk * d.n + j);
          ga[ai] += g * b[bi];
          gb[bi] += g * a[ai];
        }
      }
  return {ga, gb};
}

// ---- elementwise ------------------------------------------------------------------------------

enum class Binary { add, sub, mul, div, pow, prelu };

inline double binary_value(Binary op, double x, double y) {
  switch (op) {
    case Binary::add:
      return x + y;
    case Binary::sub:
      return x - y;
    case Binary::mul:
      return x * y;
    case Binary::div:
      return x / y;
    case Binary::pow:
      return std::pow(x, y);
    case Binary::prelu:
      return x < 0 ? y * x : x;
  }
  return NAN;
}

// d/dx (which 0) or d/dy (which 1).
inline double binary_partial(Binary op, double x, double y, int which) {
  switch (op) {
    case Binary::add:
      return 1;
    case Binary::sub:
      return which ? -1 : 1;
    case Binary::mul:
      return which ? x : y;
    case Binary::div:
      return which ? -x / (y * y) : 1 / y;
    case Binary::pow:
      return which ? std::pow(x, y) * std::log(x) : y * std::pow(x, y - 1);
    case Binary::prelu:
      return which ? (x < 0 ? x : 0) : (x < 0 ? y : 1);
  }
  return NAN;
}

// numpy broadcasting: the output shape, and for each output element the two operand indices.
struct Broadcast {
  Shape out;
  std::vector<std::size_t> ia, ib;
};

inline Broadcast broadcast(const Shape& sa, const Shape& sb) {
  Broadcast r;
  const std::size_t rank = std::max(sa.size(), sb.size());
  auto padded = [&](const Shape& s) {
    Shape p(rank - s.size(), 1);
    p.insert(p.end(), s.begin(), s.end());
    return p;
  };
  Shape pa = padded(sa), pb = padded(sb);
  for (std::size_t k = 0; k < rank; ++k) r.out.push_back(std::max(pa[k], pb[k]));
  std::size_t n = 1;
  for (auto d : r.out) n *= std::size_t(d);
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t rest = i, a = 0, b = 0, stride_a = 1, stride_b = 1;
    for (std::size_t k = rank; k-- > 0;) {
      std::size_t c = rest % std::size_t(r.out[k]);
      rest /= std::size_t(r.out[k]);
      a += (pa[k] == 1 ? 0 : c) * stride_a;
      b += (pb[k] == 1 ? 0 : c) * stride_b;
      stride_a *= std::size_t(pa[k]);
      stride_b *= std::size_t(pb[k]);
    }
    r.ia.push_back(a);
    r.ib.push_back(b);
  }
  return r;
}

inline Vec broadcast_binary(Binary op, const Vec& a, const Shape& sa, const Vec& b,
                            const Shape& sb) {
  Broadcast m = broadcast(sa, sb);
  Vec out(m.ia.size());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = binary_value(op, a[m.ia[i]], b[m.ib[i]]);
  return out;
}

inline std::pair<Vec, Vec> broadcast_binary_backward(Binary op, const Vec& a, const Shape& sa,
                                                     const Vec& b, const Shape& sb, const Vec& g) {
  Broadcast m = broadcast(sa, sb);
  Vec ga(a.size(), 0.0), gb(b.size(), 0.0);
  for (std::size_t i = 0; i < g.size(); ++i) {
    ga[m.ia[i]] += g[i] * binary_partial(op, a[m.ia[i]], b[m.ib[i]], 0);
    gb[m.ib[i]] += g[i] * binary_partial(op, a[m.ia[i]], b[m.ib[i]], 1);
  }
  return {ga, gb};
}

inline Vec binary(Binary op, const Vec& a, const Vec& b) {
  Vec out(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    double y = b[i % b.size()];
    out[i] = op == Binary::add ? a[i] + y : op == Binary::sub ? a[i] - y : a[i] * y;
  }
  return out;
}

enum class Act {
  relu,
  leaky_relu,
  sigmoid,
  tanh,
  elu,
  gelu,
  sqrt,
  exp,
  selu,
  hard_sigmoid,
  clip,
  abs,
  log,
  reciprocal,
  floor,
  ceil,
  round,
  sign,
  erf,
  softplus,
  softsign,
  hard_swish,
  mish,
  sin,
  cos,
  tan,
  asin,
  acos,
  atan,
  sinh,
  cosh,
  asinh,
  acosh,
  atanh,
  celu,
  thresholded_relu,
  shrink,
  shift
};

inline double activation(Act act, double x, double p, double q = 0) {
  switch (act) {
    case Act::relu:
      return x > 0 ? x : 0;
    case Act::leaky_relu:
      return x > 0 ? x : p * x;
    case Act::sigmoid:
      return 1.0 / (1.0 + std::exp(-x));
    case Act::tanh:
      return std::tanh(x);
    case Act::elu:
      return x > 0 ? x : p * (std::exp(x) - 1);
    case Act::gelu:
      return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    case Act::sqrt:
      return std::sqrt(x);
    case Act::exp:
      return std::exp(x);
    case Act::selu:
      return x > 0 ? q * x : q * p * (std::exp(x) - 1);
    case Act::hard_sigmoid:
      return std::min(1.0, std::max(0.0, p * x + q));
    case Act::clip:
      return std::min(q, std::max(p, x));
    case Act::abs:
      return std::fabs(x);
    case Act::log:
      return std::log(x);
    case Act::reciprocal:
      return 1 / x;
    case Act::floor:
      return std::floor(x);
    case Act::ceil:
      return std::ceil(x);
    case Act::round:
      return std::nearbyint(x);  // the default rounding mode: halves to even
    case Act::sign:
      return x > 0 ? 1 : x < 0 ? -1 : 0;
    case Act::erf:
      return std::erf(x);
    case Act::softplus:
      return std::log1p(std::exp(x));
    case Act::softsign:
      return x / (1 + std::fabs(x));
    case Act::hard_swish:
      return x * std::min(1.0, std::max(0.0, x / 6 + 0.5));
    case Act::mish:
      return x * std::tanh(std::log1p(std::exp(x)));
    case Act::sin:
      return std::sin(x);
    case Act::cos:
      return std::cos(x);
    case Act::tan:
      return std::tan(x);
    case Act::asin:
      return std::asin(x);
    case Act::acos:
      return std::acos(x);
    case Act::atan:
      return std::atan(x);
    case Act::sinh:
      return std::sinh(x);
    case Act::cosh:
      return std::cosh(x);
    case Act::asinh:
      return std::asinh(x);
    case Act::acosh:
      return std::acosh(x);
    case Act::atanh:
      return std::atanh(x);
    case Act::celu:
      return std::max(0.0, x) + std::min(0.0, p * (std::exp(x / p) - 1));
    case Act::thresholded_relu:
      return x > p ? x : 0;
    case Act::shrink:
      return x < -q ? x + p : x > q ? x - p : 0;
    case Act::shift:
      return x + p;
  }
  return NAN;
}

inline double activation_derivative(Act act, double x, double p, double q = 0) {
  const double pi = 3.14159265358979323846;
  switch (act) {
    case Act::relu:
      return x > 0 ? 1 : 0;
    case Act::leaky_relu:
      return x > 0 ? 1 : p;
    case Act::sigmoid: {
      double s = activation(act, x, p);
      return s * (1 - s);
    }
    case Act::tanh:
      return 1 - std::tanh(x) * std::tanh(x);
    case Act::elu:
      return x > 0 ? 1 : p * std::exp(x);
    case Act::gelu:
      return 0.5 * (1 + std::erf(x / std::sqrt(2.0))) +
             x * std::exp(-0.5 * x * x) / std::sqrt(2 * pi);
    case Act::sqrt:
      return 0.5 / std::sqrt(x);
    case Act::exp:
      return std::exp(x);
    case Act::selu:
      return x > 0 ? q : q * p * std::exp(x);
    case Act::hard_sigmoid:
      return p * x + q > 0 && p * x + q < 1 ? p : 0;
    case Act::clip:
      return x >= p && x <= q ? 1 : 0;
    case Act::abs:
      return x > 0 ? 1 : x < 0 ? -1 : 0;
    case Act::log:
      return 1 / x;
    case Act::reciprocal:
      return -1 / (x * x);
    case Act::floor:
    case Act::ceil:
    case Act::round:
    case Act::sign:
      return 0;
    case Act::erf:
      return 2 / std::sqrt(pi) * std::exp(-x * x);
    case Act::softplus:
      return 1 / (1 + std::exp(-x));
    case Act::softsign:
      return 1 / ((1 + std::fabs(x)) * (1 + std::fabs(x)));
    case Act::hard_swish:
      return x < -3 ? 0 : x > 3 ? 1 : x / 3 + 0.5;
    case Act::mish: {
      const double t = std::tanh(std::log1p(std::exp(x))), s = 1 / (1 + std::exp(-x));
      return t + x * s * (1 - t * t);
    }
    case Act::sin:
      return std::cos(x);
    case Act::cos:
      return -std::sin(x);
    case Act::tan:
      return 1 / (std::cos(x) * std::cos(x));
    case Act::asin:
      return 1 / std::sqrt(1 - x * x);
    case Act::acos:
      return -1 / std::sqrt(1 - x * x);
    case Act::atan:
      return 1 / (1 + x * x);
    case Act::sinh:
      return std::cosh(x);
    case Act::cosh:
      return std::sinh(x);
    case Act::asinh:
      return 1 / std::sqrt(x * x + 1);
    case Act::acosh:
      return 1 / std::sqrt(x * x - 1);
    case Act::atanh:
      return 1 / (1 - x * x);
    case Act::celu:
      return x > 0 ? 1 : std::exp(x / p);
    case Act::thresholded_relu:
      return x > p ? 1 : 0;
    case Act::shrink:
      return x < -q || x > q ? 1 : 0;
    case Act::shift:
      return 1;
  }
  return NAN;
}

// ---- along an axis: [outer, r, inner] views -----------------------------------------------------

struct Middle {
  std::size_t outer = 1, r = 1, inner = 1;
};

inline Middle middle(const Shape& s, std::size_t begin, std::size_t end) {
  Middle m;
  for (std::size_t d = 0; d < s.size(); ++d)
    (d < begin ? m.outer : d < end ? m.r : m.inner) *= std::size_t(s[d]);
  return m;
}

inline Vec softmax(const Vec& x, Middle v, bool log_mode) {
  Vec y(x.size());
  for (std::size_t o = 0; o < v.outer; ++o)
    for (std::size_t k = 0; k < v.inner; ++k) {
      auto at = [&](std::size_t j) { return (o * v.r + j) * v.inner + k; };
      double m = -INFINITY, total = 0;
      for (std::size_t j = 0; j < v.r; ++j) m = std::max(m, x[at(j)]);
      for (std::size_t j = 0; j < v.r; ++j) total += std::exp(x[at(j)] - m);
      for (std::size_t j = 0; j < v.r; ++j)
        y[at(j)] = log_mode ? x[at(j)] - m - std::log(total) : std::exp(x[at(j)] - m) / total;
    }
  return y;
}

inline Vec softmax_backward(const Vec& x, Middle v, bool log_mode, const Vec& gy) {
  Vec s = softmax(x, v, false), gx(x.size());
  for (std::size_t o = 0; o < v.outer; ++o)
    for (std::size_t k = 0; k < v.inner; ++k) {
      auto at = [&](std::size_t j) { return (o * v.r + j) * v.inner + k; };
      double dot = 0;
      for (std::size_t j = 0; j < v.r; ++j) dot += log_mode ? gy[at(j)] : gy[at(j)] * s[at(j)];
      for (std::size_t j = 0; j < v.r; ++j)
        gx[at(j)] = log_mode ? gy[at(j)] - s[at(j)] * dot : s[at(j)] * (gy[at(j)] - dot);
    }
  return gx;
}

// Sum over the axes in `reduced` (a flag per axis).
inline Vec sum_axes(const Vec& x, const Shape& s, const std::vector<bool>& reduced,
                    Shape& out_shape) {
  out_shape.clear();
  for (std::size_t d = 0; d < s.size(); ++d)
    if (!reduced[d]) out_shape.push_back(s[d]);
  Vec y(numel(out_shape), 0.0);
  std::vector<std::size_t> coord(s.size(), 0);
  for (std::size_t i = 0; i < x.size(); ++i) {
    std::size_t rest = i, out = 0;
    for (std::size_t d = s.size(); d-- > 0;) {
      coord[d] = rest % std::size_t(s[d]);
      rest /= std::size_t(s[d]);
    }
    for (std::size_t d = 0; d < s.size(); ++d)
      if (!reduced[d]) out = out * std::size_t(s[d]) + coord[d];
    y[out] += x[i];
  }
  return y;
}

// Output dimension i is input dimension perm[i].
inline Vec permute(const Vec& x, const Shape& s, const std::vector<int>& perm) {
  const std::size_t rank = s.size();
  Shape out_shape(rank);
  for (std::size_t i = 0; i < rank; ++i) out_shape[i] = s[std::size_t(perm[i])];
  std::vector<std::size_t> in_strides(rank, 1);
  for (std::size_t d = rank; d-- > 1;) in_strides[d - 1] = in_strides[d] * std::size_t(s[d]);
  Vec y(x.size());
  for (std::size_t i = 0; i < y.size(); ++i) {
    std::size_t rest = i, offset = 0;
    for (std::size_t d = rank; d-- > 0;) {
      offset += (rest % std::size_t(out_shape[d])) * in_strides[std::size_t(perm[d])];
      rest /= std::size_t(out_shape[d]);
    }
    y[i] = x[offset];
  }
  return y;
}

// ---- losses ---------------------------------------------------------------------------------

inline double mse(const Vec& p, const Vec& t) {
  double acc = 0;
  for (std::size_t i = 0; i < p.size(); ++i) acc += (p[i] - t[i]) * (p[i] - t[i]);
  return acc / double(p.size());
}

inline double cross_entropy(const Vec& logits, const Vec& labels, std::size_t classes) {
  const std::size_t rows = labels.size();
  double total = 0;
  for (std::size_t b = 0; b < rows; ++b) {
    double m = -INFINITY, s = 0;
    for (std::size_t c = 0; c < classes; ++c) m = std::max(m, logits[b * classes + c]);
    for (std::size_t c = 0; c < classes; ++c) s += std::exp(logits[b * classes + c] - m);
    total += m + std::log(s) - logits[b * classes + std::size_t(labels[b])];
  }
  return total / double(rows);
}

inline Vec cross_entropy_backward(const Vec& logits, const Vec& labels, std::size_t classes,
                                  double g) {
  const std::size_t rows = labels.size();
  Middle v{rows, classes, 1};
  Vec p = softmax(logits, v, false);
  for (std::size_t b = 0; b < rows; ++b) p[b * classes + std::size_t(labels[b])] -= 1.0;
  for (auto& x : p) x *= g / double(rows);
  return p;
}

// ---- finite differences ---------------------------------------------------------------------

// Central differences of a scalar function f at x, in double.
inline Vec numerical_gradient(const std::function<double(const Vec&)>& f, Vec x, double h = 1e-5) {
  Vec g(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + h;
    const double up = f(x);
    x[i] = saved - h;
    const double down = f(x);
    x[i] = saved;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

inline double dot(const Vec& a, const Vec& b) {
  double acc = 0;
  for (std::size_t i = 0; i < a.size(); ++i) acc += a[i] * b[i];
  return acc;
}

}  // namespace clnn::reference
