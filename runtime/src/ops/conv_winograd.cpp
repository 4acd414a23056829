// Winograd F(m x m, r x r) convolution: transforms (cl_kernels/winograd.cl) around a batched GEMM
// (3-D: around products that sum the depth taps, multiply() below).
#include "ops/conv_winograd.hpp"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <utility>

#include "cl/kernel_call.hpp"
#include "ops/common.hpp"
#include "ops/conv_implicit.hpp"
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
// (depth,) H, W], padded by pad_h and pad_w before, into y [N, filters, (out_depth,) OH, OW], in
// tiles of m x m outputs from alpha x alpha inputs.
//
// In 3-D, the filters' depth_taps along the depth (unit stride, pad_d before) stay a sum: each
// plane of x transforms as in 2-D (x viewed as [N, channels * depth, H, W]), so that V[xi] holds
// rows (c, d) of tiles, and M[xi][f, od] = sum over c, a of U[xi][f, c, a] V[xi][c, od + a -
// pad_d] is, for each point, a convolution along the depth: one grouped 3-D convolution of
// depth_taps x 1 x 1 filters over V as one sample of points * channels channels of depth x row
// x 1 (the implicit GEMM's kernel, the points its groups), or a batched GEMM per depth tap
// (multiply). Its output M, read as [xi][f * out_depth + od][t], transforms back as in 2-D into
// y viewed as [N, filters * out_depth, OH, OW].
struct WinogradLaunch {
  std::int64_t n, channels, h, w, filters, out_h, out_w, pad_h, pad_w, m, alpha;
  std::int64_t depth = 1, out_depth = 1, depth_taps = 1, pad_d = 0;
  bool volumetric = false;  // 3-D: the product sums the depth taps as above
  bool u_in_scratch = true;  // false where the executor prepared U (prepare_filters)

  std::int64_t points() const { return alpha * alpha; }
  std::int64_t tiles_h() const { return (out_h + m - 1) / m; }
  std::int64_t tiles_w() const { return (out_w + m - 1) / m; }
  std::int64_t tiles() const { return n * tiles_h() * tiles_w(); }
  // The rows of V and M hold the tiles padded to a float4, so the GEMM runs on aligned rows.
  std::int64_t row() const { return float4_aligned(tiles()); }
  // U: filters x channels x depth taps a point.
  std::int64_t u_floats() const { return points() * filters * channels * depth_taps; }
  // Scratch holds U (unless prepared), then (3-D with several depth taps) U in the implicit
  // GEMM's tap-major order, then V, then M, each starting on a float4.
  bool arranges() const { return volumetric && depth_taps > 1; }
  std::size_t arranged_offset() const { return std::size_t(float4_aligned(u_floats())); }
  // Where the product reads U in scratch.
  std::size_t u_offset() const { return arranges() ? arranged_offset() : 0; }
  std::size_t v_offset() const {
    if (!u_in_scratch) return 0;
    return arranged_offset() + (arranges() ? std::size_t(float4_aligned(u_floats())) : 0);
  }
  std::size_t m_offset() const {
    return v_offset() + std::size_t(points() * channels * depth * row());
  }
  std::size_t scratch_floats() const {
    return m_offset() + std::size_t(points() * filters * out_depth * row());
  }
};

// The 3-D product of a launch as the implicit GEMM's launch (above).
ImplicitLaunch depth_product(const WinogradLaunch& l) {
  ImplicitLaunch p;
  Window& win = p.win;
  win.spatial_dims = 3;
  win.n = 1, win.c = l.points() * l.channels;
  win.in = {l.depth, l.row(), 1};
  win.kernel = {l.depth_taps, 1, 1};
  win.pad_begin = {l.pad_d, 0, 0};
  win.pad_end = {l.out_depth + l.depth_taps - 1 - l.depth - l.pad_d, 0, 0};
  win.out = {l.out_depth, l.row(), 1};
  p.filters = l.points() * l.filters, p.groups = l.points();
  return p;
}

