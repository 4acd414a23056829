// Winograd F(m x m, r x r) convolution: transforms (cl_kernels/winograd.cl) around a batched GEMM.
#include "ops/conv_winograd.hpp"

#include <climits>
#include <cstdint>

#include "cl/kernel_call.hpp"
#include "ops/common.hpp"
#include "ops/gemm.hpp"
#include "ops/winograd_transform.hpp"

namespace clnn::detail {

namespace {

// The output tile for r x r filters: F(4x4, 3x3) and F(2x2, 5x5), or none (0). Per output and
// channel they take alpha^2 / m^2 multiplications (2.25 and 9) where the implicit GEMM takes r^2
// (9 and 25). On the H200 at batch 32, F(4x4, 3x3) against F(2x2, 3x3) (two rounds each, one
// call): vgg11 6.00 ms against 7.87, resnet18 2.88 against 3.15, resnet50 10.40 against 10.65,
// alexnet 1.24 against 1.29; at batch 1 up to 3% slower (resnet50 2.26 against 2.19, alexnet
// 0.34 against 0.33). F(2x2, 5x5) took alexnet's 64 -> 192 5x5 layer (27x27, batch 32) off the
// implicit GEMM's 0.85 ms: the model ran 1.30 ms against 2.14.
int output_tile(std::int64_t r) { return r == 3 ? 4 : r == 5 ? 2 : 0; }

// The m x m tiles of the output of all samples.
std::int64_t tile_count(const Window& win, std::int64_t m) {
  return win.n * ((win.out[1] + m - 1) / m) * ((win.out[2] + m - 1) / m);
}

// The kernels' build options for r x r filters (r of 3 or 5), built once: not per launch.
const std::string& transform_options(std::int64_t r) {
  static const std::string three = winograd_transform(output_tile(3), 3).build_options();
  static const std::string five = winograd_transform(output_tile(5), 5).build_options();
  return r == 3 ? three : five;
}

// One convolution run this way: `filters` filters over `channels` channels of x [N, channels,
// H, W], padded by pad_h and pad_w before, into y [N, filters, OH, OW], in tiles of m x m
// outputs from alpha x alpha inputs.
struct WinogradLaunch {
  std::int64_t n, channels, h, w, filters, out_h, out_w, pad_h, pad_w, m, alpha;

