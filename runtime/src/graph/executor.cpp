// Executor: compiles a graph (order, memory plan, parameters) and runs forward and backward.
#include "clnn/executor.hpp"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "cl/launch_recording.hpp"
#include "cl/profiler.hpp"
#include "context_impl.hpp"
#include "graph/graph_data.hpp"
#include "graph/memory_plan.hpp"
#include "ops/common.hpp"
#include "ops/epilogue.hpp"
#include "tune/tuning_notes.hpp"

namespace clnn {

namespace detail {

namespace {

std::vector<const Tensor*> tensors_of(const std::vector<int>& ids, const std::vector<Tensor>& all) {
  std::vector<const Tensor*> out;
  for (int id : ids) out.push_back(&all[std::size_t(id)]);
  return out;
}

}  // namespace

struct ExecutorImpl {
  ExecutorImpl(const Context& ctx, const Graph& graph, const std::vector<Value>& outputs,
               Mode mode);

  const Node& node(int id) const { return graph->nodes[std::size_t(id)]; }
  // The shapes of a node's inputs, as ops take them.
  std::vector<Shape> input_shapes(const Node& nd) const {
    std::vector<Shape> shapes;
    for (int u : nd.inputs) shapes.push_back(node(u).shape);
    return shapes;
  }
  int named_node(const std::string& name, NodeKind kind, const char* call) const;
  void require_value(int id, const char* call) const;
  // The loss's gradient is seeded with scale, or with device_scale's first element where given.
  void backward(int loss, float scale, const Tensor* device_scale,
                const Executor::GradientReady& gradient_ready);

  Context ctx;
  std::shared_ptr<GraphData> graph;
  Mode mode;
  std::vector<int> outputs;
  std::vector<int> order;           // every value that runs, inputs before their consumers
  std::vector<bool> in_plan;        // per node id
  std::vector<bool> pinned;         // value stays valid after forward
  std::vector<bool> requires_grad;  // a parameter lies upstream
  std::vector<Tensor> values;       // per node id
  std::vector<Tensor> grads;  // per node id, where a backward may reach it (training)
  std::vector<Tensor> saved;        // per node id, what an op keeps for backward (training)
  std::vector<bool> input_set;      // per node id, for inputs
  // Per node id, the epilogue its forward applies (and in training its backward), and whether it
  // is an epilogue folded into its operand's producer (it then shares that value and its
  // gradient, and runs no kernel).
  std::vector<Epilogue> epilogues;
  std::vector<bool> folded;
  // Inference: per node id, the concat whose channels its forward writes (-1: none) and from
  // which channel; and whether a concat is assembled so by its operands' producers (it then runs
  // no kernel).
  std::vector<int> placed_in;
  std::vector<std::int64_t> placed_at;
  std::vector<bool> assembled;
  // Inference: per node id, the concat assembled in place whose channels hold it (-1: none),
  // where it is a concat of a run of that one's operands (assembled too).
  std::vector<int> lies_in;
  // Inference: per node id, the value whose buffer its forward adds its result to (an add of its
  // output and that value folded into it; -1: none); and per add so folded, the operand whose
  // producer took it (-1: none): it then shares that operand's buffer and runs no kernel.
  std::vector<int> accumulates_into;
  std::vector<int> summed_by;
  // Inference: per node id, the op that reads or writes through it where it is a view that runs
  // nothing (-1: none; Op::reads_through); and per op that does, its views and the value each
  // input is read from (the start of its views, else the input itself).
  std::vector<int> viewed_by;
  std::vector<ViewFolds> view_folds;
  std::vector<std::vector<int>> reads_from;
  // Inference: per node id, what it prepares from parameters (Op::prepare) and keeps across
  // forward() calls, the parameters it reads and their write counts when it last ran, whether
  // that is current (the context's choices unchanged since), and whether forward reads it.
  struct Prepared {
    bool eligible = false;  // inference, and every source a parameter
    Tensor floats;
    std::vector<int> sources;
    std::vector<std::uint64_t> source_writes;
    bool current = false;
    bool usable = false;
  };
  std::vector<Prepared> prepared;
  // Node v's prepared floats for its forward, prepared again first where stale; null if none.
  const Tensor* prepare(int v);
  Tensor workspace;
  // The schedule: each node pass's launches, recorded as it first runs and replayed after (no
  // routes chosen, no strings built, no caches read); a pass that cannot be replayed runs live.
  struct PassLaunches {
    std::unique_ptr<RecordedLaunches> recorded;
    bool live = false;  // its recording failed: it runs its host code every time
    TuningNotes tuning;  // what it asked of the tuning cache when it last ran its host code
  };
  std::vector<PassLaunches> forward_launches, backward_launches;  // per node id
  RecordingScratch recording_scratch;
  std::optional<ContextImpl::LaunchChoices> recorded_under;
  // Drops recorded launches that the context's current choices (routes, plans, tuning) would
  // no longer make; called as each forward and backward begins.
  void check_recordings();
  // Runs a node's pass: replays it where it was recorded, else calls `run` (recording it where
  // it may be replayed).
  template <typename Run>
  void run_pass(PassLaunches& pass, const Node& nd, Run&& run);
  // What backward(loss) runs, planned at its first call for that loss: each node's step with its
  // input gradients and whether each adds to what an earlier step wrote; and the parameters it
  // never reaches (their gradients are zeroed).
  // Each step names the parameters (indices in parameters()) whose gradients it completes.
  struct BackwardStep {
    int node;
    std::vector<Tensor*> grad_inputs;
    std::vector<float> betas;
    std::vector<std::pair<std::size_t, int>> completes = {};  // (index, node id)
  };
  struct BackwardPlan {
    int loss;
    std::vector<BackwardStep> steps;
    std::vector<int> unreached;
    std::vector<std::size_t> unreached_parameters;  // the same, as indices in parameters()
  };
  std::optional<BackwardPlan> backward_plan;
  BackwardPlan plan_backward(int loss);
  std::size_t device_bytes = 0;
  std::uint64_t step = 0;  // forward() calls so far
  std::uint64_t shard = 0;  // Executor::set_shard
  bool forward_done = false;
  bool backward_done = false;