// Whether the geometry is one the transforms compute: 2-D, 3x3 or 5x5, unit strides and
// dilations, one group, and extents the kernels index with int arithmetic; or 3-D with such
// planes, any filter depth, unit stride and dilation along it (the forward pass only).
bool applies(const Window& win, std::int64_t filters, std::int64_t groups) {
  if (win.spatial_dims < 2 || groups != 1) return false;
  const std::int64_t r = win.kernel[1], m = output_tile(r);
  if (m == 0) return false;
  for (std::size_t d = 0; d < 3; ++d)
    if ((d > 0 && win.kernel[d] != r) || win.stride[d] != 1 || win.dilation[d] != 1) return false;
  const std::int64_t alpha = m + r - 1;
  const std::int64_t tiles = float4_aligned(tile_count(win, m));
  for (std::int64_t extent :
       {win.n * win.c * win.in_positions(), win.n * filters * win.out_positions(),
        alpha * alpha * filters * win.out[0] * tiles, alpha * alpha * win.c * win.in[0] * tiles})
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
  // In 3-D each depth tap's plane of a filter is one more channel: U[xi][f][c * depth_taps + a].
  const std::int64_t planes = l.channels * l.depth_taps;
  set_args(filters, w, u, cl_ulong(at), cl_int(l.filters), cl_int(planes), cl_int(flip ? 1 : 0));
  ctx.enqueue_elementwise(filters, std::size_t(l.filters * planes));
}

// U as the 3-D product reads it, into `out` from element `at` on: transformed, then (several
// depth taps) rearranged tap-major from scratch's U. In 2-D, U itself.
void prepare_u(ContextImpl& ctx, const WinogradLaunch& l, cl_mem w, cl_mem scratch, cl_mem out,
               std::size_t at) {
  if (!l.arranges()) return transform_filters(ctx, l, w, false, out, at);
  transform_filters(ctx, l, w, false, scratch, 0);
  arrange_filters(ctx, scratch, out, at, l.points() * l.filters, l.points() * l.channels,
                  l.depth_taps, l.points(), false);
}

// The output depth planes od that depth tap a reaches, od + a - pad_d within the input: [begin,
// end).
std::pair<std::int64_t, std::int64_t> planes_of_tap(const WinogradLaunch& l, std::int64_t a) {
  return {std::max<std::int64_t>(0, l.pad_d - a), std::min(l.out_depth, l.depth + l.pad_d - a)};
}

// A depth tap that reaches every output plane (-1 if none does: pads past the filters' reach).
std::int64_t covering_tap(const WinogradLaunch& l) {
  for (std::int64_t a = 0; a < l.depth_taps; ++a)
    if (planes_of_tap(l, a) == std::pair<std::int64_t, std::int64_t>{0, l.out_depth}) return a;
  return -1;
}

// Whether the 3-D product is the grouped convolution along the depth (WinogradLaunch), which
// reads and writes M once: on devices that do not loop rows (GPUs), and where no tap reaches
// every output plane; else GEMMs per tap on gemm_cpu.
bool grouped_product(const ContextImpl& ctx, const WinogradLaunch& l) {
  return l.volumetric && (!ctx.row_loops || covering_tap(l) < 0);
}

