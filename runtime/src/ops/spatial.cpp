// Window geometry for convolution and pooling.
#include "ops/spatial.hpp"

#include <climits>

#include "checked_int.hpp"
#include "clnn/error.hpp"

namespace clnn::detail {

namespace {

// One value per spatial dimension: `values` itself, or `fallback` repeated when it is empty.
std::vector<std::int64_t> per_dimension(const std::string& op, const char* what,
                                        const std::vector<std::int64_t>& values, std::size_t dims,
                                        std::int64_t fallback, std::int64_t minimum) {
  if (values.empty()) return std::vector<std::int64_t>(dims, fallback);
  if (values.size() != dims)
    throw ShapeError(op + ": " + what + " has " + std::to_string(values.size()) + " entries for " +
                     std::to_string(dims) + " spatial dimensions");
  for (auto v : values)
    if (v < minimum || v > kMaxWindowValue)
      throw ShapeError(op + ": " + what + " " + to_string(Shape(values)) +
                       " has an entry outside [" + std::to_string(minimum) + ", " +
                       std::to_string(kMaxWindowValue) + "]");
  return values;
}

}  // namespace

Window make_window(const std::string& op, const Shape& x, const WindowSpec& spec) {
  if (x.size() < 3 || x.size() > 5)
    throw ShapeError(op + ": input " + to_string(x) +
                     " must be [N, C, W], [N, C, H, W] or [N, C, D, H, W]");
  Window w;
  w.spatial_dims = x.size() - 2;
  const std::size_t dims = w.spatial_dims, skip = 3 - dims;
  w.n = x[0];
  w.c = x[1];
  if (spec.kernel.size() != dims)
    throw ShapeError(op + ": kernel " + to_string(Shape(spec.kernel)) + " does not have " +
                     std::to_string(dims) + " spatial dimensions like the input " + to_string(x));
  auto kernel = per_dimension(op, "kernel", spec.kernel, dims, 1, 1);
  auto strides = per_dimension(op, "strides", spec.strides, dims, 1, 1);
  auto pads_begin = per_dimension(op, "pads_begin", spec.pads_begin, dims, 0, 0);
  auto pads_end = per_dimension(op, "pads_end", spec.pads_end, dims, 0, 0);
  auto dilations = per_dimension(op, "dilations", spec.dilations, dims, 1, 1);
  for (std::size_t d = 0; d < dims; ++d) {
    const std::size_t t = d + skip;
    w.in[t] = x[d + 2];
    w.kernel[t] = kernel[d];
    w.stride[t] = strides[d];
    w.pad_begin[t] = pads_begin[d];
    w.pad_end[t] = pads_end[d];
    w.dilation[t] = dilations[d];
    const std::int64_t span = w.dilation[t] * (w.kernel[t] - 1) + 1;
    const std::int64_t padded = (CheckedInt(w.in[t]) + w.pad_begin[t] + w.pad_end[t]).value();
    if (span > padded)
      throw ShapeError(op + ": the kernel spans " + std::to_string(span) +
                       " in spatial dimension " + std::to_string(d) +
                       ", more than the padded input's " + std::to_string(padded) + " (input " +
                       to_string(x) + ")");
    std::int64_t steps = padded - span;
    w.out[t] = (spec.ceil_mode ? (steps + w.stride[t] - 1) / w.stride[t] : steps / w.stride[t]) + 1;
    // With ceil mode the last window must start inside the input or its leading padding.
    if (spec.ceil_mode && (w.out[t] - 1) * w.stride[t] >= w.in[t] + w.pad_begin[t]) --w.out[t];
  }
  // x's element count is checked when its node is made; the taps are not.
  const CheckedInt taps = CheckedInt(w.c) * w.kernel[0] * w.kernel[1] * w.kernel[2];
  if (w.n * w.c * w.in_positions() > INT_MAX || taps.value() > INT_MAX)
    throw ShapeError(op + ": input " + to_string(x) + " is too large");
  return w;
}

Shape window_output_shape(const Window& w, std::int64_t channels) {
  Shape out{w.n, channels};
  for (std::size_t t = 3 - w.spatial_dims; t < 3; ++t) out.push_back(w.out[t]);
  return out;
}

Window input_gradient_window(const Window& win, std::int64_t filters) {
  Window g = win;
  g.c = filters;
  g.in = win.out;
  g.out = win.in;
  for (std::size_t d = 0; d < 3; ++d) {
    // Output position i of the gradient meets gy at i + pad - tap * dilation: with the taps
    // flipped, that is a window starting at i - (reach - pad).
    const std::int64_t reach = win.dilation[d] * (win.kernel[d] - 1);
    g.stride[d] = 1;
    g.pad_begin[d] = reach - win.pad_begin[d];
    g.pad_end[d] = reach - win.pad_end[d];
  }
  return g;
}

cl_int16 Window::packed() const {
  cl_int16 g{};
  const std::int64_t values[16] = {
      c,           in[0],      in[1],     in[2],        kernel[0],    kernel[1],    kernel[2],
      stride[0],   stride[1],  stride[2], pad_begin[0], pad_begin[1], pad_begin[2], dilation[0],
      dilation[1], dilation[2]};
  for (int i = 0; i < 16; ++i) g.s[i] = cl_int(values[i]);
  return g;
}

cl_int4 Window::packed_out() const {
  cl_int4 o{};
  o.s[0] = cl_int(out[0]), o.s[1] = cl_int(out[1]), o.s[2] = cl_int(out[2]);
  return o;
}

}  // namespace clnn::detail
