// Attention as exporters write it, found at its last MatMul and run as the fused operator:
//
//   MatMul(Softmax(MatMul(Q [* a], Transpose(K) [* b]) [* c or / c] [+ mask]..., axis -1), V)
//
// (PyTorch scales both Q and K^T by the square root of the scale; older graphs divide the
// scores.) Masks may be added to the scores seen, between two Reshapes, as [images, windows,
// ...]: Swin's shifted windows add a mask per window of each image, which the fused operator
// takes as a mask repeating along the scores' first dimension. scaled_dot_product_attention never
// holds the scores; the unfused nodes stay in the graph but no executor runs them once nothing
// reads them.
#include <cmath>

#include "clnn/ops.hpp"
#include "io/onnx_lowerings.hpp"
#include "io/onnx_patterns.hpp"

namespace clnn::onnx::detail {

namespace {

// The attention kernel's limits (ops/attention.cpp): two batch dimensions, head sizes to 256.
constexpr std::size_t kMaxRank = 4;
constexpr std::int64_t kMaxHeadSize = 256;

// Whether a Transpose node swaps the last two of `rank` dimensions and nothing else.
bool swaps_last_two(const ::onnx::NodeProto& t, std::size_t rank) {
  std::vector<std::int64_t> perm;
  for (const auto& a : t.attribute())
    if (a.name() == "perm") perm.assign(a.ints().begin(), a.ints().end());
  if (perm.size() != rank || rank < 2) return false;
  for (std::size_t d = 0; d + 2 < rank; ++d)
    if (perm[d] != std::int64_t(d)) return false;
  return perm[rank - 2] == std::int64_t(rank - 1) && perm[rank - 1] == std::int64_t(rank - 2);
}

int softmax_axis(const ::onnx::NodeProto& softmax) {
  for (const auto& a : softmax.attribute())
    if (a.name() == "axis") return int(a.i());
  return -1;
}

// Whether a Reshape from `in` to `out` splits the first dimension in two, the rest unchanged.
bool splits_first(const Shape& in, const Shape& out) {
  return out.size() == in.size() + 1 && !in.empty() && out[0] * out[1] == in[0] &&
         std::equal(in.begin() + 1, in.end(), out.begin() + 2);
}

// A mask added to the scores seen as [images, windows, ...] (`split`) as a mask of the scores:
// without the images' dimension, along which it must be broadcast, it repeats every `windows`
// entries of their first dimension. nullopt where it is not broadcast along the images.
std::optional<Value> per_window(const Value& term, const Shape& split) {
  const Shape& shape = term.shape();
  if (shape.size() < split.size()) return term;  // right-aligned below the images' dimension
  if (shape.size() > split.size() || shape[0] != 1) return std::nullopt;
  return reshape(term, Shape(shape.begin() + 1, shape.end()));
}

// Peels the masks added to the scores off `scores` into `mask` (their sum): Adds whose other
// operand is not a product, a scale or a division, and pairs of Reshapes between which the
// scores are seen split as [images, windows, ...]. False where the pattern is not there.
bool peel_masks(const Node& n, std::string& scores, std::optional<Value>& mask) {
  ValueSource& source = n.source();
  // How surely an Add's operand is the scores: made by a product, a scale or a division (2), or
  // by a Reshape or an Add (1, as a mask may be: a bias, then a mask), or not (0).
  auto scored = [&](const std::string& name) {
    if (produced_by(source, name, "MatMul") || produced_by(source, name, "Mul") ||
        produced_by(source, name, "Div"))
      return 2;
    return produced_by(source, name, "Reshape") || produced_by(source, name, "Add") ? 1 : 0;
  };
  std::optional<Shape> split;  // the scores' shape seen split, walking back between the Reshapes
  for (;;) {
    if (const ::onnx::NodeProto* add = produced_by(source, scores, "Add"); add) {
      if (add->input_size() != 2) return false;
      const int first = scored(add->input(0)), second = scored(add->input(1));
      if (first == 0 && second == 0) return false;
      const int at = first >= second ? 0 : 1;
      std::optional<Value> term = source.value(add->input(1 - at), n.where(), false);
      if (split) term = per_window(*term, *split);
      if (!term) return false;
      mask = mask ? clnn::add(*mask, *term) : *term;
      scores = add->input(at);
      continue;
    }
    const ::onnx::NodeProto* r = produced_by(source, scores, "Reshape");
    if (!r || r->input_size() < 1) break;
    const std::optional<Shape> out = source.shape_of(scores), in = source.shape_of(r->input(0));
    if (!out || !in) return false;
    if (!split && splits_first(*out, *in)) {
      split = in;  // walking back into the split view
    } else if (split && *out == *split && splits_first(*in, *out)) {
      split.reset();  // and out of it
    } else {
      break;
    }
    scores = r->input(0);
  }
  return !split;
}

// The fused operator for the pattern ending at MatMul n, or nullopt where it is not there.
std::optional<Value> match_attention(const Node& n) {
  ValueSource& source = n.source();
  if (n.input_count() != 2) return std::nullopt;  // the plain path says what is wrong
  const std::string& probabilities = n.proto().input(0);
  const ::onnx::NodeProto* softmax = produced_by(source, probabilities, "Softmax");
  if (!softmax || softmax->input_size() != 1 || n.opset() < 13) return std::nullopt;
  const Shape v_shape = n.input(1).shape();
  const std::size_t rank = v_shape.size();
  if (rank < 3 || rank > kMaxRank) return std::nullopt;
  const int axis = softmax_axis(*softmax);
  if (axis != -1 && axis != int(rank) - 1) return std::nullopt;
  // The scores: masks added, an optional scale, the product.
  std::string scores = softmax->input(0);
  std::optional<Value> mask;
  if (!peel_masks(n, scores, mask)) return std::nullopt;
  float scale = 1.0f;
  if (const ::onnx::NodeProto* div = produced_by(source, scores, "Div"); div) {
    const std::optional<float> d =
        div->input_size() == 2 ? known_scalar(source, div->input(1)) : std::nullopt;
    if (!d || *d == 0.0f) return std::nullopt;
    scale /= *d;
    scores = div->input(0);
  } else {
    scores = unscaled(source, scores, scale);
  }
  const ::onnx::NodeProto* product = produced_by(source, scores, "MatMul");
  if (!product || product->input_size() != 2) return std::nullopt;
  const std::string q_name = unscaled(source, product->input(0), scale);
  const std::string kt_name = unscaled(source, product->input(1), scale);
  const Value q = source.value(q_name, n.where(), false);
  const ::onnx::NodeProto* transpose_k = produced_by(source, kt_name, "Transpose");
  const bool swapped =
      transpose_k && transpose_k->input_size() == 1 && swaps_last_two(*transpose_k, rank);
  const Value k = swapped ? source.value(transpose_k->input(0), n.where(), false)
                          : transpose(source.value(kt_name, n.where(), false));
  const Value v = n.input(1);
  // Shapes the fused operator takes: equal batch dimensions, [.., L, D], [.., S, D], [.., S, Dv].
  const Shape &qs = q.shape(), &ks = k.shape();
  if (qs.size() != rank || ks.size() != rank || !std::isfinite(scale) || scale == 0.0f)
    return std::nullopt;
  for (std::size_t d = 0; d + 2 < rank; ++d)
    if (qs[d] != v_shape[d] || ks[d] != v_shape[d]) return std::nullopt;
  const std::int64_t head = qs[rank - 1], keys = ks[rank - 2];
  if (ks[rank - 1] != head || v_shape[rank - 2] != keys || head > kMaxHeadSize ||
      v_shape[rank - 1] > kMaxHeadSize)
    return std::nullopt;
  return scaled_dot_product_attention(q, k, v, mask, false, scale);
}

}  // namespace

std::optional<Value> fused_attention(const Node& n) {
  if (!n.source().fuse_attention()) return std::nullopt;
  // Anything the pattern cannot take (an integer mask, a mask that does not broadcast, ...)
  // leaves the MatMul to the plain path, which reports what is wrong with the graph, if anything.
  try {
    return match_attention(n);
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace clnn::onnx::detail