  std::vector<Value> nodes_of_kind(NodeKind kind) const;
  // The live tensor of a named parameter or state.
  Tensor named_value(const std::string& name, NodeKind kind, const char* call) const {
    int id = named_node(name, kind, call);
    require_value(id, call);
    return values[std::size_t(id)];
  }
  // The id of an input about to be set, checked to take `count` values; -1 when no output
  // depends on the input. The input counts as unset until the caller's write has succeeded
  // (input_set), so a write that throws cannot leave a half-written input in use.
  int input_to_set(const std::string& name, std::int64_t count, const char* call) {
    int id = named_node(name, NodeKind::input, call);
    if (!in_plan[std::size_t(id)]) return -1;
    const Tensor& t = values[std::size_t(id)];
    if (t.size() != count)
      throw ShapeError(std::string(call) + ": input '" + name + "' of shape " +
                       to_string(t.shape()) + " takes " + std::to_string(t.size()) +
                       " values, not " + std::to_string(count));
    input_set[std::size_t(id)] = false;
    forward_done = false;
    return id;
  }
  void write_named(const std::string& name, NodeKind kind, const std::vector<float>& host,
                   const char* call);
  void fold_epilogues(bool training);
  // Whether backward masks op node v's gradient by its output, the epilogue folded into it.
  bool masks_from_output(int v) const {
    const Epilogue& e = epilogues[std::size_t(v)];
    return e.on && node(v).op->backward_with_epilogue(e) == Op::EpilogueBackward::from_output;
  }
  void fold_views();
  void fold_sums();
  // Whether value u shares its operand's buffer and runs nothing: a reshape, an epilogue folded
  // into the producer, a view an op reads or writes through.
  bool shares_operand(int u) const {
    const Node& nd = node(u);
    return nd.kind == NodeKind::op &&
           (nd.op->aliases_input() || folded[std::size_t(u)] || viewed_by[std::size_t(u)] >= 0);
  }
  // The tensors node v's forward reads.
  std::vector<const Tensor*> forward_inputs(int v) const {
    const std::vector<int>& from = reads_from[std::size_t(v)];
    return tensors_of(from.empty() ? node(v).inputs : from, values);
  }
  // The value behind u's views (ops that alias their input, and views an op reads or writes
  // through, once they are known) that `passes` lets through.
  template <typename Passes>
  int behind_views(int u, Passes&& passes) const {
    auto viewed = [&](int w) {
      return std::size_t(w) < viewed_by.size() && viewed_by[std::size_t(w)] >= 0;
    };
    while (node(u).kind == NodeKind::op && (node(u).op->aliases_input() || viewed(u)) && passes(u))
      u = node(u).inputs[0];
    return u;
  }
  void assemble_concats();
  // The producer whose forward writes value u: u's own node, or where u is an epilogue folded
  // into its operand's producer, that producer.
  int writer_of(int u) const { return folded[std::size_t(u)] ? node(u).inputs[0] : u; }
  MemoryPlan plan_gradients(const std::vector<PlanValue>& values) const;
  // Opens the profiler's scope of a node's pass ("conv backward", with the op's cost) while the
  // profiler is on; otherwise leaves it closed, costing nothing.
  // grad_inputs: the input gradients a backward pass computes (empty for forward).
  void open_scope(std::optional<ProfileScope>& scope, const Node& nd, Pass pass,
                  const std::vector<Tensor*>& grad_inputs = {}) const {
    if (!profiling_enabled()) return;
    std::vector<bool> wanted;
    for (Tensor* g : grad_inputs) wanted.push_back(g != nullptr);
    const Cost cost =
        nd.op->cost(CostArgs{pass, input_shapes(nd), nd.shape, mode == Mode::training, wanted});
    std::string label = nd.op->type() + " " + pass_name(pass);
    if (profiling_by_node()) label += " '" + nd.name + "'";
    scope.emplace(std::move(label), cost.flops, cost.bytes);
  }
};

// The internals behind an Executor (friend of it), for the library's tools (tune_executor).
struct ExecutorAccess {
  static const ExecutorImpl& impl(const Executor& ex) { return *ex.impl_; }
};

namespace {

// The device memory an executor is about to take, checked before any of it is allocated so that a
// model too large for the device is an AllocationError naming the tensor, not a driver error (or,
// where the driver allocates lazily, a failure somewhere in the first step).
class DeviceBudget {
 public:
  explicit DeviceBudget(const DeviceInfo& device) : device_(device) {}

  void add(const std::string& what, std::size_t bytes) {
    check_allocation(device_, bytes, "Executor: " + what);
    if (bytes > largest_bytes_) largest_bytes_ = bytes, largest_ = what;
    total_ += bytes;
  }

  void check_total() const {
    if (total_ > device_.global_mem_size)
      throw AllocationError("Executor: the model takes " + std::to_string(total_) +
                            " bytes of device memory, more than the device '" + device_.name +
                            "' has (global_mem_size " + std::to_string(device_.global_mem_size) +
                            " bytes); the largest tensor is " + largest_ + " (" +
                            std::to_string(largest_bytes_) + " bytes)");
  }

  std::size_t total() const { return total_; }