// M = U V for the alpha^2 points, U read from u. In 2-D one batched GEMM; in 3-D the grouped
// product, or one such GEMM per depth tap over the planes it reaches, the tap that reaches all
// of them first.
void multiply(ContextImpl& ctx, const WinogradLaunch& l, cl_mem u, cl_mem scratch) {
  const std::size_t u_at = u == scratch ? l.u_offset() : 0;
  const std::int64_t first = covering_tap(l);
  if (grouped_product(ctx, l)) {
    const ImplicitLaunch product = depth_product(l);
    ImplicitConfig config = chosen_config(ctx, product);
    config.slices = 1;  // its operands lie in scratch, where slices would be summed
    run_implicit(ctx, product, config, {scratch, l.v_offset()}, {u, u_at}, {scratch, l.m_offset()});
    return;
  }
  // U[xi] is filters x (taps x channels), tap-major; V[xi] and M[xi] are (channels or filters) x
  // (planes x row). In 2-D: one tap, one plane.
  const auto row = std::size_t(l.row()), channels = std::size_t(l.channels);
  const auto taps = std::size_t(l.depth_taps), filters = std::size_t(l.filters);
  for (std::int64_t i = 0; i < l.depth_taps; ++i) {
    const std::int64_t a = i == 0 ? first : i <= first ? i - 1 : i;
    const auto [begin, end] = planes_of_tap(l, a);
    if (begin >= end) continue;
    GemmCall g;
    g.batch = std::size_t(l.points());
    g.m = filters, g.n = std::size_t(end - begin) * row, g.k = channels;
    g.beta = i == 0 ? 0.0f : 1.0f;
    g.a = u, g.offset_a = u_at + std::size_t(a) * channels, g.lda = taps * channels;
    g.stride_a = filters * taps * channels;
    g.b = scratch, g.offset_b = l.v_offset() + std::size_t(begin + a - l.pad_d) * row;
    g.ldb = std::size_t(l.depth) * row, g.stride_b = channels * g.ldb;
    g.c = scratch, g.offset_c = l.m_offset() + std::size_t(begin) * row;
    g.ldc = std::size_t(l.out_depth) * row, g.stride_c = filters * g.ldc;
    gemm(ctx, g);
  }
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

// Launches a transform over `planes` channels or filters. The _lanes kernels' work-items each
// loop over their vector of tiles, as CPUs' line kernels do, and are spread over every core
// (ContextImpl::enqueue_lines), where the elementwise plan's groups of 256 had put a batch-1
// layer's transform (32 channels of 27 x 27: 128 work-items) on one core.
void enqueue_transform(ContextImpl& ctx, cl_kernel k, const TransformLanes& lanes,
                       std::int64_t planes) {
  const std::size_t items = std::size_t(planes) * lanes.items;
  if (lanes.suffix.empty())
    ctx.enqueue_elementwise(k, items);
  else
    ctx.enqueue_lines(k, items);
}

// The convolution into y, or where `placement` says if it says; U read from `prepared_u` where
// given, else transformed from w into scratch.
void run(ContextImpl& ctx, WinogradLaunch l, cl_mem x, cl_mem w, bool flip, cl_mem bias,
         const Tensor& y, float beta, const Epilogue& epilogue, const Placement& placement = {},
         cl_mem prepared_u = nullptr) {
  l.u_in_scratch = prepared_u == nullptr;
  const std::string& transform = transform_options(l.alpha - l.m + 1);
  cl_mem scratch = ctx.scratch(l.scratch_floats());
  if (!prepared_u) {
    if (flip)
      transform_filters(ctx, l, w, true, scratch, 0);  // the input gradient (2-D)
    else
      prepare_u(ctx, l, w, scratch, scratch, l.u_offset());
  }

  // In 3-D the planes of x and y are its channels and filters in 2-D (WinogradLaunch).
  const std::int64_t planes = l.channels * l.depth, out_planes = l.filters * l.out_depth;
  const TransformLanes lanes = transform_lanes(ctx, l.tiles());
  cl_kernel inputs =
      ctx.kernel("winograd", "winograd_inputs" + lanes.suffix, transform + lanes.options);
  set_args(inputs, x, scratch, cl_ulong(l.v_offset()),
           cl_int4{{cl_int(l.n), cl_int(planes), cl_int(l.h), cl_int(l.w)}},
           cl_int4{{cl_int(l.tiles_h()), cl_int(l.tiles_w()), cl_int(l.pad_h), cl_int(l.pad_w)}},
           cl_int(l.row()));
  enqueue_transform(ctx, inputs, lanes, planes);

  multiply(ctx, l, prepared_u ? prepared_u : scratch, scratch);

  cl_kernel outputs = ctx.kernel("winograd", "winograd_outputs" + lanes.suffix,
                                 transform + lanes.options + epilogue_options(epilogue));
  const Tensor& out = placement.into ? *placement.into : y;
  const std::int64_t plane = l.out_depth * l.out_h * l.out_w;
  set_args(outputs, scratch, cl_ulong(l.m_offset()), mem(out), cl_ulong(placement.channel * plane),
           cl_int(out.shape()[1] * l.out_depth), bias,
           cl_int4{{cl_int(l.n), cl_int(out_planes), cl_int(l.out_h), cl_int(l.out_w)}},
           cl_int2{{cl_int(l.tiles_h()), cl_int(l.tiles_w())}}, cl_int(l.row()),
           cl_int(l.out_depth), beta);
  enqueue_transform(ctx, outputs, lanes, out_planes);
}

// The forward pass of c as a launch.
WinogradLaunch forward_launch(const WinogradConv& c) {
  const Window& win = c.win;
  const std::int64_t r = win.kernel[1], m = output_tile(r);
  WinogradLaunch l{win.n,      win.c,      win.in[1],        win.in[2],        c.filters,
                   win.out[1], win.out[2], win.pad_begin[1], win.pad_begin[2], m,
                   m + r - 1};
  l.depth = win.in[0], l.out_depth = win.out[0], l.depth_taps = win.kernel[0];
  l.pad_d = win.pad_begin[0], l.volumetric = win.spatial_dims == 3;
  return l;
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
// 5.9 / 3.8; but 16 channels into 64 of 55x55 0.33 / 0.65 and 9.4 / 12.4. On a 2-core EPYC
// (2026-12-06, two rounds of `clnn-run`), products of 16 tiles (13x13 and 14x14 at batch 1; 17
// to 31 tiles were not measured) pay where channels times filters is 8192 or more:
// 48 into 192 0.22-0.39 / 0.22-0.25, 64 into 128 0.22-0.23 / 0.16-0.18, 64 into 256 0.35-0.40 /
// 0.23-0.28, 96 into 96 0.24-0.27 / 0.16-0.25, 128 into 128 0.35-0.38 / 0.23-0.28, 256 into 256
// 1.24-1.38 / 0.55-0.85 (since its product left the matrix-vector kernels, gemv_pays), 512 into
// 512 4.9-5.4 / 3.0-3.7; not below it: the large Fashion-MNIST model's 32 into 64 0.085 / 0.10-0.11
// and 64 into 64 0.125-0.16 / 0.14, 32 into 128 0.13-0.15 / 0.13-0.16. Products of 4 tiles (7x7)
// lost 4-5 times over (256 channels 0.41-0.51 / 1.7-2.2). Every layer measured had 64 filters or
// more: the filters' bound is that, not a measured edge. Whole models gain less than their layers
// alone, whose transformed filters (4 times the filters' bytes) stay in the cache from run to run:
// at batch 1, five alternating rounds, resnet18 18.5-19.3 ms against 18.6-22.9 before,
// squeezenet1_1 5.2-6.5 against 5.4-6.0. The input gradient takes the same rule with channels and
// filters exchanged and the input's tiles; it was not measured on its own.
//
// In 3-D the tiles of every output plane count (the columns of a tap's product), and a tap must
// reach every output plane (else the product would run the GPUs' grouped kernel). r3d_18 at batch
// 1 (CLNN_PROFILE=nodes, padded against Winograd, ms): its 64-channel layers (16 x 196 tiles)
// 229-244 / 61-70, 128 channels (8 x 49) 82-93 / 26-32, 256 (4 x 16) 32-34 / 31-39, 512 (2 x 4,
// below the bound) 22-24 / 165-169; the model 1.48-1.57 s against 0.84.
constexpr std::int64_t kMinChannelsOnCpus = 32, kMinFiltersOnCpus = 64, kMinTilesOnCpus = 16,
                       kMinTilesAnyPairsOnCpus = 32, kMinPairsOnFewTiles = 8192;

bool pays_on_cpus(const ContextImpl& ctx, const WinogradLaunch& l) {
  const std::int64_t tiles = l.tiles() * l.out_depth;
  const bool enough_work =
      tiles >= kMinTilesAnyPairsOnCpus ||
      (tiles >= kMinTilesOnCpus && l.channels * l.filters >= kMinPairsOnFewTiles);
  return l.alpha - l.m + 1 == 3 && l.channels >= kMinChannelsOnCpus &&
         l.filters >= kMinFiltersOnCpus && enough_work && !grouped_product(ctx, l);
}

}  // namespace

bool WinogradConv::serves_forward() const {
  if (!applies(win, filters, groups)) return false;
  const WinogradLaunch l = forward_launch(*this);
  if (grouped_product(ctx, l) && !implicit_runs(ctx, depth_product(l))) return false;
  const bool fits = scratch_fits(ctx, l);
  return takes(ConvRoute::winograd, pays(win.c, filters) && fits, pays_on_cpus(ctx, l) && fits);
}

std::string WinogradConv::describe() const {
  const std::string r = std::to_string(win.kernel[1]), m = std::to_string(output_tile(win.kernel[1]));
  const std::string planes = "F(" + m + "x" + m + ", " + r + "x" + r + ")";
  if (win.spatial_dims < 3) return planes;
  return planes + " over " + std::to_string(win.kernel[0]) + " depth taps";
}

bool WinogradConv::serves_input_gradient() const {
  // 3-D: the forward pass only (its filters would need flipping along the depth as well).
  if (win.spatial_dims == 3 || !applies(win, filters, groups)) return false;
  const bool fits = scratch_fits(ctx, input_gradient_launch(*this));
  return takes(ConvRoute::winograd, pays(filters, win.c) && fits,
               pays_on_cpus(ctx, input_gradient_launch(*this)) && fits);
}

std::size_t WinogradConv::prepared_filter_floats() const {
  return std::size_t(forward_launch(*this).u_floats());
}

void WinogradConv::prepare_filters(const Tensor& w, const Tensor& prepared) const {
  const WinogradLaunch l = forward_launch(*this);
  cl_mem scratch = l.arranges() ? ctx.scratch(std::size_t(l.u_floats())) : nullptr;
  prepare_u(ctx, l, mem(w), scratch, mem(prepared), 0);
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
