// Double-precision references for the operators that move data (slice, pad, expand, tile,
// split, gather): each is a map from an output element to the input element it reads (or none:
// padding); the gradient adds each output's gradient into the element it read.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <vector>

#include "clnn/ops.hpp"
#include "reference/ops.hpp"

namespace clnn::reference {

// Output coordinates -> input coordinates, or false where the output reads the pad value.
using CoordinateMap = std::function<bool(const std::vector<long>& out, std::vector<long>& in)>;

inline std::vector<long> coordinates(std::size_t i, const Shape& s) {
  std::vector<long> c(s.size());
  for (std::size_t d = s.size(); d-- > 0;) {
    c[d] = long(i % std::size_t(s[d]));
    i /= std::size_t(s[d]);
  }
  return c;
}

inline std::size_t flat_index(const std::vector<long>& c, const Shape& s) {
  std::size_t i = 0;
  for (std::size_t d = 0; d < s.size(); ++d) i = i * std::size_t(s[d]) + std::size_t(c[d]);
  return i;
}

inline Vec mapped(const Vec& x, const Shape& in_shape, const Shape& out_shape,
                  const CoordinateMap& map, double pad = 0) {
  Vec y(numel(out_shape));
  std::vector<long> in(in_shape.size());
  for (std::size_t i = 0; i < y.size(); ++i)
    y[i] = map(coordinates(i, out_shape), in) ? x[flat_index(in, in_shape)] : pad;
  return y;
}

inline Vec mapped_backward(const Vec& g, const Shape& in_shape, const Shape& out_shape,
                           const CoordinateMap& map) {
  Vec gx(numel(in_shape), 0.0);
  std::vector<long> in(in_shape.size());
  for (std::size_t i = 0; i < g.size(); ++i)
    if (map(coordinates(i, out_shape), in)) gx[flat_index(in, in_shape)] += g[i];
  return gx;
}

// One axis of a slice: output element j reads start + j * step.
struct Range {
  long start, step, count;
};

inline CoordinateMap slice_map(const std::vector<Range>& ranges) {
  return [ranges](const std::vector<long>& out, std::vector<long>& in) {
    for (std::size_t d = 0; d < out.size(); ++d) in[d] = ranges[d].start + out[d] * ranges[d].step;
    return true;
  };
}

enum class PadKind { constant, reflect, edge };

inline CoordinateMap pad_map(const Shape& in_shape, const std::vector<long>& begin, PadKind kind) {
  return [=](const std::vector<long>& out, std::vector<long>& in) {
    for (std::size_t d = 0; d < out.size(); ++d) {
      long i = out[d] - begin[d];
      const long n = long(in_shape[d]);
      if (i < 0 || i >= n) {
        if (kind == PadKind::constant) return false;
        if (kind == PadKind::edge) i = i < 0 ? 0 : n - 1;
        if (kind == PadKind::reflect) i = i < 0 ? -i : 2 * (n - 1) - i;
      }
      in[d] = i;
    }
    return true;
  };
}

// Broadcast (expand) and tile: input coordinate = output coordinate, 0 on broadcast axes, or
// modulo the input's extent.
inline CoordinateMap broadcast_map(const Shape& in_shape, std::size_t out_rank, bool wrap) {
  return [=](const std::vector<long>& out, std::vector<long>& in) {
    const std::size_t lead = out_rank - in_shape.size();
    for (std::size_t d = 0; d < in_shape.size(); ++d) {
      const long n = long(in_shape[d]), o = out[d + lead];
      in[d] = wrap ? o % n : n == 1 ? 0 : o;
    }
    return true;
  };
}

}  // namespace clnn::reference