 private:
  const DeviceInfo& device_;
  std::size_t total_ = 0;  // no overflow: each term is at most max_mem_alloc_size
  std::size_t largest_bytes_ = 0;
  std::string largest_;
};

}  // namespace

ExecutorImpl::ExecutorImpl(const Context& context, const Graph& g,
                           const std::vector<Value>& requested, Mode m)
    : ctx(context), graph(GraphAccess::data(g)), mode(m) {
  const std::size_t n = graph->nodes.size();
  if (requested.empty()) throw Error("Executor: no outputs requested");
  in_plan = dependencies(*graph, requested, "Executor: output");  // only what outputs need
  for (const Value& v : requested) outputs.push_back(v.id());
  std::vector<std::vector<int>> inputs(n);
  std::vector<std::string> names(n);
  for (std::size_t v = 0; v < n; ++v) {
    inputs[v] = graph->nodes[v].inputs;
    names[v] = graph->nodes[v].name;
  }
  order = topological_order(inputs, in_plan, names);

  // Which values need gradients, and which must outlive forward.
  const bool training = mode == Mode::training;
  requires_grad.assign(n, false);
  pinned.assign(n, false);
  for (int v : outputs) pinned[std::size_t(v)] = true;
  fold_epilogues(training);
  fold_views();
  for (int v : order) {
    const Node& nd = node(v);
    if (nd.kind != NodeKind::op) {
      pinned[std::size_t(v)] = true;
      requires_grad[std::size_t(v)] = training && nd.kind == NodeKind::parameter;
      continue;
    }
    for (std::size_t i = 0; i < nd.inputs.size(); ++i) {
      if (nd.op->differentiable(i) && requires_grad[std::size_t(nd.inputs[i])])
        requires_grad[std::size_t(v)] = true;
      if (training && nd.op->writes_input(i) && node(nd.inputs[i]).kind != NodeKind::state)
        throw Error("Executor: node '" + nd.name + "' updates its operand '" +
                    node(nd.inputs[i]).name + "', which must be graph state (Graph::state)");
    }
    // A folded epilogue's value is its producer's output, by which backward masks the gradient
    // where the producer's derivative comes from it (conv, matmul, add; batch normalization
    // recomputes).
    if (training && requires_grad[std::size_t(v)] && folded[std::size_t(v)] &&
        masks_from_output(nd.inputs[0]))
      pinned[std::size_t(v)] = true;
    if (training && requires_grad[std::size_t(v)] && !folded[std::size_t(v)]) {
      auto needs = nd.op->backward_needs();
      if (needs.output) pinned[std::size_t(v)] = true;
      if (needs.inputs)
        for (int u : nd.inputs) pinned[std::size_t(u)] = true;
    }
  }
  fold_sums();
  assemble_concats();

  // Memory plan, then the tensors over its buffers.
  std::vector<PlanValue> plan_values(n);
  std::vector<std::size_t> saved_floats(n, 0);     // what each op keeps for backward (training)
  std::vector<std::size_t> prepared_floats(n, 0);  // what each op prepares (inference)
  prepared.resize(n);
  std::size_t workspace_floats = 0;
  for (int v : order) {
    const Node& nd = node(v);
    PlanValue& pv = plan_values[std::size_t(v)];
    pv.bytes = checked_bytes(element_count(nd.shape, nd.name), sizeof(float), nd.name);
    pv.pinned = pinned[std::size_t(v)];
    pv.external = nd.kind != NodeKind::op;
    if (nd.kind == NodeKind::op) {
      // What forward reads: through views, the values they start from; a concat assembled in
      // place, nothing (its operands' own buffers die with their producers' passes).
      const std::vector<int>& from = reads_from[std::size_t(v)];
      if (!assembled[std::size_t(v)]) pv.reads = from.empty() ? nd.inputs : from;
      pv.lies_in = lies_in[std::size_t(v)];
      if (shares_operand(v)) pv.alias_of = nd.inputs[0];
      if (summed_by[std::size_t(v)] >= 0) pv.alias_of = summed_by[std::size_t(v)];
      if (accumulates_into[std::size_t(v)] >= 0) pv.alias_of = accumulates_into[std::size_t(v)];
      pv.written_into = placed_in[std::size_t(v)];
      const std::vector<Shape> shapes = input_shapes(nd);
      workspace_floats = std::max(workspace_floats, nd.op->workspace_floats(shapes, nd.shape));
      if (training) saved_floats[std::size_t(v)] = nd.op->saved_floats(shapes, nd.shape);
      std::vector<int>& sources = prepared[std::size_t(v)].sources;
      for (std::size_t i : nd.op->prepared_from())
        if (i < nd.inputs.size()) sources.push_back(nd.inputs[i]);
      const bool from_parameters =
          !training && !sources.empty() && std::all_of(sources.begin(), sources.end(), [&](int u) {
            return node(u).kind == NodeKind::parameter;
          });
      prepared[std::size_t(v)].eligible = from_parameters;
      if (from_parameters)
        prepared_floats[std::size_t(v)] =
            nd.op->prepared_floats(Access::impl(ctx), shapes, nd.shape);
    }
  }
  MemoryPlan plan = plan_memory(order, plan_values);
  auto& impl = Access::impl(ctx);

  const MemoryPlan grad_plan = training ? plan_gradients(plan_values) : MemoryPlan{};

  // Every buffer is sized and checked against the device before the first is allocated; a slot
  // is named after the first value (or gradient) it holds.
  DeviceBudget budget(impl.info);
  std::vector<std::string> slot_names(plan.slot_bytes.size());
  std::vector<std::string> grad_slot_names(grad_plan.slot_bytes.size());
  for (int v : order) {
    const Node& nd = node(v);
    std::string& slot_name = slot_names[std::size_t(plan.slot_of[std::size_t(v)])];
    if (slot_name.empty()) {
      slot_name = "'" + nd.name + "' of shape " + to_string(nd.shape);
      budget.add(slot_name, plan.slot_bytes[std::size_t(plan.slot_of[std::size_t(v)])]);
    }
    if (requires_grad[std::size_t(v)] && grad_plan.slot_of[std::size_t(v)] >= 0) {
      const auto slot = std::size_t(grad_plan.slot_of[std::size_t(v)]);
      if (grad_slot_names[slot].empty()) {
        grad_slot_names[slot] = "the gradient of '" + nd.name + "'";
        budget.add(grad_slot_names[slot], grad_plan.slot_bytes[slot]);
      }
    }
    if (prepared_floats[std::size_t(v)] > 0)
      budget.add(
          "what '" + nd.name + "' prepares from its parameters",
          checked_bytes(std::int64_t(prepared_floats[std::size_t(v)]), sizeof(float), nd.name));
    if (saved_floats[std::size_t(v)] > 0)
      budget.add("what '" + nd.name + "' keeps for backward",
                 checked_bytes(std::int64_t(saved_floats[std::size_t(v)]), sizeof(float),
                               nd.name));
  }
  if (workspace_floats > 0)
    budget.add("the workspace",
               checked_bytes(std::int64_t(workspace_floats), sizeof(float), "workspace"));
  budget.check_total();

  std::vector<std::shared_ptr<Buffer>> slots, grad_slots;
  for (std::size_t i = 0; i < plan.slot_bytes.size(); ++i)
    slots.push_back(std::make_shared<Buffer>(impl.context.get(), impl.info, plan.slot_bytes[i],
                                             "the value " + slot_names[i]));
  for (std::size_t i = 0; i < grad_plan.slot_bytes.size(); ++i)
    grad_slots.push_back(std::make_shared<Buffer>(impl.context.get(), impl.info,
                                                  grad_plan.slot_bytes[i], grad_slot_names[i]));
  device_bytes = budget.total();
  values.resize(n);
  grads.resize(n);
  input_set.assign(n, false);
  saved.resize(n);
  for (int v : order) {
    const Node& nd = node(v);
    values[std::size_t(v)] =
        Access::make_tensor(ctx, nd.shape, slots[std::size_t(plan.slot_of[std::size_t(v)])]);
    if (requires_grad[std::size_t(v)] && grad_plan.slot_of[std::size_t(v)] >= 0)
      grads[std::size_t(v)] = Access::make_tensor(
          ctx, nd.shape, grad_slots[std::size_t(grad_plan.slot_of[std::size_t(v)])]);
    if (std::size_t floats = saved_floats[std::size_t(v)])
      saved[std::size_t(v)] = Tensor::empty(ctx, {std::int64_t(floats)});
    if (std::size_t floats = prepared_floats[std::size_t(v)])
      prepared[std::size_t(v)].floats = Tensor::empty(ctx, {std::int64_t(floats)});
  }
  if (workspace_floats > 0) workspace = Tensor::empty(ctx, {std::int64_t(workspace_floats)});
  for (int v : order)
    if (node(v).kind == NodeKind::parameter || node(v).kind == NodeKind::state)
      values[std::size_t(v)].write(node(v).initializer(node(v).shape));
}

void ExecutorImpl::check_recordings() {
  const auto& impl = Access::impl(ctx);
  const auto choices = impl.launch_choices();
  const bool choices_changed = recorded_under != choices;
  if (!choices_changed && impl.replay_launches) return;
  forward_launches.clear();
  forward_launches.resize(graph->nodes.size());
  backward_launches.clear();
  backward_launches.resize(graph->nodes.size());
  if (choices_changed)  // the routes may read other filters now
    for (Prepared& p : prepared) p.current = false;
  recorded_under = choices;
}

const Tensor* ExecutorImpl::prepare(int v) {
  Prepared& p = prepared[std::size_t(v)];
  if (!p.eligible) return nullptr;
  bool stale = !p.current;
  for (std::size_t i = 0; i < p.sources.size() && !stale; ++i)
    stale = Access::writes(values[std::size_t(p.sources[i])]) != p.source_writes[i];
  if (stale) {
    const Node& nd = node(v);
    if (!p.current) {  // the routes may have changed since: the floats they want now
      const std::size_t floats =
          nd.op->prepared_floats(Access::impl(ctx), input_shapes(nd), nd.shape);
      const std::size_t held = p.floats.defined() ? std::size_t(p.floats.size()) : 0;
      if (floats > held) {
        p.floats = Tensor::empty(ctx, {std::int64_t(floats)});
        device_bytes += (floats - held) * sizeof(float);
      }
    }
    if (!p.floats.defined()) return nullptr;  // its route reads the filters as stored
    auto inputs = tensors_of(nd.inputs, values);
    const bool usable = nd.op->prepare(PrepareArgs{Access::impl(ctx), inputs, nd.shape, p.floats});
    if (usable != p.usable) forward_launches[std::size_t(v)] = {};  // its launches change
    p.usable = usable;
    p.source_writes.clear();
    for (int u : p.sources) p.source_writes.push_back(Access::writes(values[std::size_t(u)]));
    p.current = true;
  }
  return p.usable ? &p.floats : nullptr;
}

template <typename Run>
void ExecutorImpl::run_pass(PassLaunches& pass, const Node& nd, Run&& run) {
  auto& impl = Access::impl(ctx);
  if (pass.recorded) return pass.recorded->replay(impl.queue.get());
  NotingTuning noting(pass.tuning);
  if (pass.live || !impl.replay_launches || nd.op->launches_change_by_step()) return run();
  LaunchRecording recording(recording_scratch);
  run();  // an exception leaves the pass unrecorded
  pass.recorded = recording.finish();
  pass.live = !pass.recorded;
}

// The gradients' memory plan: plan_memory over the backward steps. A gradient is born at the step
// of the first node that writes it (in reverse order, its operand's last consumer) and read last
// at its own node's step, which a marker there (a value of no size sharing the gradient's
// buffer) records even where that step gives birth to nothing; parameters' and outputs'
// gradients (a loss's is filled before the first step) keep their buffers for good. A folded
// epilogue's operand shares its gradient.
MemoryPlan ExecutorImpl::plan_gradients(const std::vector<PlanValue>& values) const {
  const std::size_t n = graph->nodes.size();
  std::vector<PlanValue> grads_of(n);  // then a marker per step
  std::vector<int> steps;
  std::vector<bool> born(n, false);
  for (int v : order) {
    if (!requires_grad[std::size_t(v)]) continue;
    grads_of[std::size_t(v)].bytes = values[std::size_t(v)].bytes;
    const bool kept = node(v).kind != NodeKind::op ||
                      std::find(outputs.begin(), outputs.end(), v) != outputs.end();
    if (!kept) continue;
    grads_of[std::size_t(v)].external = grads_of[std::size_t(v)].pinned = true;
    born[std::size_t(v)] = true;
    steps.push_back(v);
  }
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const int v = *it;
    const Node& nd = node(v);
    if (nd.kind != NodeKind::op || !requires_grad[std::size_t(v)]) continue;
    if (!born[std::size_t(v)]) continue;  // no backward reaches it
    for (std::size_t i = 0; i < nd.inputs.size(); ++i) {
      const int u = nd.inputs[i];
      if (!requires_grad[std::size_t(u)] || !nd.op->differentiable(i) || born[std::size_t(u)])
        continue;
      born[std::size_t(u)] = true;
      if (folded[std::size_t(v)]) grads_of[std::size_t(u)].alias_of = v;
      steps.push_back(u);
    }
    PlanValue marker;
    marker.alias_of = v;
    marker.reads = {v};
    steps.push_back(int(grads_of.size()));
    grads_of.push_back(marker);
  }
  return plan_memory(steps, grads_of);
}

// A relu, clip or GELU whose operand has no other reader, and is not an output, becomes its
// producer's epilogue where the producer takes one; in inference the producer may lie behind
// views of its output that nothing else reads (a token Linear's reshapes, as ONNX spells it). In
// training, where the producer's backward applies the epilogue's derivative too (the value
// before the activation is gone), and only directly.
void ExecutorImpl::fold_epilogues(bool training) {
  epilogues.assign(graph->nodes.size(), Epilogue{});
  folded.assign(graph->nodes.size(), false);
  std::vector<int> readers(graph->nodes.size(), 0);
  for (int v : order)
    for (int u : node(v).inputs) ++readers[std::size_t(u)];
  auto alone = [&](int u) { return readers[std::size_t(u)] == 1 && !pinned[std::size_t(u)]; };
  for (int v : order) {
    const Node& nd = node(v);
    if (nd.kind != NodeKind::op) continue;
    const std::optional<Epilogue> epilogue = nd.op->as_epilogue();
    if (!epilogue) continue;
    const auto u = std::size_t(training ? nd.inputs[0] : behind_views(nd.inputs[0], alone));
    const Node& producer = node(int(u));
    if (producer.kind != NodeKind::op || !producer.op->takes_epilogue(*epilogue) ||
        (training &&
         producer.op->backward_with_epilogue(*epilogue) == Op::EpilogueBackward::refused) ||
        !alone(int(u)) || epilogues[u].on)
      continue;
    epilogues[u] = *epilogue;
    folded[std::size_t(v)] = true;
  }
}

// In inference, the reshapes, transposes and slices between a value and an op that reads it
// through strides (attention) run nothing: the op reads the value they start from, where they
// would have moved it. Likewise transposes and reshapes after such an op's output, read by
// nothing else, run nothing: the op writes the last one's value where they would have moved
// it. A transformer layer, as PyTorch exports it, splits the heads of its packed projection
// and joins them again with seven permuting copies and three slices: 2.7 ms of vit_b_16's
// 35 at batch 32 (H100, session 61).
void ExecutorImpl::fold_views() {
  const std::size_t n = graph->nodes.size();
  viewed_by.assign(n, -1);
  view_folds.assign(n, ViewFolds{});
  reads_from.assign(n, {});
  if (mode == Mode::training) return;        // backward reads the values as they are
  std::vector<std::vector<int>> readers(n);  // one entry an input slot
  for (int v : order)
    for (int u : node(v).inputs) readers[std::size_t(u)].push_back(v);
  // Whether op node u's output is a view of its input (a reshape, transpose or slice).
  auto is_view = [&](int u) {
    if (node(u).kind != NodeKind::op || folded[std::size_t(u)] || node(u).inputs.size() != 1)
      return false;
    StridedView probe(node(node(u).inputs[0]).shape);
    return node(u).op->view_of_input(probe);
  };

  // Chains of views listed from the op that reads or writes through them. redo (an op's input
  // views, the last one reading the value they start from): `view`, where that value lies in a
  // buffer, becomes where the op's operand lies in it. undo (views after an op's output that
  // move elements one to one): `view`, where the last one lies, becomes where the op's output
  // lies. Both walk from the far end, note whether a view other than a reshape moves elements
  // (`copies`), and are false where the result is no strided view.
  auto redo = [&](StridedView& view, const std::vector<int>& chain, bool& copies) {
    for (auto k = chain.size(); k-- > 0;) {
      copies = copies || !node(chain[k]).op->aliases_input();
      if (!node(chain[k]).op->view_of_input(view)) return false;
    }
    return true;
  };
  auto undo = [&](StridedView& view, const std::vector<int>& chain, bool& copies) {
    for (auto k = chain.size(); k-- > 0;) {
      copies = copies || !node(chain[k]).op->aliases_input();
      if (!node(chain[k]).op->input_view_of_output(view, node(node(chain[k]).inputs[0]).shape))
        return false;
    }
    return true;
  };

  // Products that run on their operand's rows as they lie before views that move whole rows
  // (a transformer's tokens moved sequence-first before its packed projection): the views run
  // nothing, and the product's output rows lie moved likewise, where every reader of it reads
  // through views (`output`, where its rows lie in its buffer). The value the views start from
  // lies as it is: only ops that read through views (not products) fold views before them, so
  // a moved product's readers are never another product's operand views.
  struct MovedRows {
    std::vector<int> views;
    StridedView output;
  };
  auto moved_rows = [&](int m) -> std::optional<MovedRows> {
    const Node& nd = node(m);
    if (nd.kind != NodeKind::op || pinned[std::size_t(m)] || nd.inputs.empty() ||
        !nd.op->maps_rows(0, input_shapes(nd)))
      return std::nullopt;
    for (int w : readers[std::size_t(m)])
      if (!is_view(w)) return std::nullopt;
    std::vector<int> views;
    for (int u = nd.inputs[0];
         readers[std::size_t(u)].size() == 1 && !pinned[std::size_t(u)] && is_view(u);
         u = node(u).inputs[0]) {
      StridedView probe(node(u).shape);
      if (!node(u).op->input_view_of_output(probe, node(node(u).inputs[0]).shape)) break;
      views.push_back(u);  // moves elements one to one: its input holds A's elements
    }
    for (; !views.empty(); views.pop_back()) {
      StridedView rows(node(node(views.back()).inputs[0]).shape);
      bool copies = false;
      if (redo(rows, views, copies) && copies && rows.rows_of_width(nd.shape[1]))
        return MovedRows{views, rows};
    }
    return std::nullopt;
  };
  std::map<int, MovedRows> moved;
  for (int v : order)
    if (auto m = moved_rows(v)) moved.emplace(v, std::move(*m));

  // Inputs: op `op` reads input `input` through `views` (nearest first), from the value the
  // last one reads.
  struct Chain {
    int op;
    std::size_t input;
    std::vector<int> views;
  };
  // The longest run of `views` that op v reads input i through (empty if none); sets its view.
  auto readable = [&](int v, std::size_t i, std::vector<int> views) {
    std::optional<TensorView>& folded_view = view_folds[std::size_t(v)].inputs[i];
    for (; !views.empty(); views.pop_back()) {
      const int start = node(views.back()).inputs[0];
      const auto rows = moved.find(start);
      StridedView view = rows != moved.end() ? rows->second.output : StridedView(node(start).shape);
      bool copies = false;  // a run of reshapes alone moves nothing
      folded_view = redo(view, views, copies) && copies ? view.tensor_view() : std::nullopt;
      if (folded_view && node(v).op->reads_through(i, *folded_view, input_shapes(node(v))))
        return views;
    }
    folded_view = std::nullopt;
    return views;
  };
  std::vector<Chain> chains;
  // A product's rows stay moved only where every reader of its output reads through views; where
  // one does not, the chains are planned again without it.
  for (bool replan = true; replan;) {
    chains.clear();
    for (int v : order) {
      const Node& nd = node(v);
      if (nd.kind != NodeKind::op) continue;
      view_folds[std::size_t(v)].inputs.assign(nd.inputs.size(), std::nullopt);
      for (std::size_t i = 0; i < nd.inputs.size(); ++i) {
        std::vector<int> views;
        for (int u = nd.inputs[i]; !pinned[std::size_t(u)] && is_view(u); u = node(u).inputs[0])
          views.push_back(u);
        views = readable(v, i, std::move(views));
        if (!views.empty()) chains.push_back({v, i, std::move(views)});
      }
    }
    // A view runs nothing only where every reader reads through it (q, k and v's slices of one
    // packed projection, say): a chain through a view with another reader starts there instead.
    for (bool changed = true; changed;) {
      changed = false;
      std::vector<std::set<std::pair<int, std::size_t>>> through(n);  // (reader, input slot)
      for (const Chain& c : chains)
        for (std::size_t k = 0; k < c.views.size(); ++k)
          through[std::size_t(c.views[k])].insert(
              k == 0 ? std::pair(c.op, c.input) : std::pair(c.views[k - 1], std::size_t(0)));
      for (Chain& c : chains) {
        const auto cut = std::find_if(c.views.begin(), c.views.end(), [&](int u) {
          return through[std::size_t(u)].size() != readers[std::size_t(u)].size();
        });
        if (cut == c.views.end()) continue;
        c.views = readable(c.op, c.input, std::vector<int>(c.views.begin(), cut));
        changed = true;
      }
      chains.erase(std::remove_if(chains.begin(), chains.end(),
                                  [](const Chain& c) { return c.views.empty(); }),
                   chains.end());
    }
    std::set<int> elided;
    for (const Chain& c : chains) elided.insert(c.views.begin(), c.views.end());
    replan = false;
    for (auto it = moved.begin(); it != moved.end();) {
      const auto& read = readers[std::size_t(it->first)];
      const bool through_all =
          std::all_of(read.begin(), read.end(), [&](int w) { return elided.count(w) > 0; });
      replan = replan || !through_all;
      it = through_all ? std::next(it) : moved.erase(it);
    }
  }
  for (const Chain& c : chains) {
    for (int u : c.views) viewed_by[std::size_t(u)] = c.op;
    std::vector<int>& from = reads_from[std::size_t(c.op)];
    if (from.empty()) from = node(c.op).inputs;
    from[c.input] = node(c.views.back()).inputs[0];
  }
  for (const auto& [m, rows] : moved) {
    for (int u : rows.views) viewed_by[std::size_t(u)] = m;
    std::vector<int>& from = reads_from[std::size_t(m)];
    if (from.empty()) from = node(m).inputs;
    from[0] = node(rows.views.back()).inputs[0];
    const Shape& a = node(node(m).inputs[0]).shape;
    view_folds[std::size_t(m)].inputs[0] = TensorView{a, 0, row_major_strides(a)};
  }

  // Outputs: views after an op, each the only reader of the value before it. Past them may lie
  // a product of their rows by a matrix and views after it that move whole rows: the op then
  // writes the rows in the order those views leave them, and the product runs on them so
  // (attention's heads joined for the out-projection, whose rows then move back batch-first).
  for (int v : order) {
    const Node& nd = node(v);
    if (nd.kind != NodeKind::op || viewed_by[std::size_t(v)] >= 0) continue;
    std::vector<int> views, after;  // before and after the product
    int product = -1;
    for (int u = v; readers[std::size_t(u)].size() == 1 && !pinned[std::size_t(u)];
         u = readers[std::size_t(u)][0]) {
      const int w = readers[std::size_t(u)][0];
      StridedView probe(node(w).shape);
      if (viewed_by[std::size_t(w)] < 0 && is_view(w) &&
          node(w).op->input_view_of_output(probe, node(u).shape))
        (product < 0 ? views : after).push_back(w);
      else if (product < 0 && !views.empty() && node(w).inputs[0] == u &&
               node(w).op->maps_rows(0, input_shapes(node(w))))
        product = w;
      else
        break;
    }
    auto written_through = [&](const StridedView& view, const std::vector<int>& elided) {
      const std::optional<TensorView> written = view.tensor_view();
      if (!written || !nd.op->writes_through(*written, input_shapes(nd), nd.shape)) return false;
      view_folds[std::size_t(v)].output = written;
      for (int u : elided) viewed_by[std::size_t(u)] = v;
      return true;
    };
    bool done = false;
    for (; product >= 0 && !done && !after.empty(); after.pop_back()) {
      StridedView view(node(after.back()).shape);
      bool moves_rows = false, copies = true;
      if (!undo(view, after, moves_rows) || !moves_rows ||
          !view.rows_of_width(node(node(product).inputs[0]).shape[1]) || !undo(view, views, copies))
        continue;
      std::vector<int> elided = views;
      elided.insert(elided.end(), after.begin(), after.end());
      done = written_through(view, elided);
    }
    for (; !done && !views.empty(); views.pop_back()) {
      StridedView view(node(views.back()).shape);
      bool copies = false;
      done = undo(view, views, copies) && copies && written_through(view, views);
    }
  }
}

// In inference, an add of two values of its shape, one of them written by a producer that takes
// an accumulation and read by nothing else, is folded into that producer: it adds its result to
// the other value's buffer, which becomes the sum's, and the add runs nothing (a residual
// block's, the other value its input). The other value's buffer (with every value that shares
// it) must be read by nothing from that producer on but the add, and written before it. An
// epilogue folded into the add moves to the producer, which applies it after the sum. The
// producer may lie behind views of its output that nothing else reads (a reshape).
// mobilenet_v2's adds had taken 13% of a batch-1 step on the 16-core Xeon (PoCL).
void ExecutorImpl::fold_sums() {
  const std::size_t n = graph->nodes.size();
  accumulates_into.assign(n, -1);
  summed_by.assign(n, -1);
  if (mode == Mode::training) return;  // backward would read the operands
  std::vector<int> position(n, -1);
  std::vector<std::vector<int>> read_at(n);  // the positions of each value's readers
  for (std::size_t i = 0; i < order.size(); ++i) position[std::size_t(order[i])] = int(i);
  for (int v : order)
    for (int u : node(v).inputs) read_at[std::size_t(u)].push_back(position[std::size_t(v)]);
  // The value whose buffer u's is, as decided so far.
  auto root = [&](int u) {
    for (;;) {
      const Node& nd = node(u);
      if (shares_operand(u))
        u = nd.inputs[0];
      else if (summed_by[std::size_t(u)] >= 0)
        u = summed_by[std::size_t(u)];
      else if (accumulates_into[std::size_t(u)] >= 0)
        u = accumulates_into[std::size_t(u)];
      else
        return u;
    }
  };
  // Whether producer p may add into other's buffer for add v: that buffer is an op's, written
  // before p runs and read by nothing but v from p's run on.
  auto free_from = [&](int other, int p, int v) {
    const int r = root(other);
    for (int u : order) {
      if (root(u) != r) continue;
      if (pinned[std::size_t(u)] || node(u).kind != NodeKind::op ||
          position[std::size_t(u)] >= position[std::size_t(p)])
        return false;
      for (int at : read_at[std::size_t(u)])
        if (at >= position[std::size_t(p)] && at != position[std::size_t(v)]) return false;
    }
    return true;
  };
  for (int v : order) {
    const Node& nd = node(v);
    if (nd.kind != NodeKind::op || nd.inputs.size() != 2 || nd.inputs[0] == nd.inputs[1] ||
        !nd.op->sums_operands({node(nd.inputs[0]).shape, node(nd.inputs[1]).shape}, nd.shape))
      continue;
    for (int i = 0; i < 2; ++i) {
      const int operand = nd.inputs[std::size_t(i)], other = nd.inputs[std::size_t(1 - i)];
      // The operand's producer, seen through views read by nothing else (a product's reshape
      // back to the tokens of a transformer's residual add).
      const int p = behind_views(operand, [&](int u) {
        return read_at[std::size_t(u)].size() == 1 && !pinned[std::size_t(u)];
      });
      const Node& producer = node(p);
      if (producer.kind != NodeKind::op || !producer.op->takes_accumulation() ||
          folded[std::size_t(p)] || epilogues[std::size_t(p)].on ||
          (epilogues[std::size_t(v)].on &&
           !producer.op->takes_epilogue(epilogues[std::size_t(v)])) ||
          read_at[std::size_t(p)].size() != 1 || pinned[std::size_t(p)] || !free_from(other, p, v))
        continue;
      accumulates_into[std::size_t(p)] = other;
      summed_by[std::size_t(v)] = operand;
      std::swap(epilogues[std::size_t(p)], epilogues[std::size_t(v)]);
      break;
    }
  }
}

// In inference, a concat of channels is assembled in place where each operand comes from a
// producer that runs a forward into its own value, and is read by nothing else but concats of a
// run of the concat's operands and ops that read it where it lies: each producer writes its
// samples into the concat's channels (a route that takes a placement directly; otherwise the
// executor copies its value there after it runs), and the concat runs nothing. squeezenet1_1's
// concats had copied 11% of its kernel time at batch 32 (H200). A concat of a run of the
// operands (a dense block's: each layer reads the concat of every feature before it, and the
// block's output is the concat of all) runs nothing either: it lies in the larger one's
// channels, where its readers, like the operands' other readers, read it through strides
// (Op::reads_through). densenet121's concats had copied 3.3 ms of its 16.3 at batch 32 (H100).
void ExecutorImpl::assemble_concats() {
  const std::size_t n = graph->nodes.size();
  placed_in.assign(n, -1);
  placed_at.assign(n, 0);
  assembled.assign(n, false);
  lies_in.assign(n, -1);
  if (mode == Mode::training) return;  // backward would read the producers' own values
  std::vector<std::vector<std::pair<int, std::size_t>>> readers(n);  // (reader, input slot)
  for (int v : order)
    for (std::size_t i = 0; i < node(v).inputs.size(); ++i)
      readers[std::size_t(node(v).inputs[i])].emplace_back(v, i);
  auto joins_channels = [&](int v) {
    return node(v).kind == NodeKind::op && node(v).op->joins_channels(node(v).shape.size());
  };
  // Whether node w runs a forward that writes its own value (which may go into a concat).
  auto writes_own_value = [&](int w) {
    const auto i = std::size_t(w);
    return node(w).kind == NodeKind::op && !shares_operand(w) && !assembled[i] &&
           summed_by[i] < 0 && accumulates_into[i] < 0 && !view_folds[i].output && placed_in[i] < 0;
  };
  struct Through {  // a reader that reads its input `slot` where it lies in the concat
    int reader;
    std::size_t slot;
    TensorView view;
  };
  // Values that a producer adds its result to (Op::takes_accumulation), behind the views that
  // share their buffers: a concat among them is not assembled, as the operands' other readers
  // would read the sum where they read the operands.
  std::set<int> summed_into;
  for (int p : order)
    if (const int into = accumulates_into[std::size_t(p)]; into >= 0)
      summed_into.insert(behind_views(into, [](int) { return true; }));
  // From the last concat in the order: a larger one mostly comes later and claims its runs
  // first (one that comes earlier is rejected as an outer one, its operands being read by the
  // larger, which is no run of it).
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const int outer = *it;
    const Node& nd = node(outer);
    if (!joins_channels(outer) || assembled[std::size_t(outer)] ||
        lies_in[std::size_t(outer)] >= 0 || element_count(nd.shape) == 0 ||
        summed_into.count(outer) > 0)
      continue;
    const std::set<int> distinct(nd.inputs.begin(), nd.inputs.end());
    if (distinct.size() != nd.inputs.size()) continue;
    std::vector<std::int64_t> first_channel{0};  // per operand
    for (int u : nd.inputs) first_channel.push_back(first_channel.back() + node(u).shape[1]);
    // Where a value of shape s from channel c on lies in the concat's buffer.
    const std::int64_t positions = element_count(nd.shape) / (nd.shape[0] * nd.shape[1]);
    auto slice = [&](const Shape& s, std::int64_t c) {
      std::vector<std::int64_t> strides = row_major_strides(s);
      strides[0] = nd.shape[1] * positions;
      return TensorView{s, c * positions, strides};
    };
    // The first operand of the concat's run that concat r joins, or -1.
    auto run_start = [&](int r) {
      if (r == outer || !joins_channels(r) || pinned[std::size_t(r)]) return -1;
      const Node& run = node(r);
      const auto at = std::find(nd.inputs.begin(), nd.inputs.end(), run.inputs[0]);
      const auto k = at - nd.inputs.begin();
      if (at == nd.inputs.end() || run.inputs.size() > nd.inputs.size() - std::size_t(k) ||
          !std::equal(run.inputs.begin(), run.inputs.end(), at))
        return -1;
      return int(k);
    };
    std::vector<Through> through;
    std::map<int, std::int64_t> runs;  // concat of a run -> its first channel
    // Whether every reader of u but those `skipped` reads it through `view`.
    auto read_through = [&](int u, const TensorView& view, auto&& skipped) {
      for (auto [r, slot] : readers[std::size_t(u)]) {
        if (skipped(r)) continue;
        if (view_folds[std::size_t(r)].inputs[slot] ||
            !node(r).op->reads_through(slot, view, input_shapes(node(r))))
          return false;
        through.push_back({r, slot, view});
      }
      return true;
    };
    bool ok = true;
    for (std::size_t k = 0; ok && k < nd.inputs.size(); ++k) {
      const int u = nd.inputs[k];
      ok = !pinned[std::size_t(u)] && writes_own_value(writer_of(u)) &&
           read_through(u, slice(node(u).shape, first_channel[k]), [&](int r) {
             if (r == outer) return true;
             const int start = run_start(r);
             if (start >= 0) runs[r] = first_channel[std::size_t(start)];
             return start >= 0;
           });
    }
    for (auto [r, c] : runs)
      ok = ok && read_through(r, slice(node(r).shape, c), [](int) { return false; });
    // Operands copied into place one launch each, where the concat copies two a launch: only
    // where some producer writes its part itself does assembling save copies.
    ok = ok && std::any_of(nd.inputs.begin(), nd.inputs.end(),
                           [&](int u) { return node(writer_of(u)).op->takes_placement(); });
    if (!ok) continue;
    for (std::size_t k = 0; k < nd.inputs.size(); ++k) {
      placed_in[std::size_t(writer_of(nd.inputs[k]))] = outer;
      placed_at[std::size_t(writer_of(nd.inputs[k]))] = first_channel[k];
    }
    assembled[std::size_t(outer)] = true;
    for (auto [r, c] : runs) {
      assembled[std::size_t(r)] = true;
      lies_in[std::size_t(r)] = outer;
    }
    for (const Through& t : through) {
      std::vector<int>& from = reads_from[std::size_t(t.reader)];
      if (from.empty()) from = node(t.reader).inputs;
      from[t.slot] = outer;
      view_folds[std::size_t(t.reader)].inputs[t.slot] = t.view;
    }
  }
}

