// Convolution helpers that test_conv and test_conv_depthwise share: the op check of a
// convolution against the double-precision reference, options, the geometry as the routes take
// it, and a scope that forces a route.
#pragma once

#include "context_impl.hpp"
#include "op_harness.hpp"
#include "ops/conv_geometry.hpp"
#include "ops/spatial.hpp"
#include "reference/conv.hpp"

namespace clnn::test {

inline reference::Geometry geometry(const Shape& x, const Shape& w, const ConvOptions& o) {
  reference::Geometry g(x, std::vector<std::int64_t>(w.begin() + 2, w.end()), o.strides,
                        o.pads_begin, o.pads_end, o.dilations);
  g.k = long(w[0]);
  g.groups = long(o.groups);
  return g;
}

inline OpCheck conv_check(Shape x, Shape w, bool bias, ConvOptions o) {
  OpCheck c;
  c.shapes = {x, w};
  if (bias) c.shapes.push_back({w[0]});
  c.build = [o](const std::vector<Value>& v) {
    return conv(v[0], v[1], v.size() == 3 ? std::optional<Value>(v[2]) : std::nullopt, o);
  };
  const auto g = geometry(x, w, o);
  c.forward = [g](const std::vector<Vec>& in) {
    return reference::conv(g, in[0], in[1], in.size() == 3 ? &in[2] : nullptr);
  };
  c.backward = [g, bias](const std::vector<Vec>& in, const Vec& gy) {
    Vec gx, gw, gb;
    reference::conv_backward(g, in[0], in[1], gy, gx, gw, gb);
    std::vector<Vec> grads{gx, gw};
    if (bias) grads.push_back(gb);
    return grads;
  };
  c.forward_tolerance = 1e-4;
  return c;
}

inline ConvOptions options(std::vector<std::int64_t> strides, std::vector<std::int64_t> pads_begin,
                           std::vector<std::int64_t> pads_end, std::vector<std::int64_t> dilations,
                           std::int64_t groups = 1) {
  ConvOptions o;
  o.strides = std::move(strides);
  o.pads_begin = std::move(pads_begin);
  o.pads_end = std::move(pads_end);
  o.dilations = std::move(dilations);
  o.groups = groups;
  return o;
}

// Runs a test's convolutions on one route (ContextImpl::conv_route) until it ends.
class RouteScope {
 public:
  explicit RouteScope(detail::ConvRoute route)
      : impl_(detail::Access::impl(context())), saved_(impl_.conv_route) {
    impl_.conv_route = route;
  }
  ~RouteScope() { impl_.conv_route = saved_; }
  RouteScope(const RouteScope&) = delete;
  RouteScope& operator=(const RouteScope&) = delete;
  void set(detail::ConvRoute route) { impl_.conv_route = route; }

 private:
  detail::ContextImpl& impl_;
  detail::ConvRoute saved_;
};

// A convolution a route test runs: input and filter shapes and options.
struct ConvCase {
  Shape x, w;
  ConvOptions o;
};

// conv(x, w) with these options as the routes take it.
inline detail::ConvGeometry conv_geometry(const Shape& x, const Shape& w, const ConvOptions& o) {
  detail::WindowSpec spec;
  spec.kernel.assign(w.begin() + 2, w.end());
  spec.strides = o.strides, spec.pads_begin = o.pads_begin, spec.pads_end = o.pads_end;
  spec.dilations = o.dilations;
  return {detail::Access::impl(context()), detail::make_window("conv", x, spec), w[0], o.groups};
}

}  // namespace clnn::test
