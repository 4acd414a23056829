// Internal: one convolution as each of its routes takes it (ops/conv_implicit.hpp,
// conv_winograd.hpp, conv_direct.hpp): y = conv(x, w) over `win`, with `filters` filters in
// `groups` groups, run in `ctx`.
#pragma once

#include <cstdint>

#include "context_impl.hpp"
#include "ops/spatial.hpp"

namespace clnn::detail {

struct ConvGeometry {
  ContextImpl& ctx;
  Window win;
  std::int64_t filters = 1, groups = 1;
};

}  // namespace clnn::detail
