// The reduction engine: plans passes of reduce_rows / reduce_strided and runs them.
#include "ops/reduction.hpp"

#include <algorithm>

#include "cl/kernel_call.hpp"
#include "context_impl.hpp"
#include "int_math.hpp"
#include "kernel_codes.h"
#include "ops/common.hpp"

namespace clnn::detail {

namespace {

// Cutting a row into more pieces than its length needs pays only while pieces stay this long:
// a piece is up to a work-group's worth of reads for reduce_rows, a work-item's for
// reduce_strided.
constexpr std::size_t kMinRowPiece = 4096;
constexpr std::size_t kMinStridedPiece = 256;
// reduce_rows gives a piece as many lanes (work-items) as leave each about this many elements:
// short rows then share a work-group instead of idling most of one through its tree.
constexpr std::size_t kRowElementsPerLane = 8;

// The lanes reduce_rows gives a piece of `piece` elements: a power of two up to the work-group.
std::size_t row_lanes(const ReductionPlan& plan, std::size_t piece) {
  return std::min(plan.local_size,
                  ceil_pow2(ceil_div(std::max<std::size_t>(piece, 1), kRowElementsPerLane)));
}

}  // namespace

std::size_t row_pieces(const ReductionPlan& plan, std::size_t rows, std::size_t length) {
  const std::size_t to_fill =
      std::min(plan.max_groups / std::max<std::size_t>(rows, 1), length / kMinRowPiece);
  const std::size_t by_length = ceil_div(length, plan.local_size * plan.max_serial);
  return std::min(std::max({by_length, to_fill, std::size_t{1}}), std::max<std::size_t>(length, 1));
}

std::size_t row_local_size(const ReductionPlan& plan, std::size_t row) {
  return std::min(plan.local_size, ceil_pow2(row));
}

void enqueue_rows(ContextImpl& ctx, cl_kernel kernel, const ReductionPlan& plan, std::size_t rows,
                  std::size_t local) {
  const std::size_t groups = std::clamp<std::size_t>(rows, 1, plan.max_groups);
  enqueue<1>(ctx.queue.get(), kernel, {groups * local}, {local});
}

RowTeams row_teams(const ContextImpl& ctx, std::size_t rows, std::size_t row) {
  const std::size_t local = ctx.reduction_plan.local_size;
  const std::size_t most_teams =
      ctx.info.max_work_item_sizes.size() > 1 ? ctx.info.max_work_item_sizes[1] : 1;
  if (ctx.reduction_plan.item_per_row) {
    // A CPU runs a work-group on one core, its items one after another between barriers: lanes
    // would only add barriers (swin_t's layer norms at batch 1 took 23 ms of PoCL's 238 with 32
    // lanes a row). A work-item a row, few enough a group that each core gets several groups.
    const std::size_t cores = std::max<std::size_t>(ctx.info.compute_units, 1);
    return {1, std::clamp<std::size_t>(rows / (4 * cores), 1, std::min(local, most_teams))};
  }
  std::size_t lanes = std::min(local, ceil_pow2((row + 3) / 4));
  while (local / lanes > most_teams) lanes *= 2;
  return {lanes, local / lanes};
}

void enqueue_row_teams(ContextImpl& ctx, cl_kernel kernel, std::size_t rows, RowTeams teams) {
  const std::size_t groups = std::clamp<std::size_t>((rows + teams.teams - 1) / teams.teams, 1,
                                                     ctx.reduction_plan.max_groups);
  enqueue<2>(ctx.queue.get(), kernel, {groups * teams.lanes, teams.teams},
             {teams.lanes, teams.teams});
}

ReductionPasses::ReductionPasses(const ReductionPlan& plan, std::size_t scratch_base, int combine)
    : plan_(plan), scratch_floats_(scratch_base), combine_(combine) {}

Place ReductionPasses::temporary(std::size_t floats) {
  const Place p{Place::Of::scratch, scratch_floats_};
  scratch_floats_ += float4_aligned(floats);
  return p;
}

void ReductionPasses::sum_middle(Place src, bool weighted, MiddleAxis v, Place dst, float s,
                                 float beta) {
  const bool rows = v.inner == 1 && !plan_.item_per_row;
  // Strided: as row_pieces, with a work-item per piece and output.
  const std::size_t wanted =
      rows ? row_pieces(plan_, v.outer, v.r)
           : std::max({ceil_div(v.r, plan_.max_serial),
                       std::min(ceil_div(plan_.max_groups * plan_.local_size,
                                         std::max<std::size_t>(v.outer * v.inner, 1)),
                                v.r / kMinStridedPiece),
                       std::size_t{1}});
  // Every cut at least halves the run a later pass sums, so the chain ends whatever the plan
  // (a max_serial of 1 would otherwise cut r into r pieces of one, forever).
  const std::size_t segments = std::min(wanted, std::max<std::size_t>(v.r / 2, 1));
  const std::size_t piece = ceil_div(std::max<std::size_t>(v.r, 1), segments);
  // Short pieces share a work-group, which is no larger than the pieces fill.
  const std::size_t lanes = rows ? row_lanes(plan_, piece) : 0;
  const std::size_t local =
      rows ? std::min(plan_.local_size, lanes * ceil_pow2(v.outer * segments)) : 0;
  if (segments == 1) {
    passes_.push_back({rows, src, weighted, v, 1, local, lanes, dst, s, beta});
    return;
  }
  const Place pieces = temporary(v.outer * segments * v.inner);
  passes_.push_back({rows, src, weighted, v, segments, local, lanes, pieces, 1.0f, 0.0f});
  sum_middle(pieces, false, {v.outer, segments, v.inner}, dst, s, beta);
}

void ReductionPasses::run(ContextImpl& ctx, cl_mem input, cl_mem weights, cl_mem output) const {
  const cl_mem scratch = scratch_floats_ > 0 ? ctx.scratch(scratch_floats_) : nullptr;
  // Sums keep the programs built without the option.
  const std::string options =
      combine_ == REDUCE_SUM ? "" : "-DREDUCE_OP=" + std::to_string(combine_);
  auto buffer = [&](Place p) {
    return p.of == Place::Of::input ? input : p.of == Place::Of::output ? output : scratch;
  };
  for (const Pass& p : passes_) {
    const cl_mem x = buffer(p.src), w = p.weighted ? weights : x;
    const cl_int has_w = p.weighted;
    const cl_ulong x_at = p.src.at, y_at = p.dst.at;
    const cl_ulong outer = p.view.outer, r = p.view.r, segments = p.segments;
    if (p.rows) {
      cl_kernel k = ctx.kernel("reduce", "reduce_rows", options);
      set_args(k, x, w, has_w, x_at, buffer(p.dst), y_at, outer, r, segments, p.s, p.beta,
               cl_int(p.lanes), LocalBytes{p.local_size * sizeof(float)});
      const std::size_t pieces_per_group = p.local_size / p.lanes;
      enqueue_rows(ctx, k, plan_, ceil_div(p.view.outer * p.segments, pieces_per_group),
                   p.local_size);
    } else {
      cl_kernel k = ctx.kernel("reduce", "reduce_strided", options);
      set_args(k, x, w, has_w, x_at, buffer(p.dst), y_at, outer, r, cl_ulong(p.view.inner),
               segments, p.s, p.beta);
      ctx.enqueue_elementwise(k, p.view.outer * p.segments * p.view.inner);
    }
  }
}

void reduce_middle(ContextImpl& ctx, const Tensor& x, const Tensor* w, const Tensor& y,
                   MiddleAxis view, float s, float beta, std::size_t x_offset) {
  ReductionPasses passes(ctx.reduction_plan);
  passes.sum_middle({Place::Of::input, x_offset}, w != nullptr, view, {Place::Of::output, 0}, s,
                    beta);
  passes.run(ctx, mem(x), mem(w ? *w : x), mem(y));
}

void combine_middle(ContextImpl& ctx, int combine, const Tensor& x, const Tensor& y,
                    MiddleAxis view) {
  ReductionPasses passes(ctx.reduction_plan, 0, combine);
  passes.sum_middle({Place::Of::input, 0}, false, view, {Place::Of::output, 0}, 1.0f, 0.0f);
  passes.run(ctx, mem(x), mem(x), mem(y));
}

void sum_to_shape(ContextImpl& ctx, const Tensor& src, const Shape& out_dims, const Tensor& dst,
                  const Shape& dst_dims, float beta) {
  if (dst.size() == 0) return;
  // Runs of neighbouring dimensions that are all kept or all summed act as one dimension.
  struct Run {
    std::size_t extent;
    bool summed;
  };
  std::vector<Run> runs;
  for (std::size_t d = 0; d < out_dims.size(); ++d) {
    if (out_dims[d] == 1) continue;
    const bool summed = dst_dims[d] != out_dims[d];
    if (!runs.empty() && runs.back().summed == summed)
      runs.back().extent *= std::size_t(out_dims[d]);
    else
      runs.push_back({std::size_t(out_dims[d]), summed});
  }
  if (std::none_of(runs.begin(), runs.end(), [](const Run& r) { return r.summed; }))
    return axpby(ctx, 1.0f, src, beta, dst, std::size_t(dst.size()));
  // The innermost summed run first (for a bias, [N, C, H*W]: contiguous rows of H*W, then N
  // at stride C), each pass into scratch but the last, which writes dst.
  ReductionPasses passes(ctx.reduction_plan);
  Place from{Place::Of::input, 0};
  for (std::size_t i = runs.size(); i-- > 0;) {
    if (!runs[i].summed) continue;
    std::size_t outer = 1, inner = 1;
    for (std::size_t j = 0; j < i; ++j) outer *= runs[j].extent;
    for (std::size_t j = i + 1; j < runs.size(); ++j) inner *= runs[j].extent;
    const bool last = std::none_of(runs.begin(), runs.begin() + std::ptrdiff_t(i),
                                   [](const Run& r) { return r.summed; });
    const Place to = last ? Place{Place::Of::output, 0} : passes.temporary(outer * inner);
    passes.sum_middle(from, false, {outer, runs[i].extent, inner}, to, 1.0f, last ? beta : 0.0f);
    from = to;
    runs[i].extent = 1;
  }
  passes.run(ctx, mem(src), mem(src), mem(dst));
}

}  // namespace clnn::detail
