// The memory plan: greedy best-fit reuse of buffers whose values are dead.
#include "graph/memory_plan.hpp"

#include <algorithm>
#include <numeric>

namespace clnn::detail {

std::size_t MemoryPlan::total_bytes() const {
  return std::accumulate(slot_bytes.begin(), slot_bytes.end(), std::size_t{0});
}

MemoryPlan plan_memory(const std::vector<int>& order, const std::vector<PlanValue>& values) {
  const std::size_t n = values.size();
  // Values that alias another share its storage: lifetimes and pins gather at the root. A value
  // read before its turn (a concat assembled in place, read through the values that lie in it)
  // is its own root: such a value aliases none (PlanValue::lies_in).
  std::vector<int> root(n);
  std::iota(root.begin(), root.end(), 0);
  std::vector<int> last_use(n, -1);
  std::vector<bool> pinned(n, false);
  for (std::size_t pos = 0; pos < order.size(); ++pos) {
    const int v = order[pos];
    const PlanValue& value = values[std::size_t(v)];
    const int r = value.alias_of >= 0  ? root[std::size_t(value.alias_of)]
                  : value.lies_in >= 0 ? value.lies_in
                                       : v;
    root[std::size_t(v)] = r;
    last_use[std::size_t(r)] = std::max(last_use[std::size_t(r)], int(pos));
    if (value.pinned) pinned[std::size_t(r)] = true;
    for (int u : value.reads) last_use[std::size_t(root[std::size_t(u)])] = int(pos);
  }

  // Storage goes back to the pool right after its last reader runs.
  std::vector<std::vector<int>> release_at(order.size());
  for (int v : order)
    if (root[std::size_t(v)] == v && !pinned[std::size_t(v)])
      release_at[std::size_t(last_use[std::size_t(v)])].push_back(v);

  MemoryPlan plan;
  plan.slot_of.assign(n, -1);
  for (int v : order) {
    if (!values[std::size_t(v)].external) continue;
    plan.slot_of[std::size_t(v)] = int(plan.slot_bytes.size());
    plan.slot_bytes.push_back(values[std::size_t(v)].bytes);
  }
  std::vector<int> free_slots;
  // Gives value v a slot: the smallest free one that holds it, else a new one.
  auto take_slot = [&](int v) {
    const std::size_t need = values[std::size_t(v)].bytes;
    auto best = free_slots.end();
    for (auto it = free_slots.begin(); it != free_slots.end(); ++it) {
      std::size_t have = plan.slot_bytes[std::size_t(*it)];
      if (have >= need && (best == free_slots.end() || have < plan.slot_bytes[std::size_t(*best)]))
        best = it;
    }
    if (best != free_slots.end()) {
      plan.slot_of[std::size_t(v)] = *best;
      free_slots.erase(best);
    } else {
      plan.slot_of[std::size_t(v)] = int(plan.slot_bytes.size());
      plan.slot_bytes.push_back(need);
    }
  };
  for (std::size_t pos = 0; pos < order.size(); ++pos) {
    const int v = order[pos];
    const int r = root[std::size_t(v)];
    // A value written into another's buffer gives that buffer life from here on.
    if (const int into = values[std::size_t(v)].written_into;
        into >= 0 && plan.slot_of[std::size_t(into)] < 0)
      take_slot(into);
    if (r != v) {
      if (plan.slot_of[std::size_t(r)] < 0) take_slot(r);  // a later value v lies in
      plan.slot_of[std::size_t(v)] = plan.slot_of[std::size_t(r)];
    } else if (!values[std::size_t(v)].external && plan.slot_of[std::size_t(v)] < 0)
      take_slot(v);
    for (int u : release_at[pos]) free_slots.push_back(plan.slot_of[std::size_t(u)]);
  }
  return plan;
}

}  // namespace clnn::detail