  std::int64_t points() const { return alpha * alpha; }
  std::int64_t tiles_h() const { return (out_h + m - 1) / m; }
  std::int64_t tiles_w() const { return (out_w + m - 1) / m; }
  std::int64_t tiles() const { return n * tiles_h() * tiles_w(); }
  // The rows of V and M hold the tiles padded to a float4, so the GEMM runs on aligned rows.
  std::int64_t row() const { return float4_aligned(tiles()); }
  // Scratch holds U, then V, then M, each starting on a float4.
  std::size_t v_offset() const {
    return std::size_t(float4_aligned(points() * filters * channels));
  }
  std::size_t m_offset() const { return v_offset() + std::size_t(points() * channels * row()); }
  std::size_t scratch_floats() const { return m_offset() + std::size_t(points() * filters * row()); }
};

// Whether the geometry is one the transforms compute: 2-D, 3x3 or 5x5, unit strides and
// dilations, one group, and extents the kernels index with int arithmetic.
bool applies(const Window& win, std::int64_t filters, std::int64_t groups) {
  if (win.spatial_dims != 2 || groups != 1) return false;
  const std::int64_t r = win.kernel[1], m = output_tile(r);
  if (m == 0) return false;
  for (std::size_t d = 1; d < 3; ++d)
    if (win.kernel[d] != r || win.stride[d] != 1 || win.dilation[d] != 1) return false;
  const std::int64_t alpha = m + r - 1;
  const std::int64_t tiles = tile_count(win, m);
  for (std::int64_t extent : {win.n * win.c * win.in_positions(),
                              win.n * filters * win.out_positions(), alpha * alpha * filters * tiles,
                              alpha * alpha * win.c * tiles})
    if (extent >= INT_MAX) return false;
  return true;
}

// Channels and filters from which the transforms pay for themselves on a GPU. On the H100 the
// bench layer of 256 (14x14, batch 32) ran forward in 0.127 ms against the implicit GEMM's
// 0.251, and one of 64 (56x56) in 0.204 against 0.235 (forward and backward 0.897 against
// 0.946); the large Fashion-MNIST model trained as fast with its 64-channel layer on this route
// as without, and 0.93x as fast with its 1- and 32-channel layers on it too.
constexpr std::int64_t kMinChannels = 64;

// Whether the transforms pay on a GPU for a pass over this many channels into this many filters.
bool pays(std::int64_t channels, std::int64_t filters) {
  return channels >= kMinChannels && filters >= kMinChannels;
}

// U, the filters transformed, into u from element `at` on.
void transform_filters(ContextImpl& ctx, const WinogradLaunch& l, cl_mem w, bool flip, cl_mem u,
                       std::size_t at) {
  cl_kernel filters =
      ctx.kernel("winograd", "winograd_filters", transform_options(l.alpha - l.m + 1));
  set_args(filters, w, u, cl_ulong(at), cl_int(l.filters), cl_int(l.channels),
           cl_int(flip ? 1 : 0));
  ctx.enqueue_elementwise(filters, std::size_t(l.filters * l.channels));
}

// The input and output transforms' kernels for a context: where it loops rows (CPUs) the _lanes
// kernels, a vector of tiles per work-item (the device's native width), else a tile per
// work-item; and the work-items per channel or filter.
struct TransformLanes {
  std::string suffix, options;
  std::size_t items = 0;
};

TransformLanes transform_lanes(const ContextImpl& ctx, std::int64_t tiles) {
  if (!ctx.row_loops) return {"", "", std::size_t(tiles)};
  const std::size_t lanes = ctx.planner.vector_floats();
  return {"_lanes", " -DLANES=" + std::to_string(lanes), (std::size_t(tiles) + lanes - 1) / lanes};
}

// The convolution into y, or where `placement` says if it says; U read from `prepared_u` where
// given, else transformed from w into scratch.
void run(ContextImpl& ctx, const WinogradLaunch& l, cl_mem x, cl_mem w, bool flip, cl_mem bias,
         const Tensor& y, float beta, const Epilogue& epilogue, const Placement& placement = {},
         cl_mem prepared_u = nullptr) {
  const std::string& transform = transform_options(l.alpha - l.m + 1);
  cl_mem scratch = ctx.scratch(l.scratch_floats());
  if (!prepared_u) transform_filters(ctx, l, w, flip, scratch, 0);

  const TransformLanes lanes = transform_lanes(ctx, l.tiles());
  cl_kernel inputs =
      ctx.kernel("winograd", "winograd_inputs" + lanes.suffix, transform + lanes.options);
  set_args(inputs, x, scratch, cl_ulong(l.v_offset()),
           cl_int4{{cl_int(l.n), cl_int(l.channels), cl_int(l.h), cl_int(l.w)}},
           cl_int4{{cl_int(l.tiles_h()), cl_int(l.tiles_w()), cl_int(l.pad_h), cl_int(l.pad_w)}},
           cl_int(l.row()));
  ctx.enqueue_elementwise(inputs, std::size_t(l.channels) * lanes.items);

  // M[xi] = U[xi] V[xi] for the alpha^2 points xi.
  GemmCall g;
  g.batch = std::size_t(l.points());
  g.m = std::size_t(l.filters), g.n = std::size_t(l.row()), g.k = std::size_t(l.channels);
  g.a = prepared_u ? prepared_u : scratch, g.lda = g.k, g.stride_a = g.m * g.k;
  g.b = scratch, g.offset_b = l.v_offset(), g.ldb = g.n, g.stride_b = g.k * g.n;
  g.c = scratch, g.offset_c = l.m_offset(), g.ldc = g.n, g.stride_c = g.m * g.n;
  gemm(ctx, g);

  cl_kernel outputs = ctx.kernel("winograd", "winograd_outputs" + lanes.suffix,
                                 transform + lanes.options + epilogue_options(epilogue));
  const Tensor& out = placement.into ? *placement.into : y;
  set_args(outputs, scratch, cl_ulong(l.m_offset()), mem(out),
           cl_ulong(placement.channel * l.out_h * l.out_w), cl_int(out.shape()[1]), bias,
           cl_int4{{cl_int(l.n), cl_int(l.filters), cl_int(l.out_h), cl_int(l.out_w)}},
           cl_int2{{cl_int(l.tiles_h()), cl_int(l.tiles_w())}}, cl_int(l.row()), beta);
  ctx.enqueue_elementwise(outputs, std::size_t(l.filters) * lanes.items);
}

// The forward pass of c as a launch.
WinogradLaunch forward_launch(const WinogradConv& c) {
  const Window& win = c.win;
  const std::int64_t r = win.kernel[1], m = output_tile(r);
  return {win.n,      win.c,      win.in[1],        win.in[2],        c.filters,
          win.out[1], win.out[2], win.pad_begin[1], win.pad_begin[2], m,
          m + r - 1};
}

// The input gradient of c as a launch: output position i of the gradient meets gy at
// i + pad - tap, so with the taps turned, a window starting at i - (r - 1 - pad).
WinogradLaunch input_gradient_launch(const WinogradConv& c) {
  const Window& win = c.win;
  const std::int64_t r = win.kernel[1], m = output_tile(r);
  return {win.n,
          c.filters,
          win.out[1],
          win.out[2],
          win.c,
          win.in[1],
          win.in[2],
          r - 1 - win.pad_begin[1],
          r - 1 - win.pad_begin[2],
          m,
          m + r - 1};
}

// Whether the launch's scratch (U, V and M) is one allocation the device takes: unforced, a
// convolution too large for it (a large batch) keeps to the other routes.
bool scratch_fits(const ContextImpl& ctx, const WinogradLaunch& l) {
  const std::uint64_t most = ctx.info.max_mem_alloc_size;
  return most == 0 || l.scratch_floats() <= most / sizeof(float);
}

// Where F(4x4, 3x3) pays on a CPU, against the padded direct route: on a 2-core AVX-512 Xeon
// (`clnn-run` of single layers, the fastest of 3 to 6 alternating runs, ms, padded / Winograd)
// 32 channels into 128 of 27x27 0.52 / 0.40 at batch 1 and 9.4 / 7.2 at 32, 64 into 64 of 56x56
// 1.19 / 0.94 and 37 / 31, 128 into 128 of 28x28 1.12 / 0.77, 48 into 192 of 13x13 at batch 32
// 5.9 / 3.8; but 16 channels into 64 of 55x55 0.33 / 0.65 and 9.4 / 12.4. Products of 16 tiles
// (13x13 and 14x14 at batch 1) gained nothing, and the large Fashion-MNIST model's 14x14 layers
// lost there (0.50 against 0.61 ms a batch-1 inference). With 16 tiles or fewer the product
// takes the matrix-vector kernels where K is 256 or more (256 channels of 14x14 at batch 1: the
// layer took 4.2 to 5.7 ms against 1.1 to 2.1). Every layer measured had 64 filters or more:
// the filters' bound is that, not a measured edge. The input gradient takes the same rule with
// channels and filters exchanged and the input's tiles; it was not measured on its own.
constexpr std::int64_t kMinChannelsOnCpus = 32, kMinFiltersOnCpus = 64, kMinTilesOnCpus = 32;

bool pays_on_cpus(const WinogradLaunch& l) {
  return l.alpha - l.m + 1 == 3 && l.channels >= kMinChannelsOnCpus &&
         l.filters >= kMinFiltersOnCpus && l.tiles() >= kMinTilesOnCpus;
}

}  // namespace

bool WinogradConv::serves_forward() const {
  if (!applies(win, filters, groups)) return false;
  const bool fits = scratch_fits(ctx, forward_launch(*this));
  return takes(ConvRoute::winograd, pays(win.c, filters) && fits,
               pays_on_cpus(forward_launch(*this)) && fits);
}

std::string WinogradConv::describe() const {
  const std::string r = std::to_string(win.kernel[1]), m = std::to_string(output_tile(win.kernel[1]));
  return "F(" + m + "x" + m + ", " + r + "x" + r + ")";
}

bool WinogradConv::serves_input_gradient() const {
  if (!applies(win, filters, groups)) return false;
  const bool fits = scratch_fits(ctx, input_gradient_launch(*this));
  return takes(ConvRoute::winograd, pays(filters, win.c) && fits,
               pays_on_cpus(input_gradient_launch(*this)) && fits);
}

std::size_t WinogradConv::prepared_filter_floats() const {
  const WinogradLaunch l = forward_launch(*this);
  return std::size_t(l.points() * l.filters * l.channels);
}

void WinogradConv::prepare_filters(const Tensor& w, const Tensor& prepared) const {
  transform_filters(ctx, forward_launch(*this), mem(w), false, mem(prepared), 0);
}

void WinogradConv::forward(const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor& y,
                           float beta, const Epilogue& epilogue, const Placement& placement,
                           const Tensor* prepared) const {
  run(ctx, forward_launch(*this), mem(x), mem(w), false, bias ? mem(*bias) : nullptr, y, beta,
      epilogue, placement, prepared ? mem(*prepared) : nullptr);
}

void WinogradConv::input_gradient(const Tensor& gy, const Tensor& w, const Tensor& gx,
                                  float beta) const {
  run(ctx, input_gradient_launch(*this), mem(gy), mem(w), true, nullptr, gx, beta, Epilogue{});
}

}  // namespace clnn::detail
