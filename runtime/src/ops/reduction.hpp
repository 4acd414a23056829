// Internal: the reduction engine. Every sum over part of a tensor (bias and broadcast
// gradients, ReduceSum/Mean, losses, the trainer's accuracy count) is a chain of passes of the
// two kernels of cl_kernels/reduce.cl, planned here from the LaunchPlanner's ReductionPlan: long
// runs are cut into pieces summed by a later pass, so every pass keeps the device busy and no
// work-item sums more than ReductionPlan::max_serial elements in a row (or, where a short piece
// takes few lanes, about 16).
#pragma once

#include <cstddef>
#include <vector>

#include "cl/kernel_call.hpp"
#include "cl_api.hpp"
#include "clnn/launch.hpp"
#include "clnn/tensor.hpp"

namespace clnn::detail {

struct ContextImpl;

// A buffer viewed as [outer, r, inner].
struct MiddleAxis {
  std::size_t outer, r, inner;
};

// Where a pass reads or writes: the caller's input or output buffer, or a part of
// ContextImpl::scratch; `at` is an element offset.
struct Place {
  enum class Of { input, output, scratch };
  Of of = Of::input;
  std::size_t at = 0;
};

// The passes of one reduction and the scratch they take.
class ReductionPasses {
 public:
  // Scratch below `scratch_base` floats is the caller's (it may hold the input). `combine` is a
  // REDUCE_ code of kernel_codes.h: other than sums, the passes take s 1, beta 0, no weights.
  explicit ReductionPasses(const ReductionPlan& plan, std::size_t scratch_base = 0,
                           int combine = 0);

  // Appends the passes of dst[o, k] = beta * dst[o, k] + s * sum_j src[o, j, k] * w[o, j, k]
  // (w, the weights buffer, laid out as src and read only where `weighted`).
  void sum_middle(Place src, bool weighted, MiddleAxis view, Place dst, float s, float beta);
  // Reserves `floats` of scratch for an intermediate result.
  Place temporary(std::size_t floats);
  // The scratch the passes use, the caller's part included: a caller that writes the input
  // into scratch asks ContextImpl::scratch for this much first, so run() does not move it.
  std::size_t scratch_floats() const { return scratch_floats_; }

  void run(ContextImpl& ctx, cl_mem input, cl_mem weights, cl_mem output) const;

 private:
  struct Pass {
    bool rows;  // reduce_rows (inner == 1) or reduce_strided
    Place src;
    bool weighted;
    MiddleAxis view;
    std::size_t segments, local_size, lanes;  // reduce_rows: lanes per piece
    Place dst;
    float s, beta;
  };
  ReductionPlan plan_;
  std::size_t scratch_floats_;
  int combine_;
  std::vector<Pass> passes_;
};

// How many pieces a kernel that sums `rows` contiguous rows of `length` elements with a
// work-group per piece cuts each row into: enough that no work-item sums more than max_serial
// elements, and more while that fills a device the rows alone would leave idle.
std::size_t row_pieces(const ReductionPlan& plan, std::size_t rows, std::size_t length);

// The work-group for a kernel that gives each contiguous row of `row` elements a group: the
// plan's, or for a shorter row the power of two that covers it.
std::size_t row_local_size(const ReductionPlan& plan, std::size_t row);
// Enqueues such a kernel over `rows` rows (grid-stride beyond the plan's max_groups).
void enqueue_rows(ContextImpl& ctx, cl_kernel kernel, const ReductionPlan& plan, std::size_t rows,
                  std::size_t local);

// The work-groups of kernels that give each contiguous row a team of work-items (lanes, a power
// of two, along the first dimension; teams along the second; group_combine over a team): a team
// as wide as the row's float4s' worth, up to the plan's work-group, so that short rows (swin's
// 49 keys, convnext's 96 channels) share a work-group instead of idling most of one. Lanes times
// teams is the plan's work-group, and as many floats of local memory. CPUs (the plan's
// item_per_row) give each of `rows` rows a work-item.
struct RowTeams {
  std::size_t lanes = 1, teams = 1;
};
RowTeams row_teams(const ContextImpl& ctx, std::size_t rows, std::size_t row);
// The local memory such a kernel's group_combine takes: a float per work-item.
inline LocalBytes team_memory(RowTeams t) {
  return {t.lanes * t.teams * sizeof(float)};
}
// Enqueues such a kernel over `rows` rows (grid-stride beyond the plan's max_groups).
void enqueue_row_teams(ContextImpl& ctx, cl_kernel kernel, std::size_t rows, RowTeams teams);

// y[o, k] = beta * y[o, k] + s * sum_j x[o, j, k] * (w ? w[o, j, k] : 1); x and w are read
// from element x_offset on.
void reduce_middle(ContextImpl& ctx, const Tensor& x, const Tensor* w, const Tensor& y,
                   MiddleAxis view, float s, float beta, std::size_t x_offset = 0);

// y[o, k] = the max, min or product (a REDUCE_ code) of x[o, j, k] over j.
void combine_middle(ContextImpl& ctx, int combine, const Tensor& x, const Tensor& y,
                    MiddleAxis view);

// dst = beta * dst + src summed over the dimensions where dst_dims is 1 and out_dims (src's
// extents, same rank) is not: the gradient of an operand broadcast to out_dims.
void sum_to_shape(ContextImpl& ctx, const Tensor& src, const Shape& out_dims, const Tensor& dst,
                  const Shape& dst_dims, float beta);

}  // namespace clnn::detail
