// max_pool and avg_pool over 1, 2 or 3 spatial dimensions (kernel, strides, pads, ceil mode,
// count_include_pad), and global_avg_pool.
#include <algorithm>
#include <climits>
#include <memory>

#include "cl/kernel_call.hpp"
#include "clnn/error.hpp"
#include "clnn/ops.hpp"
#include "context_impl.hpp"
#include "ops/common.hpp"
#include "ops/op.hpp"
#include "ops/spatial.hpp"

namespace clnn::detail {

namespace {

// max_pool, avg_pool, and the positions of max_pool's maxima.
enum class Pooling { max, average, max_indices };

class PoolOp : public Op {
 public:
  PoolOp(Pooling kind, PoolOptions options, bool column_major = false)
      : kind_(kind),
        max_(kind == Pooling::max),
        column_major_(column_major),
        options_(std::move(options)) {}
  std::string type() const override {
    return kind_ == Pooling::max           ? "max_pool"
           : kind_ == Pooling::max_indices ? "max_pool_indices"
                                           : "avg_pool";
  }

  Shape infer_shape(const std::vector<Shape>& in) const override {
    for (auto d : options_.dilations)
      if (kind_ == Pooling::average && d != 1)
        throw ShapeError("avg_pool: dilated windows are not supported");
    if (kind_ == Pooling::max_indices && element_count(in[0]) > (std::int64_t{1} << 24))
      throw ShapeError(type() + ": " + to_string(in[0]) +
                       " has more elements than floats index exactly (2^24)");
    Window w = window(in[0]);
    for (std::size_t t = 0; t < 3; ++t)
      if (w.pad_begin[t] >= w.kernel[t] || w.pad_end[t] >= w.kernel[t])
        throw ShapeError(type() + ": pads must be smaller than the kernel");
    return window_output_shape(w, w.c);
  }

  void forward(const ForwardArgs& args) const override {
    const Window w = window(args.inputs[0]->shape());
    if (kind_ == Pooling::max_indices) {
      cl_kernel k = args.ctx.kernel("pool", "max_pool_indices");
      set_args(k, mem(*args.inputs[0]), mem(args.output), w.packed(), w.packed_out(),
               cl_long(w.n * w.c), cl_int(column_major_ ? 1 : 0));
      args.ctx.enqueue_elementwise(k, std::size_t(args.output.size()));
      return;
    }
    // Inference, where the 2 x 2 kernels do not serve: each window's maximum alone, no argmax.
    const bool maxima_alone = max_ && !args.saved.defined() && !pairs_tile(w);
    // CPUs: a line of values per work-item (the 2 x 2 kernel ran vgg11's 2 x 2 layers 1.5x to 6x
    // faster, 14 to 56 columns).
    if (maxima_alone && args.ctx.row_loops) {
      if (const int reach = values_line_reach(w)) {
        cl_kernel k = args.ctx.kernel("pool", "max_pool_forward_values",
                                      "-DVALUES_LINE=" + std::to_string(kValuesLineFloats));
        set_args(k, mem(*args.inputs[0]), mem(args.output), w.packed(), w.packed_out(),
                 cl_long(w.n * w.c), cl_int(reach));
        args.ctx.enqueue_lines(k, output_lines(w), kValuesLineFloats * sizeof(float));
        return;
      }
    }
    // GPUs: a work-item per output, the window's taps unrolled.
    if (maxima_alone && !args.ctx.row_loops && unrolls(w)) {
      cl_kernel k = args.ctx.kernel("pool", "max_pool_forward_unrolled", unrolled_options(w));
      set_args(k, mem(*args.inputs[0]), mem(args.output), w.packed(), w.packed_out(),
               cl_int(args.output.size()));
      args.ctx.enqueue_elementwise(k, std::size_t(args.output.size()));
      return;
    }
    if (max_) {  // in training the argmax of each window is saved for backward
      const cl_mem argmax = mem(args.saved.defined() ? args.saved : args.output);
      // GPUs: 2 x 2 windows a work-item per output with 32-bit indices.
      if (!args.ctx.row_loops && pairs_tile(w) && w.n * w.c * w.in_positions() < INT_MAX) {
        cl_kernel k = args.ctx.kernel("pool", "max_pool_forward_2x2");
        set_args(k, mem(*args.inputs[0]), mem(args.output), argmax, cl_int(args.saved.defined()),
                 cl_int(w.in[1]), cl_int(w.in[2]), cl_int(w.out[1]), cl_int(w.out[2]),
                 cl_int(args.output.size()));
        args.ctx.enqueue_elementwise(k, std::size_t(args.output.size()));
        return;
      }
      // CPUs: a work-item per line of 2 x 2 windows, or per plane of others.
      const bool rows = args.ctx.row_loops, pairs = rows && pairs_tile(w);
      const char* name = !rows ? "max_pool_forward"
                         : pairs ? "max_pool_forward_pairs"
                                 : "max_pool_forward_rows";
      cl_kernel k = args.ctx.kernel("pool", name);
      set_args(k, mem(*args.inputs[0]), mem(args.output), argmax, cl_int(args.saved.defined()),
               w.packed(), w.packed_out(), cl_long(w.n * w.c));
      if (!rows)
        args.ctx.enqueue_elementwise(k, std::size_t(args.output.size()));
      else
        args.ctx.enqueue_lines(k, pairs ? output_lines(w) : std::size_t(w.n * w.c));
      return;
    }
    cl_kernel k = args.ctx.kernel("pool", "avg_pool_forward");
    set_args(k, mem(*args.inputs[0]), mem(args.output), w.packed(), w.packed_out(), ends(w),
             cl_long(w.n * w.c));
    args.ctx.enqueue_elementwise(k, std::size_t(args.output.size()));
  }

