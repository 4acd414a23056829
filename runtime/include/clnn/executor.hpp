// Executor: compiles a graph for a device and runs it forward (topological order) and backward
// (reverse topological order, reverse-mode autodiff).
#pragma once

#include <cstddef>
#include <cstdint>
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
  // Gradients of `loss` (a scalar output) with respect to every parameter it depends on.
  // Requires training mode and a forward() since the inputs last changed.
  void backward(const Value& loss);

  // The tensor of an output (or, in training, of any value backward keeps).
  Tensor value(const Value& v) const;
  // d loss / d param from the last backward().
  Tensor gradient(const Value& param) const;

  Mode mode() const;
  // forward() calls so far; it seeds per-step randomness (dropout). Checkpoints restore it.
  std::uint64_t step() const;
  void set_step(std::uint64_t step);
  const Context& context() const;
  // Device memory the executor holds at its peak, in bytes: values (after the memory plan has
  // shared their buffers), gradients, parameters, what ops keep for backward and the workspace.
  std::size_t memory_bytes() const;
  // Names of the nodes forward() runs, in order (inputs and parameters excluded).
  std::vector<std::string> schedule() const;

 private:
  std::unique_ptr<detail::ExecutorImpl> impl_;
};

}  // namespace clnn
