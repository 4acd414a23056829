// Internal: the memory plan. Assigns each value a device buffer ("slot") so that values whose
// lifetimes do not overlap share one; pinned values (inputs, parameters, outputs and, in
// training, what backward reads) keep theirs for good.
#pragma once

#include <cstddef>
#include <vector>

namespace clnn::detail {

struct PlanValue {
  std::size_t bytes = 0;
  std::vector<int> reads;  // values this node reads in forward
  bool pinned = false;
  // Written before forward runs (an input or a parameter): its buffer is its own from the start.
  bool external = false;
  int alias_of = -1;  // shares the buffer of that value (a reshape)
  // Writes part of that later value (a concat assembled in place): its buffer is taken here,
  // before this value's own.
  int written_into = -1;
  // Lies inside that value's buffer (a concat of some of the operands of a concat assembled in
  // place, which may come later in the order): shares its buffer, taken here if not before.
  // That value may not alias another itself.
  int lies_in = -1;
};

struct MemoryPlan {
  std::vector<int> slot_of;             // per value; -1 for values outside the order
  std::vector<std::size_t> slot_bytes;  // per slot
  std::size_t total_bytes() const;
};

// values is indexed by value id; order lists the ids that run, inputs before their consumers.
MemoryPlan plan_memory(const std::vector<int>& order, const std::vector<PlanValue>& values);

}  // namespace clnn::detail