  void backward(const BackwardArgs& args) const override {
    Tensor* gx = args.grad_inputs[0];
    if (!gx || kind_ == Pooling::max_indices) return;
    const Window w = window(gx->shape());
    auto& ctx = args.ctx;
    if (max_ && windows_tile(w)) {  // one pass writes every element: no fill
      const bool pairs = ctx.row_loops && pairs_tile(w);  // a line of 2 x 2 windows (CPUs)
      cl_kernel k =
          ctx.kernel("pool", pairs ? "max_pool_backward_pairs" : "max_pool_backward_tiles");
      set_args(k, mem(args.saved), mem(args.grad_output), mem(*gx), w.packed(), w.packed_out(),
               cl_long(w.n * w.c), args.betas[0]);
      if (pairs)
        ctx.enqueue_lines(k, output_lines(w));
      else
        ctx.enqueue_elementwise(k, std::size_t(args.grad_output.size()));
      return;
    }
    if (max_ && !windows_overlap(w)) {
      // Each input element lies in one window at most: scatter each window's gradient.
      if (args.betas[0] == 0.0f) fill(*gx, 0.0f);
      cl_kernel k = ctx.kernel("pool", "max_pool_backward_scatter");
      set_args(k, mem(args.saved), mem(args.grad_output), mem(*gx), count(args.grad_output));
      ctx.enqueue_elementwise(k, std::size_t(args.grad_output.size()));
      return;
    }
    cl_kernel k = ctx.kernel("pool", max_ ? "max_pool_backward" : "avg_pool_backward");
    if (max_)
      set_args(k, mem(args.saved), mem(args.grad_output), mem(*gx), w.packed(), w.packed_out(),
               cl_long(w.n * w.c), args.betas[0]);
    else
      set_args(k, mem(args.grad_output), mem(*gx), w.packed(), w.packed_out(), ends(w),
               cl_long(w.n * w.c), args.betas[0]);
    ctx.enqueue_elementwise(k, std::size_t(gx->size()));
  }

  // The argmax of every window (as int), kept from forward for backward.
  std::size_t saved_floats(const std::vector<Shape>&, const Shape& out) const override {
    return max_ ? std::size_t(element_count(out)) : 0;
  }

