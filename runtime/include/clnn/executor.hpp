// Executor: compiles a graph for a device and runs it forward (topological order) and backward
// (reverse topological order, reverse-mode autodiff).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "clnn/context.hpp"
#include "clnn/graph.hpp"
#include "clnn/tensor.hpp"

namespace clnn {

enum class Mode { inference, training };

namespace detail {
struct ExecutorImpl;
struct ExecutorAccess;
}

class Executor {
 public:
  // Only the nodes the outputs depend on are compiled and run. Parameters are initialized here.
  Executor(const Context& ctx, const Graph& graph, const std::vector<Value>& outputs, Mode mode);
  ~Executor();
  Executor(Executor&&) noexcept;
  Executor& operator=(Executor&&) noexcept;

  // Feeds an input, by name; values must match its shape's element count.
  void set_input(const std::string& name, const std::vector<float>& values);
  void set_input(const std::string& name, const Tensor& values);
  // Enqueues the input's upload behind the work already enqueued and returns at once; values
  // must stay alive until the Upload is waited for.
  Upload set_input_async(const std::string& name, const float* values, std::size_t count);
  void set_parameter(const std::string& name, const std::vector<float>& values);
  // The live parameter tensor (reading it with to_host() copies it out).
  Tensor parameter(const std::string& name) const;
  // Parameters the outputs depend on, in graph order.
  std::vector<Value> parameters() const;
  // Graph state (Graph::state), like parameters but updated by the operators, not trained.
  void set_state(const std::string& name, const std::vector<float>& values);
  Tensor state(const std::string& name) const;
  std::vector<Value> states() const;

  void forward();
  // Gradients of `loss` (a scalar output) with respect to every parameter it depends on, or of
  // scale * loss (loss scaling: optim::LossScaler). Requires training mode and a forward() since
  // the inputs last changed.
  void backward(const Value& loss, float scale = 1.0f);
  // The same, calling gradient_ready(i, g) as soon as the last kernel that writes g, the gradient
  // of parameters()[i], is enqueued (every parameter once): data-parallel training starts moving
  // a gradient while the rest of backward runs.
  using GradientReady = std::function<void(std::size_t parameter, const Tensor& gradient)>;
  void backward(const Value& loss, float scale, const GradientReady& gradient_ready);
  // The same with the scale read on the device, from scale's first element (a LossScaler's
  // device_state()): a scale the device decided needs no wait for the host.
  void backward(const Value& loss, const Tensor& scale, const GradientReady& gradient_ready = {});

  // The tensor of an output (or, in training, of any value backward keeps; which those are
  // depends on what the executor folds, e.g. a relu's operand is gone where the relu runs inside
  // its producer: ask for a value as an output to be sure of it).
  Tensor value(const Value& v) const;
  // d loss / d param from the last backward().
  Tensor gradient(const Value& param) const;

  Mode mode() const;
  // forward() calls so far; it seeds per-step randomness (dropout). Checkpoints restore it.
  std::uint64_t step() const;
  void set_step(std::uint64_t step);
  // Data-parallel training splits each batch into equal shards, one per rank; this executor's
  // batch is shard `shard` (0 by default). Random draws (dropout's masks) take the values the
  // same rows would in the whole batch, so N ranks train as one would, where the batch is the
  // outermost dimension of every tensor dropout sees (as in the layers of clnn/nn.hpp).
  void set_shard(std::uint64_t shard);
  const Context& context() const;
  // Device memory the executor holds at its peak, in bytes: values (after the memory plan has
  // shared their buffers), gradients, parameters, what ops keep for backward, what inference
  // prepares from parameters (a convolution's filters in its route's order) and the workspace.
  std::size_t memory_bytes() const;
  // The passes forward() and (training) backward() run, in order: per node (inputs and
  // parameters excluded) and pass, the route and plan its kernels take where the op has several
  // ways (a convolution's route, a product's backend and blocks), decided as the pass decides
  // them, and the workspace it may use. clnn-run --schedule and clnn-fashion --show-schedule
  // print it.
  struct ScheduledPass {
    std::string node;  // the node's name
    std::string op;    // its type: "conv", "relu", ...
    std::string pass;  // "forward" or "backward"
    // "winograd F(4x4, 3x3)", "x: implicit GEMM ...; w: columns + GEMM", "folded into
    // 'conv_1'", or empty where the op has one way.
    std::string route;
    std::size_t workspace_bytes = 0;
    // The kernels the pass replays, a name per launch in order: recorded as it first ran,
    // enqueued since without its host code. Empty before its first run, and where it runs its
    // host code every time (dropout's masks change by step; a library's GEMM launches what clnn
    // does not see).
    std::vector<std::string> kernels;
  };
  std::vector<ScheduledPass> schedule() const;
  // The schedule as a table of text, a pass a line.
  std::string schedule_table() const;

 private:
  friend struct detail::ExecutorAccess;
  std::unique_ptr<detail::ExecutorImpl> impl_;
};

}  // namespace clnn
