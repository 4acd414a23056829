// Permuting copies: dimensions the input also walks as one run are merged first; a permutation
// that moves the input's contiguous dimension away from the output's innermost one goes through
// local-memory tiles on devices that prefer neighbouring work-items to touch neighbouring memory,
// element by element otherwise.
#include "ops/permute.hpp"

#include <array>
#include <optional>
#include <string>

#include "cl/kernel_call.hpp"
#include "context_impl.hpp"
#include "ops/common.hpp"

namespace clnn::detail {

namespace {

// The tiled route's view of a merged permutation: the output's innermost dimension (columns)
// transposed with the dimension the input runs along (lines), the rest a batch.
struct TiledTranspose {
  std::size_t lines_dim;
  std::vector<std::int64_t> batch_dims, batch_in, batch_out;
};

std::optional<TiledTranspose> tiled_view(const BroadcastView& v, const TransposePlan& plan) {
  const std::size_t rank = v.dims.size();
  if (plan.tile == 0 || rank < 2 || v.a.back() == 1) return std::nullopt;
  std::size_t lines = rank;
  for (std::size_t d = 0; d + 1 < rank; ++d)
    if (v.a[d] == 1) lines = d;
  // Blocks mostly outside a narrow side would idle most of their work-items.
  const auto half = std::int64_t(plan.tile / 2);
  if (lines == rank || v.dims[lines] < half || v.dims.back() < half) return std::nullopt;
  const std::vector<std::int64_t> out_strides = row_major_strides(v.dims);
  TiledTranspose t{lines, {}, {}, {}};
  for (std::size_t d = 0; d + 1 < rank; ++d) {
    if (d == lines) continue;
    t.batch_dims.push_back(v.dims[d]);
    t.batch_in.push_back(v.a[d]);
    t.batch_out.push_back(out_strides[d]);
  }
  return t;
}

}  // namespace

void permute(ContextImpl& ctx, const Tensor& x, const Tensor& y, const Shape& out_dims,
             const std::vector<std::int64_t>& in_strides, float beta) {
  // The output is row-major, so a merge needs only the input to walk the dimensions as one run.
  const BroadcastView v = collapsed(out_dims, in_strides, in_strides);
  const TransposePlan plan = ctx.planner.transpose();
  const std::optional<TiledTranspose> tiled = tiled_view(v, plan);
  if (!tiled) {
    if (const std::optional<BroadcastView> f = in_float4s(v)) {
      cl_kernel k = ctx.kernel("transpose", "permute4");
      const std::size_t n = std::size_t(y.size()) / 4;
      set_args(k, mem(x), mem(y), cl_ulong(n), cl_int(f->dims.size()), pack_long8(f->dims),
               pack_long8(f->a), beta);
      ctx.enqueue_elementwise(k, n);
      return;
    }
    cl_kernel k = ctx.kernel("transpose", "permute");
    set_args(k, mem(x), mem(y), count(y), cl_int(v.dims.size()), pack_long8(v.dims),
             pack_long8(v.a), beta);
    ctx.enqueue_elementwise(k, std::size_t(y.size()));
    return;
  }
  const auto lines = std::size_t(v.dims[tiled->lines_dim]), cols = std::size_t(v.dims.back());
  std::size_t batch = 1;
  for (std::int64_t d : tiled->batch_dims) batch *= std::size_t(d);
  const std::size_t blocks =
      batch * ((lines + plan.tile - 1) / plan.tile) * ((cols + plan.tile - 1) / plan.tile);
  // GPUs stage each block in local memory, a work-group's; CPUs give it a work-item.
  cl_kernel k =
      ctx.kernel("transpose", ctx.row_loops ? "permute_blocks" : "permute_tiled",
                 "-DTILE=" + std::to_string(plan.tile) + " -DROWS=" + std::to_string(plan.rows));
  set_args(k, mem(x), mem(y), cl_ulong(lines), cl_ulong(cols), cl_ulong(v.a.back()),
           cl_ulong(row_major_strides(v.dims)[tiled->lines_dim]), count(y),
           cl_int(tiled->batch_dims.size()), pack_long8(tiled->batch_dims),
           pack_long8(tiled->batch_in), pack_long8(tiled->batch_out), beta);
  if (ctx.row_loops) {
    set_arg(k, 12, cl_ulong(blocks));  // its grid-stride bound
    return ctx.enqueue_lines(k, blocks);
  }
  enqueue(ctx.queue.get(), k, std::array<std::size_t, 2>{blocks * plan.tile, plan.rows},
          std::array<std::size_t, 2>{plan.tile, plan.rows});
}

}  // namespace clnn::detail