namespace clnn::reference {

// resize as a list of (output, input, weight) taps, the same rules as clnn::resize in double:
// forward sums the taps into the outputs, backward the output gradients into the inputs.
struct ResizeTaps {
  std::vector<std::size_t> out, in;
  std::vector<double> weight;
};

inline double resize_source(ResizeCoordinates c, long o, long in, long out, double scale) {
  switch (c) {
    case ResizeCoordinates::asymmetric:
      return double(o) / scale;
    case ResizeCoordinates::align_corners:
      return out == 1 ? 0.0 : double(o) * double(in - 1) / double(out - 1);
    case ResizeCoordinates::pytorch_half_pixel:
      return out > 1 ? (o + 0.5) / scale - 0.5 : 0.0;
    case ResizeCoordinates::half_pixel:
      break;
  }
  return (o + 0.5) / scale - 0.5;
}

inline ResizeTaps resize_taps(const Shape& in, const Shape& out, const ResizeOptions& o) {
  const std::size_t rank = in.size();
  // Per axis and output index: (input index, weight) pairs.
  std::vector<std::vector<std::vector<std::pair<long, double>>>> axis(rank);
  for (std::size_t d = 0; d < rank; ++d) {
    const double scale = o.scales.empty() ? double(out[d]) / double(in[d]) : double(o.scales[d]);
    for (long j = 0; j < out[d]; ++j) {
      const double x = resize_source(o.coordinates, j, in[d], out[d], scale);
      auto clamp_index = [&](double v) { return std::clamp(long(v), 0L, long(in[d]) - 1); };
      std::vector<std::pair<long, double>> taps;
      if (o.mode == ResizeMode::nearest) {
        const double f = std::floor(x), frac = x - f;
        double r = frac == 0.5 ? (o.rounding == ResizeRounding::round_prefer_ceil ? f + 1 : f)
                               : std::round(x);
        if (o.rounding == ResizeRounding::floor) r = f;
        if (o.rounding == ResizeRounding::ceil) r = std::ceil(x);
        taps.push_back({clamp_index(r), 1.0});
      } else {
        const double f = std::floor(x);
        const long lo = clamp_index(f), hi = clamp_index(f + 1);
        const double w = lo == hi ? 0.0 : x - f;
        taps.push_back({lo, 1.0 - w});
        if (w != 0.0) taps.push_back({hi, w});
      }
      axis[d].push_back(taps);
    }
  }
  ResizeTaps t;
  for (std::size_t i = 0; i < numel(out); ++i) {
    const std::vector<long> c = coordinates(i, out);
    // Every combination of the axes' taps.
    std::vector<std::pair<std::vector<long>, double>> corners{{{}, 1.0}};
    for (std::size_t d = 0; d < rank; ++d) {
      std::vector<std::pair<std::vector<long>, double>> next;
      for (const auto& [prefix, w] : corners)
        for (const auto& [index, tw] : axis[d][std::size_t(c[d])]) {
          auto p = prefix;
          p.push_back(index);
          next.push_back({p, w * tw});
        }
      corners = next;
    }
    for (const auto& [src, w] : corners) {
      t.out.push_back(i);
      t.in.push_back(flat_index(src, in));
      t.weight.push_back(w);
    }
  }
  return t;
}

// The positions of the k largest (or smallest) elements of each row of x along `axis`, in order
// (ties to the lower position), as the index tensor of gather_elements (k along the axis).
inline Vec top_k_positions(const Vec& x, const Shape& shape, std::size_t axis, std::int64_t k,
                           bool largest) {
  std::size_t outer = 1, inner = 1;
  for (std::size_t d = 0; d < axis; ++d) outer *= std::size_t(shape[d]);
  for (std::size_t d = axis + 1; d < shape.size(); ++d) inner *= std::size_t(shape[d]);
  const auto n = std::size_t(shape[axis]);
  Vec out(outer * std::size_t(k) * inner);
  for (std::size_t o = 0; o < outer; ++o)
    for (std::size_t in = 0; in < inner; ++in) {
      std::vector<std::size_t> order(n);
      std::iota(order.begin(), order.end(), 0);
      auto value = [&](std::size_t j) { return x[(o * n + j) * inner + in]; };
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return largest ? value(a) > value(b) : value(a) < value(b);
      });
      for (std::size_t r = 0; r < std::size_t(k); ++r)
        out[(o * std::size_t(k) + r) * inner + in] = double(order[r]);
    }
  return out;
}

}  // namespace clnn::reference
