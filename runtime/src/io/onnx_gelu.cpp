// GELU as exporters write it, found at its last Mul and run as the gelu operator (one kernel
// instead of five, each a pass over the activations):
//
//   x * (Erf(x / sqrt(2)) + 1) * 0.5, the products in any order and grouping,
//   the division possibly a product with 1 / sqrt(2).
//
// The unfused nodes stay in the graph; no executor runs them once nothing reads them.
#include <algorithm>
#include <cmath>
#include <vector>

#include "clnn/ops.hpp"
#include "io/onnx_lowerings.hpp"
#include "io/onnx_patterns.hpp"

namespace clnn::onnx::detail {

namespace {

// How deep the products of the pattern nest: ((x * s) * 0.5) is two levels below the last Mul.
constexpr int kMaxProductDepth = 2;

bool close_to(float value, double expected) {
  return std::abs(double(value) - expected) <= 1e-6 * std::abs(expected);
}

// The scalars of the pattern: their product, and their highest rank (the fused result keeps x's
// shape only where none has more dimensions than x).
struct Scalars {
  float product = 1.0f;
  std::size_t rank = 0;
  std::optional<float> take(ValueSource& source, const std::string& name) {
    const std::optional<float> c = known_scalar(source, name);
    if (c) rank = std::max(rank, source.constant(name)->shape.size());
    return c;
  }
};

// The factors of a product through nested Muls: scalars known at load multiplied into
// `scalars`, the rest by name.
void collect_factors(ValueSource& source, const std::string& name, int depth,
                     std::vector<std::string>& factors, Scalars& scalars) {
  if (const std::optional<float> c = scalars.take(source, name)) {
    scalars.product *= *c;
    return;
  }
  const ::onnx::NodeProto* mul = depth > 0 ? produced_by(source, name, "Mul") : nullptr;
  if (mul && mul->input_size() == 2) {
    for (int i = 0; i < 2; ++i) collect_factors(source, mul->input(i), depth - 1, factors, scalars);
    return;
  }
  factors.push_back(name);
}

// The x of Erf(x / sqrt(2)) + 1 (either order of the sum; the division possibly a product with
// 1 / sqrt(2)), or an empty name.
std::string erf_argument(ValueSource& source, const std::string& name, Scalars& scalars) {
  const ::onnx::NodeProto* add = produced_by(source, name, "Add");
  if (!add || add->input_size() != 2) return {};
  for (int i = 0; i < 2; ++i) {
    const ::onnx::NodeProto* erf = produced_by(source, add->input(i), "Erf");
    if (!erf || erf->input_size() != 1) continue;
    const std::optional<float> one = scalars.take(source, add->input(1 - i));
    if (!one || *one != 1.0f) return {};
    const std::string& scaled = erf->input(0);
    if (const ::onnx::NodeProto* div = produced_by(source, scaled, "Div")) {
      const std::optional<float> d =
          div->input_size() == 2 ? scalars.take(source, div->input(1)) : std::nullopt;
      return d && close_to(*d, std::sqrt(2.0)) ? div->input(0) : std::string();
    }
    const ::onnx::NodeProto* mul = produced_by(source, scaled, "Mul");
    if (!mul || mul->input_size() != 2) return {};
    for (int j = 0; j < 2; ++j)
      if (const std::optional<float> f = scalars.take(source, mul->input(j)))
        return close_to(*f, 1.0 / std::sqrt(2.0)) ? mul->input(1 - j) : std::string();
    return {};
  }
  return {};
}

}  // namespace

std::optional<Value> fused_gelu(const Node& n) {
  if (n.input_count() != 2) return std::nullopt;  // the plain path says what is wrong
  ValueSource& source = n.source();
  std::vector<std::string> factors;
  Scalars scalars;
  for (int i = 0; i < 2; ++i)
    collect_factors(source, n.proto().input(i), kMaxProductDepth, factors, scalars);
  if (factors.size() != 2 || !close_to(scalars.product, 0.5)) return std::nullopt;
  for (std::size_t f = 0; f < 2; ++f) {
    const std::string x = erf_argument(source, factors[f], scalars);
    if (x.empty() || x != factors[1 - f]) continue;
    const Value v = source.value(x, n.where(), false);
    if (v.shape().size() < scalars.rank) return std::nullopt;
    return gelu(v);
  }
  return std::nullopt;
}

}  // namespace clnn::onnx::detail
