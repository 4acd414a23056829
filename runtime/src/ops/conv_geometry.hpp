// Internal: one convolution as each of its routes takes it (ops/conv_implicit.hpp,
// conv_winograd.hpp, conv_direct.hpp, conv_shifted.hpp, conv_depthwise.hpp): y = conv(x, w)
// over `win`, with `filters` filters in `groups` groups, run in `ctx`.
#pragma once

#include <cstdint>

#include "context_impl.hpp"
#include "ops/epilogue.hpp"
#include "ops/spatial.hpp"

namespace clnn::detail {

struct ConvGeometry {
  ContextImpl& ctx;
  Window win;
  std::int64_t filters = 1, groups = 1;

  // Whether ContextImpl::conv_route lets `route` run a pass its geometry allows: always where
  // CLNN_CONV forces it, never where it forces another, and when automatic where the route's
  // own measure says it pays, on GPUs (the device's type) or elsewhere (most routes were
  // measured on GPUs only: other devices take the column GEMM). Every route but the column one,
  // the fallback, decides through this rule.
  bool takes(ConvRoute route, bool pays_on_gpu, bool pays_elsewhere = false) const {
    if (ctx.conv_route == route) return true;
    if (ctx.conv_route != ConvRoute::automatic) return false;
    return ctx.info.type == DeviceType::gpu ? pays_on_gpu : pays_elsewhere;
  }
};

}  // namespace clnn::detail
