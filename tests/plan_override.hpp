// Test helpers: run part of a test under another plan on the shared test context (a reduction
// plan, the row-loop style, the elementwise launches' cap on groups), so the kernels another
// device's plan picks run on PoCL too; the context's plan comes back at the end of the scope.
#pragma once

#include "context_impl.hpp"
#include "support.hpp"

namespace clnn::test {

class ReductionPlanOverride {
 public:
  ReductionPlanOverride() : plan_(detail::Access::impl(context()).reduction_plan), saved_(plan_) {}
  ~ReductionPlanOverride() { plan_ = saved_; }
  ReductionPlanOverride(const ReductionPlanOverride&) = delete;
  ReductionPlanOverride& operator=(const ReductionPlanOverride&) = delete;

  void use(const ReductionPlan& plan) { plan_ = plan; }
  const ReductionPlan& planned() const { return saved_; }
  // The planned plan as a GPU's: rows get a work-group each.
  ReductionPlan as_gpu() const {
    ReductionPlan p = saved_;
    p.item_per_row = false;
    return p;
  }

 private:
  ReductionPlan& plan_;
  const ReductionPlan saved_;
};

// Runs part of a test with the gather and transpose kernels' style set (ContextImpl::row_loops:
// CPU loops or GPU tiles); the context's style comes back at the end of the scope.
class RowLoopsOverride {
 public:
  RowLoopsOverride() : rows_(detail::Access::impl(context()).row_loops), saved_(rows_) {}
  ~RowLoopsOverride() { rows_ = saved_; }
  RowLoopsOverride(const RowLoopsOverride&) = delete;
  RowLoopsOverride& operator=(const RowLoopsOverride&) = delete;

  void use(bool rows) { rows_ = rows; }

 private:
  bool& rows_;
  const bool saved_;
};

// Runs part of a test with the elementwise launches capped at one work-group, as a large input
// hits the planner's cap on groups: each work-item of a grid-stride loop then takes many
// elements. The context's plan comes back at the end of the scope.
class ElementwiseGroupsOverride {
 public:
  ElementwiseGroupsOverride()
      : groups_(detail::Access::impl(context()).elementwise_plan.max_groups), saved_(groups_) {
    groups_ = 1;
  }
  ~ElementwiseGroupsOverride() { groups_ = saved_; }
  ElementwiseGroupsOverride(const ElementwiseGroupsOverride&) = delete;
  ElementwiseGroupsOverride& operator=(const ElementwiseGroupsOverride&) = delete;

 private:
  std::size_t& groups_;
  const std::size_t saved_;
};

}  // namespace clnn::test
