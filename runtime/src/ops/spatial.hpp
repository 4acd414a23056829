// Internal: the geometry of sliding-window operators (convolution, pooling) over 1, 2 or 3
// spatial dimensions, held as three dimensions with leading extents of 1.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "cl_api.hpp"
#include "clnn/shape.hpp"

namespace clnn::detail {

using Triple = std::array<std::int64_t, 3>;

// The largest kernel extent, stride, pad or dilation: the kernels take them as cl_int.
constexpr std::int64_t kMaxWindowValue = 2147483647;

// Positions of a line that the CPUs' line kernels keep in one vector (line_segments.h's SEG:
// depthwise_forward_rows, max_pool_forward_rows and max_pool_forward_values).
constexpr std::int64_t kSegment = 16;

struct Window {
  std::int64_t n = 1, c = 1;  // batch and channels of the input
  Triple in{1, 1, 1}, kernel{1, 1, 1}, stride{1, 1, 1}, pad_begin{0, 0, 0}, pad_end{0, 0, 0},
      dilation{1, 1, 1}, out{1, 1, 1};
  std::size_t spatial_dims = 0;

  std::int64_t in_positions() const { return in[0] * in[1] * in[2]; }
  std::int64_t out_positions() const { return out[0] * out[1] * out[2]; }
  std::int64_t kernel_positions() const { return kernel[0] * kernel[1] * kernel[2]; }
  bool unit_strides() const { return stride[0] == 1 && stride[1] == 1 && stride[2] == 1; }
  // The geometry as the kernels take it: (C, D, H, W, KD, KH, KW, SD, SH, SW, PD, PH, PW, DD, DH,
  // DW) and (OD, OH, OW, 0).
  cl_int16 packed() const;
  cl_int4 packed_out() const;
};

struct WindowSpec {
  std::vector<std::int64_t> kernel, strides, pads_begin, pads_end, dilations;
  bool ceil_mode = false;
};

// Checks x's shape [N, C, spatial...] and the spec, and computes the output extents. Throws
// ShapeError naming `op`.
Window make_window(const std::string& op, const Shape& x, const WindowSpec& spec);

// A unit-stride convolution's input gradient as a convolution of its output gradient (the
// filters flipped, channels and filters exchanged): input gy's extents, `filters` channels, unit
// strides, the same dilation, pads of the window's reach, dilation * (kernel - 1), less the
// original's (negative where a pad exceeds the reach), and output x's extents.
Window input_gradient_window(const Window& win, std::int64_t filters);

// Output shape [N, channels, out...] with as many spatial dimensions as the input.
Shape window_output_shape(const Window& w, std::int64_t channels);

}  // namespace clnn::detail