  // Backward reads only the saved argmax (max) or nothing (average).
  Needs backward_needs() const override { return {false, false}; }
  bool differentiable(std::size_t) const override { return kind_ != Pooling::max_indices; }

  // Forward reads every window whole (overlapping windows read some elements again) and does one
  // operation per element read; backward reads each output gradient (and argmax) once and writes
  // each input gradient.
  Cost cost(const CostArgs& args) const override {
    const double outputs = double(element_count(args.output));
    const double reads = outputs * double(window(args.inputs[0]).kernel_positions());
    Cost c;
    c.flops = reads;
    if (args.pass == Pass::forward)
      c.bytes = 4.0 * reads + float_bytes(args.output);
    else
      c.bytes = (max_ ? 8.0 : 4.0) * outputs + float_bytes(args.inputs[0]);
    return c;
  }

  bool to_onnx(OnnxNode& node) const override {
    node.op_type = kind_ == Pooling::average ? "AveragePool" : "MaxPool";
    if (kind_ == Pooling::max_indices) {  // MaxPool's second output, int64
      node.output = 1;
      node.index_output = true;
      node.ints["storage_order"] = column_major_ ? 1 : 0;
    }
    node.int_lists["kernel_shape"] = options_.kernel;
    node.int_lists["strides"] = options_.strides.empty() ? options_.kernel : options_.strides;
    std::vector<std::int64_t> pads = options_.pads_begin, end = options_.pads_end;
    pads.resize(options_.kernel.size(), 0);
    end.resize(options_.kernel.size(), 0);
    pads.insert(pads.end(), end.begin(), end.end());
    node.int_lists["pads"] = pads;
    node.ints["ceil_mode"] = options_.ceil_mode ? 1 : 0;
    if (!options_.dilations.empty()) node.int_lists["dilations"] = options_.dilations;
    if (kind_ == Pooling::average)
      node.ints["count_include_pad"] = options_.count_include_pad ? 1 : 0;
    return true;
  }

 private:
  Window window(const Shape& x) const {
    WindowSpec spec;
    spec.kernel = options_.kernel;
    spec.strides = options_.strides.empty() ? options_.kernel : options_.strides;
    spec.pads_begin = options_.pads_begin;
    spec.pads_end = options_.pads_end;
    spec.dilations = options_.dilations;
    spec.ceil_mode = options_.ceil_mode;
    return make_window(type(), x, spec);
  }

  // Whether the windows cover the input exactly once: strides equal to the kernel, no padding
  // or dilation, and extents that are whole numbers of windows.
  static bool windows_tile(const Window& w) {
    for (std::size_t t = 0; t < 3; ++t)
      if (w.stride[t] != w.kernel[t] || w.dilation[t] != 1 || w.pad_begin[t] != 0 ||
          w.pad_end[t] != 0 || w.in[t] != w.out[t] * w.stride[t])
        return false;
    return true;
  }

  // Lines of OW outputs: the work of the *_rows and *_pairs kernels.
  static std::size_t output_lines(const Window& w) {
    return std::size_t(w.n * w.c * w.out[0] * w.out[1]);
  }

  // Whole 2 x 2 windows with strides 2, one plane deep, no padding or dilation
  // (max_pool_forward_pairs); the last row or column of an odd extent is left out.
  static bool pairs_tile(const Window& w) {
    for (std::size_t t = 0; t < 3; ++t) {
      const std::int64_t size = t == 0 ? 1 : 2;
      if (w.kernel[t] != size || w.stride[t] != size || w.dilation[t] != 1 ||
          w.pad_begin[t] != 0 || w.pad_end[t] != 0 || w.out[t] * size > w.in[t])
        return false;
    }
    return true;
  }

  // max_pool_forward_values's private line, in floats (the kernel's VALUES_LINE).
  static constexpr int kValuesLineFloats = 1024;