std::vector<Value> ExecutorImpl::nodes_of_kind(NodeKind kind) const {
  std::vector<Value> found;
  for (std::size_t v = 0; v < graph->nodes.size(); ++v)
    if (in_plan[v] && graph->nodes[v].kind == kind) found.push_back(graph->value(int(v)));
  return found;
}

void ExecutorImpl::write_named(const std::string& name, NodeKind kind,
                               const std::vector<float>& host, const char* call) {
  int id = named_node(name, kind, call);
  require_value(id, call);
  Tensor& t = values[std::size_t(id)];
  if (std::uint64_t(t.size()) != host.size())
    throw ShapeError(std::string(call) + ": '" + name + "' of shape " + to_string(t.shape()) +
                     " takes " + std::to_string(t.size()) + " values, not " +
                     std::to_string(host.size()));
  forward_done = false;
  t.write(host);
}

int ExecutorImpl::named_node(const std::string& name, NodeKind kind, const char* call) const {
  auto it = graph->named.find(name);
  const char* wanted = kind == NodeKind::input       ? "input"
                       : kind == NodeKind::parameter ? "parameter"
                                                     : "state";
  if (it == graph->named.end())
    throw Error(std::string(call) + ": the graph has no " + wanted + " named '" + name + "'");
  if (node(it->second).kind != kind)
    throw Error(std::string(call) + ": '" + name + "' is not " +
                (kind == NodeKind::input ? "an " : "a ") + wanted);
  return it->second;
}

