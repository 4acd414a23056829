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
  // CLNN_CONV forces it, never where it forces another, and when automatic on GPUs (the
  // planner's vec4 kernel; CPUs take the column GEMM) where the route's own measure says it pays.
  bool takes(ConvRoute route, bool pays_on_gpu) const {
    if (ctx.conv_route == route) return true;
    if (ctx.conv_route != ConvRoute::automatic) return false;
    return ctx.planner.matmul().kernel == MatmulKernel::vec4 && pays_on_gpu;
  }
};

}  // namespace clnn::detail
