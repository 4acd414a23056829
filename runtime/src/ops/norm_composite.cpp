// instance_norm, group_norm, and layer_norm with its statistics as values (ONNX's optional
// outputs), composed of reductions and elementwise operators, each with its kernels and gradient.
// Plain layer_norm is the fused operator of ops/layer_norm.cpp.
#include <numeric>

#include "clnn/error.hpp"
#include "clnn/ops.hpp"
#include "ops/norm_composite.hpp"
#include "ops/shape_util.hpp"

namespace clnn {

namespace {

// (x - mean) / sqrt(var + eps) over `axes` (kept as extent-1 dimensions for broadcasting).
detail::Standardized standardize(const Value& x, const std::vector<int>& axes, float eps) {
  detail::Standardized s;
  s.mean = mean(x, axes, true);
  const Value centered = sub(x, s.mean);
  const Value variance = mean(mul(centered, centered), axes, true);
  s.inv_std = reciprocal(sqrt(add(variance, eps)));
  s.y = mul(centered, s.inv_std);
  return s;
}

}  // namespace

namespace detail {

void check_layer_norm(const Shape& x, const Shape& gamma, const Shape* beta, int axis, float eps) {
  const std::size_t first = detail::normalize_axis(axis, x.size(), "layer_norm");
  const Shape normalized(x.begin() + std::ptrdiff_t(first), x.end());
  if (gamma != normalized || (beta && *beta != normalized))
    throw ShapeError("layer_norm: gamma " + to_string(gamma) +
                     (beta ? " and beta " + to_string(*beta) : std::string()) +
                     " must have the normalized shape " + to_string(normalized));
  if (!(eps >= 0.0f)) throw Error("layer_norm: eps must not be negative");
}

Standardized layer_norm_parts(const Value& x, const Value& gamma, const std::optional<Value>& beta,
                              int axis, float eps) {
  check_layer_norm(x.shape(), gamma.shape(), beta ? &beta->shape() : nullptr, axis, eps);
  const std::size_t rank = x.shape().size();
  const std::size_t first = detail::normalize_axis(axis, rank, "layer_norm");
  std::vector<int> axes(rank - first);
  std::iota(axes.begin(), axes.end(), int(first));
  Standardized s = standardize(x, axes, eps);
  s.y = mul(s.y, gamma);
  if (beta) s.y = add(s.y, *beta);
  return s;
}

}  // namespace detail

namespace {

// x [N, C, spatial...] standardized over each group of C / groups channels with their spatial
// positions, then scaled and shifted per channel by gamma [C] and beta [C].
Value grouped_norm(const std::string& name, const Value& x, std::int64_t groups, const Value& gamma,
                   const Value& beta, float eps) {
  const Shape& s = x.shape();
  if (s.size() < 3) throw ShapeError(name + ": x " + to_string(s) + " needs [N, C, spatial...]");
  if (gamma.shape() != Shape{s[1]} || beta.shape() != Shape{s[1]})
    throw ShapeError(name + ": gamma " + to_string(gamma.shape()) + " and beta " +
                     to_string(beta.shape()) + " must have one value per channel of " +
                     to_string(s));
  if (groups < 1 || s[1] % groups != 0)
    throw ShapeError(name + ": " + std::to_string(groups) + " groups do not divide the " +
                     std::to_string(s[1]) + " channels of " + to_string(s));
  if (!(eps >= 0.0f)) throw Error(name + ": eps must not be negative");
  const Value grouped = reshape(x, {s[0], groups, -1});
  const Value y = reshape(standardize(grouped, {2}, eps).y, s);
  Shape per_channel(s.size() - 1, 1);
  per_channel[0] = s[1];
  return add(mul(y, reshape(gamma, per_channel)), reshape(beta, per_channel));
}

}  // namespace

Value instance_norm(const Value& x, const Value& gamma, const Value& beta, float eps) {
  const Shape& s = x.shape();
  return grouped_norm("instance_norm", x, s.size() < 2 ? 1 : s[1], gamma, beta, eps);
}

Value group_norm(const Value& x, std::int64_t groups, const Value& gamma, const Value& beta,
                 float eps) {
  return grouped_norm("group_norm", x, groups, gamma, beta, eps);
}

}  // namespace clnn
