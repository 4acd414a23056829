// Toom-Cook: a linear convolution s = u * g evaluates u and g at the points and at infinity (the
// leading coefficients), multiplies, and interpolates s back; the correlation of Winograd's
// F(m, r) is its transpose (Lavin and Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016). Interpolation writes s(x) = s_lead M(x) + sum_j s(p_j) L_j(x) / N_j, where
// M(x) = prod_l (x - p_l), L_j(x) = prod_{l != j} (x - p_l) and N_j = L_j(p_j); the 1 / N_j goes
// into G, so B^T holds the coefficients of L_j and M (integers for the points up to -2).
#include "ops/winograd_transform.hpp"

#include <cstdio>

#include "clnn/error.hpp"
#include "ops/common.hpp"

namespace clnn::detail {

namespace {

// Coefficients (x^0 first) of prod over the points except `skip` (none: -1) of (x - p).
std::vector<double> product_of_roots(const std::vector<double>& points, int skip) {
  std::vector<double> c{1.0};
  for (int l = 0; l < int(points.size()); ++l) {
    if (l == skip) continue;
    std::vector<double> next(c.size() + 1, 0.0);
    for (std::size_t i = 0; i < c.size(); ++i) {
      next[i + 1] += c[i];
      next[i] -= points[std::size_t(l)] * c[i];
    }
    c = next;
  }
  return c;
}

std::string initializer(const std::vector<double>& values, int rows, int cols) {
  std::string text = "{";
  for (int i = 0; i < rows; ++i) {
    text += i ? ",{" : "{";
    for (int j = 0; j < cols; ++j)
      text += (j ? "," : "") + float_literal(float(values[std::size_t(i * cols + j)]));
    text += "}";
  }
  return text + "}";
}

}  // namespace

std::string WinogradTransform::build_options() const {
  return " -DWIN_M=" + std::to_string(m) + " -DWIN_R=" + std::to_string(r) +
         " -DWIN_AT=" + initializer(at, m, alpha) + " -DWIN_G=" + initializer(g, alpha, r) +
         " -DWIN_BT=" + initializer(bt, alpha, alpha);
}

WinogradTransform winograd_transform(int m, int r) {
  constexpr int kMostPoints = 8;
  if (m < 1 || r < 2 || m + r - 1 > kMostPoints)
    throw Error("Winograd F(" + std::to_string(m) + ", " + std::to_string(r) +
                ") is not built: tiles of 1 or more outputs, filters of 2 or more taps, at most " +
                std::to_string(kMostPoints) + " points");
  WinogradTransform t;
  t.m = m, t.r = r, t.alpha = m + r - 1;
  const int n = t.alpha;
  const std::vector<double> all{0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5};
  const std::vector<double> points(all.begin(), all.begin() + (n - 1));
  auto power = [](double p, int e) {
    double v = 1.0;
    for (int i = 0; i < e; ++i) v *= p;
    return v;
  };
  t.at.assign(std::size_t(m * n), 0.0);
  t.g.assign(std::size_t(n * r), 0.0);
  t.bt.assign(std::size_t(n * n), 0.0);
  for (int j = 0; j < n - 1; ++j) {
    const double p = points[std::size_t(j)];
    const std::vector<double> l = product_of_roots(points, j);
    double norm = 0.0;  // N_j = L_j(p_j)
    for (std::size_t i = 0; i < l.size(); ++i) norm += l[i] * power(p, int(i));
    for (int i = 0; i < m; ++i) t.at[std::size_t(i * n + j)] = power(p, i);
    for (int k = 0; k < r; ++k) t.g[std::size_t(j * r + k)] = power(p, k) / norm;
    for (std::size_t i = 0; i < l.size(); ++i) t.bt[std::size_t(j * n) + i] = l[i];
  }
  // Infinity: the leading coefficients.
  t.at[std::size_t((m - 1) * n + n - 1)] = 1.0;
  t.g[std::size_t((n - 1) * r + r - 1)] = 1.0;
  const std::vector<double> whole = product_of_roots(points, -1);
  for (std::size_t i = 0; i < whole.size(); ++i) t.bt[std::size_t((n - 1) * n) + i] = whole[i];
  return t;
}

}  // namespace clnn::detail
