// Internal: the operator interface. Each op family (ops/<family>.cpp) implements it: shape
// inference when the node is added, forward, and backward (the chain rule for each input).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "clnn/shape.hpp"
#include "clnn/tensor.hpp"
#include "ops/epilogue.hpp"
#include "ops/strided_view.hpp"

namespace clnn::detail {

struct ContextImpl;

// Where forward's output must end up when an executor assembles a channel concat in place: in
// `into` (shaped [N, C, ...], the concat's value) from channel `channel` on. A route writes it
// there directly or writes ForwardArgs::output and copies it. Given only to ops that take it
// (Op::takes_placement).
struct Placement {
  const Tensor* into = nullptr;
  std::int64_t channel = 0;
};

// Where an op reads its inputs and writes its output through strides, in place of the copies of
// views an inference executor folded (Op::reads_through, Op::writes_through): an input with a
// view is given as the buffer the view lies in.
struct ViewFolds {
  std::vector<std::optional<TensorView>> inputs;  // by input; nullopt: read as it is
  std::optional<TensorView> output;
  bool any() const {
    return output || std::any_of(inputs.begin(), inputs.end(), [](const auto& v) { return v; });
  }
};

struct ForwardArgs {
  ContextImpl& ctx;
  const std::vector<const Tensor*>& inputs;
  Tensor& output;
  const Tensor& workspace;  // workspace_floats() floats, undefined when that is 0
  const Tensor& saved;      // saved_floats() floats kept for backward (training), else undefined
  bool training;            // the executor's mode: dropout and batch_norm behave differently
  std::uint64_t step;       // counts forward() calls: seeds per-step randomness (dropout)
  Epilogue epilogue{};      // applied to the output, given only to ops that take one
  Placement placement{};    // where the output goes instead, given only to ops that take one
  // What prepare() wrote from the inputs as they are now, or null where nothing was prepared.
  const Tensor* prepared = nullptr;
  // Which shard of the whole batch this executor's batch is (Executor::set_shard): random draws
  // take the values the same rows of the whole batch would.
  std::uint64_t shard = 0;
  // Inference: output holds a value already, which forward adds its result to (before the
  // epilogue): an add of this op's output and that value folded into the op. Given only to ops
  // that take it (Op::takes_accumulation).
  bool accumulate = false;
  const ViewFolds* views = nullptr;  // given only to ops that read or write through views
};

// What an inference executor keeps from one forward() to the next, made from parameters (filters
// rearranged or transformed for the route forward takes): Op::prepare writes it.
struct PrepareArgs {
  ContextImpl& ctx;
  const std::vector<const Tensor*>& inputs;
  const Shape& output;
  const Tensor& prepared;  // prepared_floats() floats
};

struct BackwardArgs {
  ContextImpl& ctx;
  // Inputs and output hold their forward values where backward_needs() says so.
  const std::vector<const Tensor*>& inputs;
  const Tensor& output;
  const Tensor& grad_output;
  // d loss / d input i; nullptr where no gradient is wanted.
  const std::vector<Tensor*>& grad_inputs;
  // 0: overwrite grad_inputs[i] (never read it); 1: add to it (a gradient that meets others).
  const std::vector<float>& betas;
  const Tensor& workspace;
  const Tensor& saved;  // what forward saved
  std::uint64_t step;   // the step of the forward() this backward follows
  // The epilogue forward applied (ops that take one in training): grad_output is the gradient
  // after it, which backward masks by the epilogue's derivative where backward_with_epilogue
  // says `recomputed` (for `from_output` the executor has masked it already).
  Epilogue epilogue{};
  std::uint64_t shard = 0;  // as ForwardArgs::shard
};

// How an operator appears in an ONNX graph of opset 17 (io/onnx_export.cpp writes it).
struct OnnxNode {
  std::string op_type;
  std::map<std::string, std::int64_t> ints;
  std::map<std::string, float> floats;
  std::map<std::string, std::vector<std::int64_t>> int_lists;
  // Constant inputs after the operator's own: int64 tensors (Reshape's shape) and float scalars
  // (Clip's bounds, scale's factor), in this order.
  std::vector<std::vector<std::int64_t>> int_inputs;
  std::vector<float> float_inputs;
  // The operator's inputs that ONNX takes as int64 (indices clnn holds as floats): the exporter
  // casts them.
  std::vector<std::size_t> index_inputs;
  // Which output of the ONNX node the value is (the others get unused names), and whether it is
  // int64 there (positions), which the exporter casts to float.
  int output = 0;
  bool index_output = false;
};

// What one pass of a node costs at the least, for the profiler's roofline (clnn-bench models
// --profile): floating-point operations (a multiply-add counts 2) and bytes of device memory read
// and written.
struct Cost {
  double flops = 0;
  double bytes = 0;
};
enum class Pass { forward, backward };
// Bytes of a float32 tensor of this shape.
inline double float_bytes(const Shape& shape) {
  return 4.0 * double(element_count(shape));
}
inline const char* pass_name(Pass pass) {
  return pass == Pass::forward ? "forward" : "backward";
}

struct CostArgs {
  Pass pass;
  const std::vector<Shape>& inputs;
  const Shape& output;
  bool training;  // the executor's mode
  // Backward: whether input i gets a gradient (not the images a network starts from, say).
  const std::vector<bool>& wanted;
  bool wants(std::size_t input) const { return input < wanted.size() && wanted[input]; }
};

// A pass of a node as the executor would run it, for Op::describe.
struct DescribeArgs {
  ContextImpl& ctx;
  const std::vector<Shape>& inputs;
  const Shape& output;
  Pass pass;
  const std::vector<bool>& wanted;  // backward: the input gradients it computes
  const Epilogue& epilogue;         // forward: the activation folded in, if any
};

class Op {
 public:
  virtual ~Op() = default;
  virtual std::string type() const = 0;
  // The output shape; throws ShapeError with a message that the graph prefixes with the node.
  virtual Shape infer_shape(const std::vector<Shape>& inputs) const = 0;
  virtual void forward(const ForwardArgs& args) const = 0;
  virtual void backward(const BackwardArgs& args) const = 0;

