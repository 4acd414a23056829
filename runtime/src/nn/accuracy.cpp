// The trainer's count of correct predictions, on the device.
#include "nn/accuracy.hpp"

#include <algorithm>

#include "cl/kernel_call.hpp"
#include "context_impl.hpp"
#include "ops/common.hpp"

namespace clnn::detail {

// Counts per work-group into scratch (cl_kernels/loss.cl), then summed by the reduction engine.
void count_correct(ContextImpl& ctx, const Tensor& logits, const Tensor& labels,
                   const Tensor& counter) {
  const ReductionPlan& plan = ctx.reduction_plan;
  const std::size_t rows = std::size_t(logits.shape()[0]);
  const std::size_t groups =
      std::clamp<std::size_t>((rows + plan.local_size - 1) / plan.local_size, 1, plan.max_groups);
  ReductionPasses sum(plan, groups);
  sum.sum_middle({Place::Of::scratch, 0}, false, {1, groups, 1}, {Place::Of::output, 0}, 1.0f,
                 1.0f);
  const cl_mem counts = ctx.scratch(sum.scratch_floats());
  cl_kernel k = ctx.kernel("loss", "count_correct");
  set_args(k, mem(logits), mem(labels), cl_ulong(rows), cl_ulong(logits.shape()[1]), counts,
           LocalBytes{plan.local_size * sizeof(float)});
  enqueue<1>(ctx.queue.get(), k, {groups * plan.local_size}, {plan.local_size});
  sum.run(ctx, counts, counts, mem(counter));
}

}  // namespace clnn::detail
