// Plans of the matrix-vector kernels (ops/gemv.hpp) as a GPU and a CPU would run them, so that
// tests on any device run both kinds (test_matmul, and the Oclgrind run).
#pragma once

#include <algorithm>

#include "context_impl.hpp"
#include "ops/gemv.hpp"

namespace clnn::test {

// The LaunchPlanner's plan for a call with these work-group sizes, teams (rows; capped by the
// work-group), vectors per pass (capped by the call's), float4s per work-item (columns) and rows
// per work-item (rows, with teams of 1).
struct GemvStyle {
  std::size_t local_size, team, pass, width, rows = 1;
};
// Teams of a whole work-group, every vector at once, four outputs per work-item.
constexpr GemvStyle kGpuStyle{256, 256, 16, 1};
// The same in groups of 64 (what Oclgrind takes) shared by teams of 8.
constexpr GemvStyle kGpuSmallGroups{64, 8, 16, 1};
// A work-item per row or per 32 outputs, 8 vectors at a time.
constexpr GemvStyle kCpuStyle{16, 1, 8, 8};
// Three rows per work-item (gemv_row_blocks; the last rows past L), 2 vectors at a time.
constexpr GemvStyle kCpuRowBlocks{16, 1, 2, 8, 3};

inline GemvPlan styled(detail::ContextImpl& impl, const detail::GemmCall& call,
                       const GemvStyle& style) {
  GemvPlan plan = detail::gemv_plan(impl, call);
  plan.local_size = style.local_size;
  plan.pass = std::min(style.pass, plan.skinny);
  if (plan.layout == GemvLayout::rows) {
    plan.team = std::min(style.team, style.local_size);
    plan.width = plan.team == 1 ? style.rows : 1;
  } else
    plan.width = style.width;
  return plan;
}

}  // namespace clnn::test