  // What backward reads, so that the memory plan may reuse everything else.
  struct Needs {
    bool inputs = true;
    bool output = false;
  };
  virtual Needs backward_needs() const { return {}; }
  // Whether forward applies ForwardArgs::epilogue to its output.
  virtual bool takes_epilogue(const Epilogue&) const { return false; }
  // Whether a training executor may fold this epilogue in as well, and how its derivative reaches
  // backward: `from_output`, the executor keeps the output and masks grad_output by it before
  // backward (mask_by_epilogue); `recomputed`, backward applies it (BackwardArgs::epilogue) from
  // what backward_needs() already keeps.
  enum class EpilogueBackward { refused, recomputed, from_output };
  virtual EpilogueBackward backward_with_epilogue(const Epilogue&) const {
    return EpilogueBackward::refused;
  }
  // The epilogue this op is, if it is one (relu, clip): what an executor folds into the op that
  // produces its operand.
  virtual std::optional<Epilogue> as_epilogue() const { return std::nullopt; }
  // Inference: floats of what forward would read, made by prepare() from the inputs that
  // prepared_from() names, in place of making it on every call (0: nothing). An executor
  // prepares it where those inputs are parameters, and again whenever one of them is written or
  // the context's choices change.
  virtual std::size_t prepared_floats(ContextImpl& /*ctx*/, const std::vector<Shape>& /*inputs*/,
                                      const Shape& /*output*/) const {
    return 0;
  }
  virtual std::vector<std::size_t> prepared_from() const { return {}; }
  // Writes PrepareArgs::prepared; false where forward would not read it (its route changed
  // since prepared_floats(), and wants none or more), and forward then gets none.
  virtual bool prepare(const PrepareArgs& /*args*/) const { return false; }
  // Whether forward writes its output where ForwardArgs::placement says (inference only).
  virtual bool takes_placement() const { return false; }
  // Whether forward adds its result to what its output holds where ForwardArgs::accumulate says
  // (inference only).
  virtual bool takes_accumulation() const { return false; }
  // Whether forward is the elementwise sum of its two operands, of its own shape both (add): an
  // inference executor may fold it into the producer of one (Op::takes_accumulation), which
  // then adds its result to the other where that lies.
  virtual bool sums_operands(const std::vector<Shape>& /*inputs*/, const Shape& /*output*/) const {
    return false;
  }
  // Whether forward only lays its operands side by side along axis 1 of its `rank`-D output (a
  // concat of channels): an inference executor may then have their producers write them there
  // in place (Op::takes_placement) and skip the copies.
  virtual bool joins_channels(std::size_t /*rank*/) const { return false; }
  // Whether the output is input 0 seen through strides (reshape, transpose, slice): maps `view`,
  // where input 0 lies in some buffer, to where the output would lie in it (false where it
  // would not be a strided view).
  virtual bool view_of_input(StridedView& /*view*/) const { return false; }
  // Whether the op moves elements one to one (reshape, transpose): maps `view`, where the output
  // lies in some buffer, to where input 0 (of shape `input`) would lie in it.
  virtual bool input_view_of_output(StridedView& /*view*/, const Shape& /*input*/) const {
    return false;
  }
  // Whether output row r is a function of row r of input i alone (a product of rows [M, K] by a
  // matrix): an executor may have it run on its rows in another order, and its output's rows
  // then lie in that order.
  virtual bool maps_rows(std::size_t /*input*/, const std::vector<Shape>& /*inputs*/) const {
    return false;
  }
  // Inference: whether forward reads input i (the op's input shapes `inputs`) through `view`
  // (ForwardArgs::views), or writes its output through it: an executor then folds the views
  // between the op and the value they start from, or end at, and runs none of them.
  virtual bool reads_through(std::size_t /*input*/, const TensorView& /*view*/,
                             const std::vector<Shape>& /*inputs*/) const {
    return false;
  }
  virtual bool writes_through(const TensorView& /*view*/, const std::vector<Shape>& /*inputs*/,
                              const Shape& /*output*/) const {
    return false;
  }
  // Whether a gradient flows to input i (labels, say, get none).
  virtual bool differentiable(std::size_t /*input*/) const { return true; }
  // The output shares input 0's buffer (reshape): no kernel runs forward.
  virtual bool aliases_input() const { return false; }
  // Scratch floats forward or backward needs; one buffer serves every node in turn.
  virtual std::size_t workspace_floats(const std::vector<Shape>& /*inputs*/,
                                       const Shape& /*output*/) const {
    return 0;
  }
  // Floats of a node's own buffer that forward fills for backward (batch statistics, say);
  // allocated in training only.
  virtual std::size_t saved_floats(const std::vector<Shape>& /*inputs*/,
                                   const Shape& /*output*/) const {
    return 0;
  }
  // Describes the operator for ONNX export; false when ONNX has no equivalent (losses).
  virtual bool to_onnx(OnnxNode& /*node*/) const { return false; }
  // Inputs that forward writes in training (batch_norm's running statistics): in a training
  // executor they must be graph state, which the executor keeps for good.
  virtual bool writes_input(std::size_t /*input*/) const { return false; }

  // Whether a pass's launches change with the step (ForwardArgs::step, dropout's masks): such
  // passes run their host code every time instead of replaying the launches an executor
  // recorded (cl/launch_recording.hpp); every other pass must launch the same each time.
  virtual bool launches_change_by_step() const { return false; }

  // The route and plan a pass takes, in words, decided as the pass decides it but without
  // running it (Executor::schedule()); empty where the op has one way, named by its type.
  virtual std::string describe(const DescribeArgs& /*args*/) const { return ""; }

  // The cost of a pass. The default suits elementwise operators, broadcasts and reductions: each
  // operand read once and the result written once (backward: what backward_needs says it reads
  // and the output's gradient, and each wanted input gradient written), one operation per
  // element of the largest of them. Operators whose work grows with something else (a product's
  // inner dimension, a window) override it.
  virtual Cost cost(const CostArgs& args) const;
};

// A ShapeError message for an op: "<type>: <message>: [a] vs [b]".
std::string shape_mismatch(const std::string& op, const std::string& message, const Shape& a,
                           const Shape& b);

}  // namespace clnn::detail
