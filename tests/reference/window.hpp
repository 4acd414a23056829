// Double-precision references for the operators that move data (slice, pad, expand, tile,
// split, gather): each is a map from an output element to the input element it reads (or none:
// padding); the gradient adds each output's gradient into the element it read.
#pragma once

#include <functional>
#include <vector>

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