void ExecutorImpl::require_value(int id, const char* call) const {
  if (!in_plan[std::size_t(id)])
    throw Error(std::string(call) + ": node '" + node(id).name +
                "' is not computed by this executor (no requested output depends on it)");
}

void ExecutorImpl::backward(int loss, float scale, const Tensor* device_scale,
                            const Executor::GradientReady& gradient_ready) {
  if (mode != Mode::training) throw Error("backward: the executor was made for inference");
  require_value(loss, "backward");
  if (std::find(outputs.begin(), outputs.end(), loss) == outputs.end())
    throw Error("backward: '" + node(loss).name + "' is not an output of this executor");
  if (element_count(node(loss).shape) != 1)
    throw Error("backward: the loss '" + node(loss).name + "' must be a scalar, not of shape " +
                to_string(node(loss).shape));
  if (!forward_done) throw Error("backward: call forward() first (since the inputs last changed)");
  backward_done = false;  // until this backward has written every gradient
  check_recordings();

  if (!backward_plan || backward_plan->loss != loss) backward_plan = plan_backward(loss);
  auto& impl = Access::impl(ctx);
  if (requires_grad[std::size_t(loss)]) {
    Tensor& seed = grads[std::size_t(loss)];
    if (device_scale) {
      Access::note_write(seed);
      check(clEnqueueCopyBuffer(impl.queue.get(), Access::mem(*device_scale), Access::mem(seed), 0,
                                0, sizeof(float), 0, nullptr, nullptr),
            "clEnqueueCopyBuffer (the loss scale)");
    } else {
      fill(seed, scale);
    }
  }
  for (const BackwardStep& s : backward_plan->steps) {
    const Node& nd = node(s.node);
    std::optional<ProfileScope> scope;
    open_scope(scope, nd, Pass::backward, s.grad_inputs);
    run_pass(backward_launches[std::size_t(s.node)], nd, [&] {
      if (masks_from_output(s.node))
        mask_by_epilogue(impl, values[std::size_t(s.node)], grads[std::size_t(s.node)],
                         epilogues[std::size_t(s.node)]);
      auto inputs = tensors_of(nd.inputs, values);
      nd.op->backward(BackwardArgs{
          impl, inputs, values[std::size_t(s.node)], grads[std::size_t(s.node)], s.grad_inputs,
          s.betas, workspace, saved[std::size_t(s.node)], step, epilogues[std::size_t(s.node)],
          shard});
    });
    if (gradient_ready)
      for (auto [index, id] : s.completes) gradient_ready(index, grads[std::size_t(id)]);
  }
  for (int v : backward_plan->unreached) fill(grads[std::size_t(v)], 0.0f);
  if (gradient_ready)
    for (std::size_t i = 0; i < backward_plan->unreached.size(); ++i)
      gradient_ready(backward_plan->unreached_parameters[i],
                     grads[std::size_t(backward_plan->unreached[i])]);
  backward_done = true;
}