  // The floats of max_pool_forward_values's private line that a line of w reads (its leading
  // padding, the input's columns and the reach of the last segment's taps past them), or 0
  // where that kernel does not take w: windows one plane deep (1-D or 2-D), no dilation, column
  // strides of 1 or 2, and lines that fit the private line.
  static int values_line_reach(const Window& w) {
    if (w.in[0] != 1 || w.kernel[0] != 1 || w.out[0] != 1) return 0;
    if (w.dilation[1] != 1 || w.dilation[2] != 1 || (w.stride[2] != 1 && w.stride[2] != 2))
      return 0;
    const std::int64_t last_segment = (w.out[2] - 1) / kSegment * kSegment;
    const std::int64_t reach = std::max(w.pad_begin[2] + w.in[2],
                                        w.stride[2] * (last_segment + kSegment) + w.kernel[2] - 1);
    return reach <= kValuesLineFloats ? int(reach) : 0;
  }

  // Windows that max_pool_forward_unrolled takes: one plane deep (2-D or 1-D), at most
  // kMostUnrolledTaps taps, x's offsets within an int and y's within half of one (the
  // grid-stride index plus a launch's work-items must not wrap).
  static constexpr std::int64_t kMostUnrolledTaps = 64;
  static bool unrolls(const Window& w) {
    const std::int64_t planes = w.n * w.c;
    return w.in[0] == 1 && w.kernel[0] == 1 && w.out[0] == 1 &&
           w.kernel_positions() <= kMostUnrolledTaps && planes * w.in_positions() < INT_MAX &&
           planes * w.out_positions() < INT_MAX / 2;
  }
  static std::string unrolled_options(const Window& w) {
    std::string options;
    const char* axes[] = {"H", "W"};
    for (std::size_t t = 1; t < 3; ++t)
      options += std::string(" -DUNROLLED_K") + axes[t - 1] + "=" + std::to_string(w.kernel[t]) +
                 " -DUNROLLED_S" + axes[t - 1] + "=" + std::to_string(w.stride[t]) +
                 " -DUNROLLED_D" + axes[t - 1] + "=" + std::to_string(w.dilation[t]);
    return options;
  }

  static bool windows_overlap(const Window& w) {
    for (std::size_t t = 0; t < 3; ++t)
      if (w.stride[t] < w.kernel[t] * w.dilation[t] - (w.dilation[t] - 1)) return true;
    return false;
  }

  cl_int4 ends(const Window& w) const {
    cl_int4 e{};
    for (int t = 0; t < 3; ++t) e.s[t] = cl_int(w.pad_end[std::size_t(t)]);
    e.s[3] = options_.count_include_pad ? 1 : 0;
    return e;
  }

  Pooling kind_;
  bool max_;           // kind_ == Pooling::max
  bool column_major_;  // max_indices: spatial positions counted column-major
  PoolOptions options_;
};

}  // namespace

}  // namespace clnn::detail

namespace clnn {

Value max_pool(const Value& x, const PoolOptions& options) {
  return GraphAccess::add(std::make_shared<detail::PoolOp>(detail::Pooling::max, options), {x});
}

Value avg_pool(const Value& x, const PoolOptions& options) {
  return GraphAccess::add(std::make_shared<detail::PoolOp>(detail::Pooling::average, options), {x});
}

Value max_pool_indices(const Value& x, const PoolOptions& options, bool column_major) {
  return GraphAccess::add(
      std::make_shared<detail::PoolOp>(detail::Pooling::max_indices, options, column_major), {x});
}

Value global_avg_pool(const Value& x) {
  const std::size_t rank = x.shape().size();
  if (rank < 3)
    throw ShapeError("global_avg_pool: input " + to_string(x.shape()) +
                     " has no spatial dimensions");
  std::vector<int> spatial;
  for (std::size_t d = 2; d < rank; ++d) spatial.push_back(int(d));
  return mean(x, spatial, true);
}

}  // namespace clnn
