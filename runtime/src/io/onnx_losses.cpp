// ONNX operators that index with integer tensors: GatherElements and the losses over class
// targets. The indices are known at load (initializers, Constants or bound inputs); they reach
// the device as floats holding whole numbers, exact below 2^24.
#include <cmath>

#include "clnn/ops.hpp"
#include "io/onnx_lowerings.hpp"

namespace clnn::onnx::detail {

namespace {

constexpr std::int64_t kMaxExactIndex = std::int64_t{1} << 24;

// Input i, known integers, as floats of `shape` (same element count).
HostTensor index_floats(const Node& n, int i, const Shape& shape) {
  const HostTensor* t = n.known(i);
  if (!t || t->is_float())
    n.unsupported("input " + std::to_string(i) + " must be integers known at load");
  HostTensor out;
  out.type = clnn::detail::Element::float32;
  out.shape = shape;
  for (std::int64_t v : t->ints) {
    if (v <= -kMaxExactIndex || v >= kMaxExactIndex)
      n.invalid("index " + std::to_string(v) + " is beyond what clnn carries exactly (2^24)");
    out.floats.push_back(float(v));
  }
  return out;
}

// NegativeLogLikelihoodLoss of log-probabilities x [N, C, d...] at targets input 1 ([N, d...],
// known at load), with optional class weights (input `weight_input`).
Value nll(const Node& n, const Value& x, int weight_input) {
  const Shape& s = x.shape();
  if (s.size() < 2) n.invalid("the input " + to_string(s) + " needs [N, C, ...]");
  const std::int64_t classes = s[1];
  const HostTensor* target = n.known(1);
  if (!target || target->is_float()) n.unsupported("targets computed at run time");
  Shape target_shape = s;
  target_shape.erase(target_shape.begin() + 1);
  if (target->shape != target_shape)
    n.invalid("targets " + to_string(target->shape) + " for an input of " + to_string(s));
  const bool ignoring = n.has("ignore_index");
  const std::int64_t ignore = n.integer("ignore_index", 0, std::numeric_limits<std::int64_t>::min(),
                                        std::numeric_limits<std::int64_t>::max());
  // Ignored targets read class 0 and weigh 0.
  HostTensor safe, mask;
  safe.type = mask.type = clnn::detail::Element::float32;
  safe.shape = target_shape;
  safe.shape.insert(safe.shape.begin() + 1, 1);
  mask.shape = target_shape;
  for (std::int64_t t : target->ints) {
    const bool ignored = ignoring && t == ignore;
    if (!ignored && (t < 0 || t >= classes))
      n.invalid("target " + std::to_string(t) + " is not a class of " + std::to_string(classes));
    safe.floats.push_back(ignored ? 0.0f : float(t));
    mask.floats.push_back(ignored ? 0.0f : 1.0f);
  }
  if (classes >= kMaxExactIndex) n.invalid("more classes than clnn indexes exactly (2^24)");
  const Value index = n.constant_value("targets", safe);
  Value weight = n.constant_value("mask", mask);
  if (n.has_input(weight_input)) {
    Value w = n.input(weight_input);
    if (w.shape() != Shape{classes})
      n.invalid("weights " + to_string(w.shape()) + " for " + std::to_string(classes) + " classes");
    Shape per_class(s.size(), 1);
    per_class[1] = classes;
    const Value picked = gather_elements(expand(reshape(w, per_class), s), index, 1);
    weight = mul(reshape(picked, target_shape), weight);
  }
  const Value loss = mul(scale(reshape(gather_elements(x, index, 1), target_shape), -1.0f), weight);
  const std::string reduction = n.text("reduction", "mean", {"none", "sum", "mean"});
  if (reduction == "none") return loss;
  if (reduction == "sum") return sum(loss);
  return div(sum(loss), sum(weight));
}

}  // namespace

Outputs lower_gather_elements(const Node& n) {
  Value x = n.input(0, 1, 8);
  const int axis = n.axis("axis", 0, x.shape().size());
  if (!n.known(1)) return {gather_elements(x, n.input(1), axis)};  // computed at run time
  const std::optional<Shape> shape = n.known_shape(1);
  if (!shape) n.malformed("input 1 is not defined");
  return {gather_elements(x, n.constant_value("indices", index_floats(n, 1, *shape)), axis)};
}

Outputs lower_nll_loss(const Node& n) {
  return {nll(n, n.input(0), 2)};
}

Outputs lower_softmax_cross_entropy(const Node& n) {
  const Value log_prob = log_softmax(n.input(0, 2, 8), 1);
  return {nll(n, log_prob, 2), log_prob};
}

}  // namespace clnn::onnx::detail
