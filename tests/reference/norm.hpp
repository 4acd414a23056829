// Naive double-precision references for batch_norm over x [n, c, s] (s: the product of the
// spatial extents): its statistics, inference and training forward, and the training backward.
#pragma once

#include <utility>

#include <cmath>
#include <cstddef>
#include <vector>

namespace clnn::reference {

using Vec = std::vector<double>;

// Per channel of x [n, c, s]: mean and biased variance.
inline void channel_stats(const Vec& x, long n, long c, long s, Vec& mean, Vec& var) {
  mean.assign(std::size_t(c), 0.0);
  var.assign(std::size_t(c), 0.0);
  for (long i = 0; i < n * c * s; ++i) mean[std::size_t((i / s) % c)] += x[std::size_t(i)];
  for (auto& m : mean) m /= double(n * s);
  for (long i = 0; i < n * c * s; ++i) {
    double d = x[std::size_t(i)] - mean[std::size_t((i / s) % c)];
    var[std::size_t((i / s) % c)] += d * d;
  }
  for (auto& v : var) v /= double(n * s);
}

inline Vec batch_norm_ref(const Vec& x, const Vec& gamma, const Vec& beta, const Vec& mean,
                          const Vec& var, long c, long s, double eps) {
  Vec y(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    auto ch = std::size_t((long(i) / s) % c);
    y[i] = (x[i] - mean[ch]) / std::sqrt(var[ch] + eps) * gamma[ch] + beta[ch];
  }
  return y;
}

// batch_norm in training of in = {x, gamma, beta, ...} [n, c, s], and its gradients with respect
// to x, gamma and beta for the output's gradient gy.
inline Vec batch_norm_training(const std::vector<Vec>& in, long n, long c, long s) {
  Vec mean, var;
  channel_stats(in[0], n, c, s, mean, var);
  return batch_norm_ref(in[0], in[1], in[2], mean, var, c, s, 1e-5);
}

inline std::vector<Vec> batch_norm_training_backward(const std::vector<Vec>& in, const Vec& gy,
                                                     long n, long c, long s) {
  Vec mean, var;
  channel_stats(in[0], n, c, s, mean, var);
  Vec gx(in[0].size()), sum_gy(std::size_t(c), 0.0), sum_gy_xhat(std::size_t(c), 0.0);
  auto channel = [=](std::size_t i) { return std::size_t((long(i) / s) % c); };
  auto xhat = [&](std::size_t i) {
    return (in[0][i] - mean[channel(i)]) / std::sqrt(var[channel(i)] + 1e-5);
  };
  for (std::size_t i = 0; i < gx.size(); ++i) {
    sum_gy[channel(i)] += gy[i];
    sum_gy_xhat[channel(i)] += gy[i] * xhat(i);
  }
  const double m = double(n * s);
  for (std::size_t i = 0; i < gx.size(); ++i) {
    const std::size_t ch = channel(i);
    gx[i] = in[1][ch] / std::sqrt(var[ch] + 1e-5) / m *
            (m * gy[i] - sum_gy[ch] - xhat(i) * sum_gy_xhat[ch]);
  }
  return std::vector<Vec>{gx, sum_gy_xhat, sum_gy, {}, {}};
}

// Rows of r elements normalized ((x - mean) / sqrt(var + eps)), then y = xhat * gamma[at] +
// beta[at]: layer_norm (at = j % r), and instance_norm and group_norm, whose rows are the groups
// of each sample (`groups` per sample) of channels of `spatial` positions, gamma per channel.
struct RowNorm {
  std::size_t rows, r;
  double eps;
  std::size_t groups = 0, spatial = 0;  // 0: layer_norm
  std::size_t at(std::size_t row, std::size_t j) const {
    return spatial ? (row % groups) * (r / spatial) + j / spatial : j;
  }
};

// A row's mean and 1 / sqrt(variance + eps).
inline std::pair<double, double> row_stats(const RowNorm& n, const Vec& x, std::size_t row) {
  double mean = 0, var = 0;
  for (std::size_t j = 0; j < n.r; ++j) mean += x[row * n.r + j];
  mean /= double(n.r);
  for (std::size_t j = 0; j < n.r; ++j) var += std::pow(x[row * n.r + j] - mean, 2);
  var /= double(n.r);
  return {mean, 1 / std::sqrt(var + n.eps)};
}

inline Vec row_norm(const RowNorm& n, const Vec& x, const Vec& gamma, const Vec& beta) {
  Vec y(x.size());
  for (std::size_t row = 0; row < n.rows; ++row) {
    const auto [mean, rstd] = row_stats(n, x, row);
    for (std::size_t j = 0; j < n.r; ++j) {
      const std::size_t i = row * n.r + j;
      y[i] = (x[i] - mean) * rstd * gamma[n.at(row, j)] + beta[n.at(row, j)];
    }
  }
  return y;
}

// Gradients of x, gamma and beta: gx = rstd (g' - mean(g') - xhat mean(g' xhat)), g' = g gamma.
inline std::vector<Vec> row_norm_backward(const RowNorm& n, const Vec& x, const Vec& gamma,
                                          const Vec& g) {
  Vec gx(x.size()), gg(gamma.size(), 0.0), gb(gamma.size(), 0.0);
  for (std::size_t row = 0; row < n.rows; ++row) {
    const auto [mean, rstd] = row_stats(n, x, row);
    double mean_g = 0, mean_gx = 0;
    for (std::size_t j = 0; j < n.r; ++j) {
      const std::size_t i = row * n.r + j;
      const double xhat = (x[i] - mean) * rstd, gs = g[i] * gamma[n.at(row, j)];
      mean_g += gs / double(n.r);
      mean_gx += gs * xhat / double(n.r);
      gg[n.at(row, j)] += g[i] * xhat;
      gb[n.at(row, j)] += g[i];
    }
    for (std::size_t j = 0; j < n.r; ++j) {
      const std::size_t i = row * n.r + j;
      const double xhat = (x[i] - mean) * rstd;
      gx[i] = rstd * (g[i] * gamma[n.at(row, j)] - mean_g - xhat * mean_gx);
    }
  }
  return {gx, gg, gb};
}

}  // namespace clnn::reference
