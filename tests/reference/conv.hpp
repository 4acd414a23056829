// Naive double-precision references for convolution and pooling, written independently of the
// library: every operator is three-dimensional, with 1-D and 2-D inputs given leading extents 1.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <vector>

#include "clnn/shape.hpp"

namespace clnn::reference {

using Vec = std::vector<double>;

struct Geometry {
  long n = 1, c = 1, k = 1, groups = 1;
  std::array<long, 3> in{1, 1, 1}, ker{1, 1, 1}, stride{1, 1, 1}, pad{0, 0, 0}, pad_end{0, 0, 0},
      dil{1, 1, 1}, out{1, 1, 1};
  bool ceil_mode = false;

  // From x [N, C, spatial...] and per-dimension kernel/stride/pads/dilation (empty = defaults).
  Geometry(const Shape& x, const std::vector<std::int64_t>& kernel,
           const std::vector<std::int64_t>& strides, const std::vector<std::int64_t>& pads_begin,
           const std::vector<std::int64_t>& pads_end, const std::vector<std::int64_t>& dilations,
           bool ceil = false)
      : ceil_mode(ceil) {
    n = long(x[0]);
    c = long(x[1]);
    const std::size_t dims = x.size() - 2, skip = 3 - dims;
    for (std::size_t d = 0; d < dims; ++d) {
      const std::size_t t = d + skip;
      in[t] = long(x[d + 2]);
      ker[t] = long(kernel[d]);
      if (!strides.empty()) stride[t] = long(strides[d]);
      if (!pads_begin.empty()) pad[t] = long(pads_begin[d]);
      if (!pads_end.empty()) pad_end[t] = long(pads_end[d]);
      if (!dilations.empty()) dil[t] = long(dilations[d]);
      double span =
          double(in[t] + pad[t] + pad_end[t] - dil[t] * (ker[t] - 1) - 1) / double(stride[t]);
      out[t] = long(ceil ? std::ceil(span) : std::floor(span)) + 1;
      if (ceil && (out[t] - 1) * stride[t] >= in[t] + pad[t]) --out[t];
    }
  }
  long in_at(long nn, long cc, long d, long h, long w) const {
    return (((nn * c + cc) * in[0] + d) * in[1] + h) * in[2] + w;
  }
  long out_at(long nn, long kk, long channels, long d, long h, long w) const {
    return (((nn * channels + kk) * out[0] + d) * out[1] + h) * out[2] + w;
  }
  long out_size(long channels) const { return n * channels * out[0] * out[1] * out[2]; }
};

// Calls f(od, oh, ow, a, b, e, id, ih, iw) for every output position and kernel tap that lands
// inside the input.
template <typename F>
void for_each_tap(const Geometry& g, F f) {
  for (long od = 0; od < g.out[0]; ++od)
    for (long oh = 0; oh < g.out[1]; ++oh)
      for (long ow = 0; ow < g.out[2]; ++ow)
        for (long a = 0; a < g.ker[0]; ++a)
          for (long b = 0; b < g.ker[1]; ++b)
            for (long e = 0; e < g.ker[2]; ++e) {
              long id = od * g.stride[0] - g.pad[0] + a * g.dil[0];
              long ih = oh * g.stride[1] - g.pad[1] + b * g.dil[1];
              long iw = ow * g.stride[2] - g.pad[2] + e * g.dil[2];
              if (id < 0 || id >= g.in[0] || ih < 0 || ih >= g.in[1] || iw < 0 || iw >= g.in[2])
                continue;
              f(od, oh, ow, a, b, e, id, ih, iw);
            }
}

// w is [K, C/groups, kd, kh, kw] (flat).
inline long weight_at(const Geometry& g, long kk, long ci, long a, long b, long e) {
  return (((kk * (g.c / g.groups) + ci) * g.ker[0] + a) * g.ker[1] + b) * g.ker[2] + e;
}

inline Vec conv(const Geometry& g, const Vec& x, const Vec& w, const Vec* bias) {
  Vec y(std::size_t(g.out_size(g.k)), 0.0);
  const long cg = g.c / g.groups, kg = g.k / g.groups;
  for (long nn = 0; nn < g.n; ++nn)
    for (long kk = 0; kk < g.k; ++kk) {
      const long grp = kk / kg;
      for (long ci = 0; ci < cg; ++ci)
        for_each_tap(
            g, [&](long od, long oh, long ow, long a, long b, long e, long id, long ih, long iw) {
              y[std::size_t(g.out_at(nn, kk, g.k, od, oh, ow))] +=
                  x[std::size_t(g.in_at(nn, grp * cg + ci, id, ih, iw))] *
                  w[std::size_t(weight_at(g, kk, ci, a, b, e))];
            });
      if (bias)
        for (long p = 0; p < g.out[0] * g.out[1] * g.out[2]; ++p)
          y[std::size_t((nn * g.k + kk) * g.out[0] * g.out[1] * g.out[2] + p)] +=
              (*bias)[std::size_t(kk)];
    }
  return y;
}

// Gradients of sum(conv(x, w, b) * gy).
inline void conv_backward(const Geometry& g, const Vec& x, const Vec& w, const Vec& gy, Vec& gx,
                          Vec& gw, Vec& gb) {
  gx.assign(x.size(), 0.0);
  gw.assign(w.size(), 0.0);
  gb.assign(std::size_t(g.k), 0.0);
  const long cg = g.c / g.groups, kg = g.k / g.groups;
  for (long nn = 0; nn < g.n; ++nn)
    for (long kk = 0; kk < g.k; ++kk) {
      const long grp = kk / kg;
      for (long ci = 0; ci < cg; ++ci)
        for_each_tap(
            g, [&](long od, long oh, long ow, long a, long b, long e, long id, long ih, long iw) {
              const double go = gy[std::size_t(g.out_at(nn, kk, g.k, od, oh, ow))];
              const auto xi = std::size_t(g.in_at(nn, grp * cg + ci, id, ih, iw));
              const auto wi = std::size_t(weight_at(g, kk, ci, a, b, e));
              gx[xi] += go * w[wi];
              gw[wi] += go * x[xi];
            });
      for (long p = 0; p < g.out[0] * g.out[1] * g.out[2]; ++p)
        gb[std::size_t(kk)] +=
            gy[std::size_t((nn * g.k + kk) * g.out[0] * g.out[1] * g.out[2] + p)];
    }
}

// ---- pooling (no dilation): windows of g.ker taps at stride g.stride --------------------------

// The in-input taps of window (od, oh, ow) of plane (n, c), as input offsets in scan order.
inline std::vector<long> window_taps(const Geometry& g, long nn, long cc, long od, long oh,
                                     long ow) {
  std::vector<long> taps;
  for (long a = 0; a < g.ker[0]; ++a)
    for (long b = 0; b < g.ker[1]; ++b)
      for (long e = 0; e < g.ker[2]; ++e) {
        long id = od * g.stride[0] - g.pad[0] + a * g.dil[0],
             ih = oh * g.stride[1] - g.pad[1] + b * g.dil[1],
             iw = ow * g.stride[2] - g.pad[2] + e * g.dil[2];
        if (id >= 0 && id < g.in[0] && ih >= 0 && ih < g.in[1] && iw >= 0 && iw < g.in[2])
          taps.push_back(g.in_at(nn, cc, id, ih, iw));
      }
  return taps;
}

inline double avg_divisor(const Geometry& g, long od, long oh, long ow, bool include_pad) {
  const long o[3] = {od, oh, ow};
  double count = 1;
  for (int d = 0; d < 3; ++d) {
    long lo = o[d] * g.stride[d] - g.pad[d], hi = lo + g.ker[d];
    lo = std::max(lo, include_pad ? -g.pad[d] : 0L);
    hi = std::min(hi, include_pad ? g.in[d] + g.pad_end[d] : g.in[d]);
    count *= double(std::max(hi - lo, 0L));
  }
  return count;
}

// Calls f(out_index, taps, divisor) for every pooling window.
template <typename F>
void for_each_window(const Geometry& g, bool include_pad, F f) {
  for (long nn = 0; nn < g.n; ++nn)
    for (long cc = 0; cc < g.c; ++cc)
      for (long od = 0; od < g.out[0]; ++od)
        for (long oh = 0; oh < g.out[1]; ++oh)
          for (long ow = 0; ow < g.out[2]; ++ow)
            f(std::size_t(g.out_at(nn, cc, g.c, od, oh, ow)), window_taps(g, nn, cc, od, oh, ow),
              avg_divisor(g, od, oh, ow, include_pad));
}

inline Vec max_pool(const Geometry& g, const Vec& x) {
  Vec y(std::size_t(g.out_size(g.c)), 0.0);
  for_each_window(g, true, [&](std::size_t o, const std::vector<long>& taps, double) {
    double m = -std::numeric_limits<double>::infinity();
    for (long t : taps) m = std::max(m, x[std::size_t(t)]);
    y[o] = taps.empty() ? 0.0 : m;
  });
  return y;
}

// The offset in x of each window's first maximum (-1 for none); column_major counts the position
// within its plane column-major (ONNX's storage_order 1).
inline Vec max_pool_indices(const Geometry& g, const Vec& x, bool column_major) {
  Vec y(std::size_t(g.out_size(g.c)), 0.0);
  const long plane = g.in[0] * g.in[1] * g.in[2];
  for_each_window(g, true, [&](std::size_t o, const std::vector<long>& taps, double) {
    long best = -1;
    for (long t : taps)
      if (best < 0 || x[std::size_t(t)] > x[std::size_t(best)]) best = t;
    if (best >= 0 && column_major) {
      const long r = best % plane, w = r % g.in[2], h = r / g.in[2] % g.in[1],
                 d = r / (g.in[2] * g.in[1]);
      best = best - r + (w * g.in[1] + h) * g.in[0] + d;
    }
    y[o] = double(best);
  });
  return y;
}

inline Vec max_pool_backward(const Geometry& g, const Vec& x, const Vec& gy) {
  Vec gx(x.size(), 0.0);
  for_each_window(g, true, [&](std::size_t o, const std::vector<long>& taps, double) {
    long best = -1;
    for (long t : taps)
      if (best < 0 || x[std::size_t(t)] > x[std::size_t(best)]) best = t;
    if (best >= 0) gx[std::size_t(best)] += gy[o];
  });
  return gx;
}

inline Vec avg_pool(const Geometry& g, const Vec& x, bool include_pad) {
  Vec y(std::size_t(g.out_size(g.c)), 0.0);
  for_each_window(g, include_pad, [&](std::size_t o, const std::vector<long>& taps, double div) {
    double s = 0;
    for (long t : taps) s += x[std::size_t(t)];
    y[o] = div > 0 ? s / div : 0.0;
  });
  return y;
}

inline Vec avg_pool_backward(const Geometry& g, const Vec& x, const Vec& gy, bool include_pad) {
  Vec gx(x.size(), 0.0);
  for_each_window(g, include_pad, [&](std::size_t o, const std::vector<long>& taps, double div) {
    for (long t : taps) gx[std::size_t(t)] += gy[o] / div;
  });
  return gx;
}

}  // namespace clnn::reference