ExecutorImpl::BackwardPlan ExecutorImpl::plan_backward(int loss) {
  BackwardPlan plan{loss, {}, {}, {}};
  std::vector<bool> has_grad(graph->nodes.size(), false);  // written by an earlier step
  has_grad[std::size_t(loss)] = requires_grad[std::size_t(loss)];
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const int v = *it;
    const Node& nd = node(v);
    if (nd.kind != NodeKind::op || !has_grad[std::size_t(v)]) continue;
    if (folded[std::size_t(v)]) {  // its producer shares its gradient and masks it
      has_grad[std::size_t(nd.inputs[0])] = true;
      continue;
    }
    BackwardStep s{v, std::vector<Tensor*>(nd.inputs.size(), nullptr),
                   std::vector<float>(nd.inputs.size(), 0.0f)};
    bool any = false;
    for (std::size_t i = 0; i < nd.inputs.size(); ++i) {
      const auto u = std::size_t(nd.inputs[i]);
      if (!requires_grad[u] || !nd.op->differentiable(i)) continue;
      s.grad_inputs[i] = &grads[u];
      s.betas[i] = has_grad[u] ? 1.0f : 0.0f;  // gradients that meet at a value are summed
      has_grad[u] = true;
      any = true;
    }
    if (any) plan.steps.push_back(std::move(s));
  }
  // A parameter's gradient is complete after the last step that writes it; parameters the loss
  // does not depend on have a zero gradient, not a stale one.
  std::vector<std::size_t> parameter_index(graph->nodes.size(), 0);
  std::size_t parameters = 0;
  for (std::size_t v = 0; v < graph->nodes.size(); ++v)
    if (in_plan[v] && graph->nodes[v].kind == NodeKind::parameter) parameter_index[v] = parameters++;
  std::vector<bool> completed(graph->nodes.size(), false);
  for (auto step = plan.steps.rbegin(); step != plan.steps.rend(); ++step)
    for (Tensor* g : step->grad_inputs) {
      if (!g) continue;
      const auto u = std::size_t(g - grads.data());
      if (node(int(u)).kind != NodeKind::parameter || completed[u]) continue;
      completed[u] = true;
      step->completes.emplace_back(parameter_index[u], int(u));
    }
  for (int v : order)
    if (node(v).kind == NodeKind::parameter && !has_grad[std::size_t(v)]) {
      plan.unreached.push_back(v);
      plan.unreached_parameters.push_back(parameter_index[std::size_t(v)]);
    }
  return plan;
}

}  // namespace detail

