// One check for any operator: forward against the double-precision reference, backward against
// the reference backward (with the output gradient a random tensor R, through
// loss = sum(op(x) * R)), the reference backward against central finite differences, a second
// backward over poisoned gradients giving identical results, and inference mode agreeing with
// training mode.
#pragma once

#include <algorithm>

#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "clnn/clnn.hpp"
#include "reference/ops.hpp"
#include "support.hpp"

namespace clnn::test {

using reference::Vec;

struct OpCheck {
  std::vector<Shape> shapes;
  std::function<Value(const std::vector<Value>&)> build;
  std::function<Vec(const std::vector<Vec>&)> forward;
  // Gradient of sum(forward(x) * gy) with respect to each input (empty for non-differentiable).
  std::function<std::vector<Vec>(const std::vector<Vec>&, const Vec& gy)> backward;
  std::vector<bool> differentiable;  // default: every input
  std::vector<bool> state;           // inputs that are graph state (batch_norm's statistics)
  bool inference_matches = true;     // whether inference mode gives training mode's output
  // Whether the reference backward is checked against central differences too: two reference
  // forwards per input element, minutes for a layer of thousands (smaller cases check it).
  bool finite_differences = true;
  // Generates input i; default: uniform in [-1, 1].
  std::function<std::vector<float>(std::size_t input, std::size_t n, std::uint32_t seed)> make;
  double forward_tolerance = 1e-5;
  double backward_tolerance = 1e-4;
};

// The op applied twice to the same inputs, as two nodes, and summed: each input's gradient is
// written by one backward and added to by the other (the passes' beta 1).
inline OpCheck twice(OpCheck check) {
  OpCheck c = check;
  c.build = [build = check.build](const std::vector<Value>& v) {
    return add(build(v), build(v));
  };
  c.forward = [forward = check.forward](const std::vector<Vec>& in) {
    Vec y = forward(in);
    for (double& e : y) e *= 2.0;
    return y;
  };
  c.backward = [backward = check.backward](const std::vector<Vec>& in, const Vec& gy) {
    std::vector<Vec> grads = backward(in, gy);
    for (Vec& g : grads)
      for (double& e : g) e *= 2.0;
    return grads;
  };
  return c;
}

inline std::vector<double> to_double(const std::vector<float>& v) {
  return {v.begin(), v.end()};
}

// The check followed by clip(lo, hi), built as relu where lo is 0 and hi infinite: the
// reference's output clamped, its gradient masked where it was clamped.
inline OpCheck clip_after(OpCheck check, double lo, double hi) {
  OpCheck c = check;
  const bool is_relu = lo == 0.0 && hi == INFINITY;
  c.build = [build = check.build, is_relu, lo, hi](const std::vector<Value>& v) {
    return is_relu ? relu(build(v)) : clip(build(v), float(lo), float(hi));
  };
  c.forward = [forward = check.forward, lo, hi](const std::vector<Vec>& in) {
    Vec y = forward(in);
    for (double& e : y) e = std::min(std::max(e, lo), hi);
    return y;
  };
  c.backward = [forward = check.forward, backward = check.backward, lo, hi](
                   const std::vector<Vec>& in, const Vec& gy) {
    const Vec y = forward(in);
    Vec masked = gy;
    for (std::size_t i = 0; i < y.size(); ++i)
      if (!(y[i] > lo && y[i] < hi)) masked[i] = 0.0;
    return backward(in, masked);
  };
  return c;
}

inline OpCheck relu_after(OpCheck check) {
  return clip_after(std::move(check), 0.0, INFINITY);
}

// The routes a training executor of the check's graph (its operands parameters, the sum of its
// output the loss) gives its passes, by "node pass" ("relu_1 forward"): what it folds.
inline std::map<std::string, std::string> training_routes(const OpCheck& check) {
  Graph g;
  std::vector<Value> operands;
  for (std::size_t i = 0; i < check.shapes.size(); ++i)
    operands.push_back(g.parameter("p" + std::to_string(i), check.shapes[i],
                                   init::uniform(-1.0f, 1.0f, std::uint64_t(i + 1))));
  Executor ex(context(), g, {sum(check.build(operands))}, Mode::training);
  std::map<std::string, std::string> routes;
  for (const auto& p : ex.schedule()) routes[p.node + " " + p.pass] = p.route;
  return routes;
}

inline void run_op_check(const OpCheck& check, std::uint32_t seed = 1) {
  const std::size_t count = check.shapes.size();
  auto differentiable = [&](std::size_t i) {
    return check.differentiable.empty() || check.differentiable[i];
  };
  auto is_state = [&](std::size_t i) { return !check.state.empty() && check.state[i]; };
  // Parameters for differentiable inputs, graph state or plain inputs for the rest.
  auto feed = [&](Executor& ex, std::size_t i, const std::vector<float>& values) {
    const std::string name = "x" + std::to_string(i);
    if (differentiable(i))
      ex.set_parameter(name, values);
    else if (is_state(i))
      ex.set_state(name, values);
    else
      ex.set_input(name, values);
  };
  std::vector<std::vector<float>> host(count);
  std::vector<Vec> ref_inputs(count);
  for (std::size_t i = 0; i < count; ++i) {
    std::size_t n = reference::numel(check.shapes[i]);
    host[i] = check.make ? check.make(i, n, seed + std::uint32_t(i))
                         : random_vector(n, seed + std::uint32_t(i));
    ref_inputs[i] = to_double(host[i]);
  }
  const Vec ref_out = check.forward(ref_inputs);

  Graph g;
  std::vector<Value> operands;
  for (std::size_t i = 0; i < count; ++i) {
    std::string name = "x" + std::to_string(i);
    operands.push_back(differentiable(i) ? g.parameter(name, check.shapes[i], init::zeros())
                       : is_state(i)     ? g.state(name, check.shapes[i], init::zeros())
                                         : g.input(name, check.shapes[i]));
  }
  Value out = check.build(operands);
  Value weights = g.input("R", out.shape());
  Value loss = sum(mul(out, weights));
  const auto r = random_vector(reference::numel(out.shape()), seed + 100);
  const Vec ref_grads_out = to_double(r);

  Executor ex(context(), g, {out, loss}, Mode::training);
  for (std::size_t i = 0; i < count; ++i) feed(ex, i, host[i]);
  ex.set_input("R", r);
  ex.forward();
  const auto device_out = ex.value(out).to_host();
  CHECK(relative_error(device_out, ref_out) < check.forward_tolerance);

  ex.backward(loss);
  const auto ref_grads = check.backward(ref_inputs, ref_grads_out);
  std::vector<std::vector<float>> first(count);
  for (std::size_t i = 0; i < count; ++i) {
    if (!differentiable(i)) continue;
    INFO("gradient of input " << i);
    first[i] = ex.gradient(operands[i]).to_host();
    CHECK(relative_error(first[i], ref_grads[i]) < check.backward_tolerance);

    // The reference's own gradient against central differences of the reference forward.
    if (!check.finite_differences) continue;
    auto objective = [&](const Vec& xi) {
      auto inputs = ref_inputs;
      inputs[i] = xi;
      return reference::dot(check.forward(inputs), ref_grads_out);
    };
    auto numeric = reference::numerical_gradient(objective, ref_inputs[i]);
    std::vector<float> ref_as_float(ref_grads[i].begin(), ref_grads[i].end());
    CHECK(relative_error(ref_as_float, numeric) < 1e-5);
  }

  // Again over gradients poisoned with NaN: backward must overwrite, never read, stale values.
  for (std::size_t i = 0; i < count; ++i) {
    if (!differentiable(i)) continue;
    Tensor grad = ex.gradient(operands[i]);
    fill(grad, std::numeric_limits<float>::quiet_NaN());
  }
  ex.forward();
  ex.backward(loss);
  for (std::size_t i = 0; i < count; ++i)
    if (differentiable(i)) CHECK(ex.gradient(operands[i]).to_host() == first[i]);

  // Inference mode reuses buffers; the output must not change.
  if (!check.inference_matches) return;
  Executor inference(context(), g, {out}, Mode::inference);
  for (std::size_t i = 0; i < count; ++i) feed(inference, i, host[i]);
  inference.forward();
  CHECK(inference.value(out).to_host() == device_out);
}

}  // namespace clnn::test