Executor::Executor(const Context& ctx, const Graph& graph, const std::vector<Value>& outputs,
                   Mode mode)
    : impl_(std::make_unique<detail::ExecutorImpl>(ctx, graph, outputs, mode)) {}
Executor::~Executor() = default;
Executor::Executor(Executor&&) noexcept = default;
Executor& Executor::operator=(Executor&&) noexcept = default;

void Executor::set_input(const std::string& name, const std::vector<float>& host) {
  const int id = impl_->input_to_set(name, std::int64_t(host.size()), "set_input");
  if (id < 0) return;
  impl_->values[std::size_t(id)].write(host);
  impl_->input_set[std::size_t(id)] = true;
}

void Executor::set_input(const std::string& name, const Tensor& device_values) {
  const int id = impl_->input_to_set(name, device_values.size(), "set_input");
  if (id < 0) return;
  copy(device_values, impl_->values[std::size_t(id)]);
  impl_->input_set[std::size_t(id)] = true;
}

Upload Executor::set_input_async(const std::string& name, const float* values, std::size_t count) {
  const int id = impl_->input_to_set(name, std::int64_t(count), "set_input_async");
  if (id < 0) return Upload();
  Upload upload = impl_->values[std::size_t(id)].write_async(values, count);
  impl_->input_set[std::size_t(id)] = true;
  return upload;
}

void Executor::set_parameter(const std::string& name, const std::vector<float>& host) {
  impl_->write_named(name, detail::NodeKind::parameter, host, "set_parameter");
}

void Executor::set_state(const std::string& name, const std::vector<float>& host) {
  impl_->write_named(name, detail::NodeKind::state, host, "set_state");
}

Tensor Executor::state(const std::string& name) const {
  return impl_->named_value(name, detail::NodeKind::state, "state");
}

std::vector<Value> Executor::states() const {
  return impl_->nodes_of_kind(detail::NodeKind::state);
}

Tensor Executor::parameter(const std::string& name) const {
  return impl_->named_value(name, detail::NodeKind::parameter, "parameter");
}

std::vector<Value> Executor::parameters() const {
  return impl_->nodes_of_kind(detail::NodeKind::parameter);
}

void Executor::forward() {
  auto& impl = detail::Access::impl(impl_->ctx);
  for (int v : impl_->order) {
    const detail::Node& nd = impl_->node(v);
    if (nd.kind == detail::NodeKind::input && !impl_->input_set[std::size_t(v)])
      throw Error("forward: input '" + nd.name + "' was not set (set_input)");
  }
  // A forward() that throws is not a step: retried, it draws the same dropout masks.
  const std::uint64_t step = impl_->step + 1;
  const bool training = impl_->mode == Mode::training;
  impl_->forward_done = impl_->backward_done = false;  // until every value is written again
  impl_->check_recordings();
  for (int v : impl_->order) {
    const detail::Node& nd = impl_->node(v);
    if (nd.kind != detail::NodeKind::op || impl_->shares_operand(v) ||
        impl_->assembled[std::size_t(v)] || impl_->summed_by[std::size_t(v)] >= 0)
      continue;
    std::optional<detail::ProfileScope> scope;
    impl_->open_scope(scope, nd, detail::Pass::forward, {});
    const Tensor* prepared = impl_->prepare(v);
    impl_->run_pass(impl_->forward_launches[std::size_t(v)], nd, [&] {
      auto inputs = impl_->forward_inputs(v);
      const int into = impl_->placed_in[std::size_t(v)];
      const detail::Placement placement{into < 0 ? nullptr : &impl_->values[std::size_t(into)],
                                        impl_->placed_at[std::size_t(v)]};
      nd.op->forward(detail::ForwardArgs{
          impl, inputs, impl_->values[std::size_t(v)], impl_->workspace,
          impl_->saved[std::size_t(v)], training, step, impl_->epilogues[std::size_t(v)], placement,
          prepared, impl_->shard, impl_->accumulates_into[std::size_t(v)] >= 0,
          impl_->view_folds[std::size_t(v)].any() ? &impl_->view_folds[std::size_t(v)] : nullptr});
      if (placement.into && !nd.op->takes_placement())
        detail::copy_to_placement(impl, impl_->values[std::size_t(v)], placement);
    });
  }
  impl_->step = step;
  impl_->forward_done = true;
}

void Executor::backward(const Value& loss, float scale) {
  backward(loss, scale, {});
}

void Executor::backward(const Value& loss, float scale, const GradientReady& gradient_ready) {
  if (GraphAccess::data(loss) != impl_->graph)
    throw Error("backward: the loss belongs to another graph");
  if (!std::isfinite(scale) || scale == 0.0f)
    throw Error("backward: the loss scale must be finite and nonzero, not " + std::to_string(scale));
  impl_->backward(loss.id(), scale, nullptr, gradient_ready);
}

void Executor::backward(const Value& loss, const Tensor& scale,
                        const GradientReady& gradient_ready) {
  if (GraphAccess::data(loss) != impl_->graph)
    throw Error("backward: the loss belongs to another graph");
  if (scale.size() < 1 || &detail::Access::impl(scale) != &detail::Access::impl(impl_->ctx))
    throw Error("backward: the loss scale must be a tensor of this executor's context, not empty");
  impl_->backward(loss.id(), 0.0f, &scale, gradient_ready);
}

void Executor::set_shard(std::uint64_t shard) {
  impl_->shard = shard;
}

Tensor Executor::value(const Value& v) const {
  if (GraphAccess::data(v) != impl_->graph)
    throw Error("value: the value belongs to another graph");
  impl_->require_value(v.id(), "value");
  if (!impl_->pinned[std::size_t(v.id())])
    throw Error("value: node '" + v.name() +
                "' is not kept after forward(); request it as an output of the executor");
  return impl_->values[std::size_t(v.id())];
}

Tensor Executor::gradient(const Value& param) const {
  if (GraphAccess::data(param) != impl_->graph)
    throw Error("gradient: the value belongs to another graph");
  const detail::Node& nd = impl_->node(param.id());
  if (nd.kind != detail::NodeKind::parameter)
    throw Error("gradient: '" + nd.name + "' is not a parameter");
  if (impl_->mode != Mode::training) throw Error("gradient: the executor was made for inference");
  impl_->require_value(param.id(), "gradient");
  if (!impl_->backward_done) throw Error("gradient: call backward() first");
  return impl_->grads[std::size_t(param.id())];
}

std::uint64_t Executor::step() const {
  return impl_->step;
}
void Executor::set_step(std::uint64_t step) {
  impl_->step = step;
}

Mode Executor::mode() const {
  return impl_->mode;
}
const Context& Executor::context() const {
  return impl_->ctx;
}
std::size_t Executor::memory_bytes() const {
  return impl_->device_bytes;
}

std::string Executor::schedule_table() const {
  std::string out;
  for (const ScheduledPass& p : schedule()) {
    char head[160];
    std::snprintf(head, sizeof head, "%-24s %-22s %-8s", p.node.c_str(), p.op.c_str(),
                  p.pass.c_str());
    out += head;
    if (!p.route.empty()) out += " " + p.route;
    if (!p.kernels.empty()) {
      out += " [";
      for (std::size_t i = 0; i < p.kernels.size(); ++i) out += (i ? ", " : "") + p.kernels[i];
      out += "]";
    }
    if (p.workspace_bytes > 0) {
      char ws[48];
      const bool mib = p.workspace_bytes >= (1 << 20);
      std::snprintf(ws, sizeof ws, " (workspace %.1f %s)",
                    double(p.workspace_bytes) / (mib ? 1 << 20 : 1 << 10), mib ? "MiB" : "KiB");
      out += ws;
    }
    out += "\n";
  }
  return out;
}

std::vector<Executor::ScheduledPass> Executor::schedule() const {
  auto& impl = detail::Access::impl(impl_->ctx);
  const bool training = impl_->mode == Mode::training;
  auto entry = [&](int v, detail::Pass pass) {
    const detail::Node& nd = impl_->node(v);
    const std::vector<Shape> shapes = impl_->input_shapes(nd);
    std::vector<bool> wanted;
    for (std::size_t i = 0; i < nd.inputs.size(); ++i)
      wanted.push_back(pass == detail::Pass::backward && nd.op->differentiable(i) &&
                       impl_->requires_grad[std::size_t(nd.inputs[i])]);
    ScheduledPass s{nd.name, nd.op->type(), detail::pass_name(pass), "", 0, {}};
    const bool forward = pass == detail::Pass::forward;
    if (impl_->folded[std::size_t(v)]) {  // into its operand's producer, or the convolution
      // that an add it follows was folded into (either perhaps behind views)
      const auto behind = [&](int u) { return impl_->behind_views(u, [](int) { return true; }); };
      const int operand = behind(nd.inputs[0]);
      const int by = impl_->summed_by[std::size_t(operand)];
      const int into = by >= 0 ? behind(by) : operand;
      s.route = "folded into '" + impl_->node(into).name + "'";
    } else if (const int by = impl_->viewed_by[std::size_t(v)]; by >= 0) {
      s.route = "a view '" + impl_->node(by).name + "' reads or writes through";
    } else if (const int in = impl_->lies_in[std::size_t(v)]; forward && in >= 0)
      s.route = "lies in '" + impl_->node(in).name + "', assembled in place";
    else if (forward && impl_->assembled[std::size_t(v)])
      s.route = "assembled in place by its operands' producers";
    else if (const int by = impl_->summed_by[std::size_t(v)]; forward && by >= 0)
      s.route = "folded into '" +
                impl_->node(impl_->behind_views(by, [](int) { return true; })).name + "'";
    else
      s.route = nd.op->describe(detail::DescribeArgs{impl, shapes, nd.shape, pass, wanted,
                                                     impl_->epilogues[std::size_t(v)]});
    if (const int into = impl_->accumulates_into[std::size_t(v)]; forward && into >= 0)
      s.route += ", '" + impl_->node(into).name + "' added in";
    if (const int into = impl_->placed_in[std::size_t(v)]; forward && into >= 0)
      s.route += (s.route.empty() ? "" : ", ") +
                 std::string(nd.op->takes_placement() ? "written into '" : "copied into '") +
                 impl_->node(into).name + "' from channel " +
                 std::to_string(impl_->placed_at[std::size_t(v)]);
    s.workspace_bytes = nd.op->workspace_floats(shapes, nd.shape) * sizeof(float);
    const auto& launches =
        pass == detail::Pass::forward ? impl_->forward_launches : impl_->backward_launches;
    if (std::size_t(v) < launches.size() && launches[std::size_t(v)].recorded)
      s.kernels = launches[std::size_t(v)].recorded->kernel_names();
    return s;
  };
  std::vector<ScheduledPass> passes;
  for (int v : impl_->order)
    if (impl_->node(v).kind == detail::NodeKind::op && !impl_->node(v).op->aliases_input())
      passes.push_back(entry(v, detail::Pass::forward));
  if (training)
    for (auto it = impl_->order.rbegin(); it != impl_->order.rend(); ++it)
      if (impl_->node(*it).kind == detail::NodeKind::op && impl_->requires_grad[std::size_t(*it)])
        passes.push_back(entry(*it, detail::Pass::backward));
  return passes;
}

namespace detail {

TuningNotes schedule_tuning_notes(const Executor& executor) {
  TuningNotes all;
  const ExecutorImpl& impl = ExecutorAccess::impl(executor);
  for (const auto* passes : {&impl.forward_launches, &impl.backward_launches})
    for (const auto& pass : *passes) {
      all.products.insert(all.products.end(), pass.tuning.products.begin(),
                          pass.tuning.products.end());
      all.convolutions.insert(all.convolutions.end(), pass.tuning.convolutions.begin(),
                              pass.tuning.convolutions.end());
    }
  return all;
}

}  // namespace detail

}  // namespace clnn
