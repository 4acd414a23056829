// The transformer layers: LayerNorm, Embedding, MultiheadAttention and TransformerEncoderLayer,
// built from the fused operators (layer_norm, embedding, scaled_dot_product_attention).
#include <string>

#include "clnn/error.hpp"
#include "clnn/init.hpp"
#include "clnn/nn.hpp"
#include "nn/layer_seed.hpp"

namespace clnn::nn {

namespace {

using detail_seed::layer_seed;
using detail_seed::part_seed;

// The shape LayerNorm normalizes, checked before any parameter is made.
const Shape& normalized(const std::string& name, const Shape& shape) {
  if (shape.empty()) throw Error(name + ": normalized_shape must not be empty");
  return shape;
}

Value maybe_dropout(const Value& x, float p, std::uint64_t seed) {
  return p > 0.0f ? dropout(x, p, seed) : x;
}

}  // namespace

LayerNorm::LayerNorm(Graph& g, const std::string& name, const Shape& normalized_shape, float eps)
    : weight(
          g.parameter(name + ".weight", normalized(name, normalized_shape), init::constant(1.0f))),
      bias(g.parameter(name + ".bias", normalized_shape, init::zeros())),
      axis_(-int(normalized_shape.size())),
      eps_(eps) {}

Value LayerNorm::forward(const Value& x) {
  return layer_norm(x, weight, bias, axis_, eps_);
}

Embedding::Embedding(Graph& g, const std::string& name, std::int64_t count, std::int64_t dim,
                     std::uint64_t seed)
    : weight(g.parameter(name + ".weight", {count, dim},
                         init::normal(1.0f, layer_seed(name, seed)))) {}

MultiheadAttention::MultiheadAttention(Graph& g, const std::string& name, std::int64_t embed_dim,
                                       std::int64_t heads, bool bias, std::uint64_t seed)
    : q(g, name + ".q", embed_dim, embed_dim, bias, part_seed(seed, 0)),
      k(g, name + ".k", embed_dim, embed_dim, bias, part_seed(seed, 1)),
      v(g, name + ".v", embed_dim, embed_dim, bias, part_seed(seed, 2)),
      out(g, name + ".out", embed_dim, embed_dim, bias, part_seed(seed, 3)),
      heads_(heads) {
  if (heads <= 0 || embed_dim % heads != 0)
    throw Error(name + ": embed_dim " + std::to_string(embed_dim) +
                " must be a positive multiple of heads " + std::to_string(heads));
}

Value MultiheadAttention::split_heads(const Value& x) const {
  const Shape& s = x.shape();
  if (s.size() != 3)
    throw ShapeError("MultiheadAttention: inputs must be [batch, length, embed_dim], not " +
                     to_string(s));
  return transpose(reshape(x, {s[0], s[1], heads_, s[2] / heads_}), {0, 2, 1, 3});
}

Value MultiheadAttention::merge_heads(const Value& x) const {
  const Shape& s = x.shape();
  return reshape(transpose(x, {0, 2, 1, 3}), {s[0], s[2], s[1] * s[3]});
}

Value MultiheadAttention::attend(const Value& query, const Value& key, const Value& value,
                                 const std::optional<Value>& mask, bool causal) {
  const Value heads = scaled_dot_product_attention(split_heads(q(query)), split_heads(k(key)),
                                                   split_heads(v(value)), mask, causal);
  return out(merge_heads(heads));
}

TransformerEncoderLayer::TransformerEncoderLayer(Graph& g, const std::string& name,
                                                 std::int64_t d_model, std::int64_t heads,
                                                 TransformerOptions options, std::uint64_t seed)
    : attention(g, name + ".attention", d_model, heads, true, part_seed(seed, 0)),
      linear1(g, name + ".linear1", d_model, options.feedforward, true, part_seed(seed, 4)),
      linear2(g, name + ".linear2", options.feedforward, d_model, true, part_seed(seed, 5)),
      norm1(g, name + ".norm1", {d_model}, options.eps),
      norm2(g, name + ".norm2", {d_model}, options.eps),
      options_(options),
      seed_(layer_seed(name, seed)) {
  if (!(options.dropout >= 0.0f && options.dropout < 1.0f))
    throw Error(name + ": dropout must be in [0, 1)");
}

Value TransformerEncoderLayer::feedforward(const Value& x) {
  const Value hidden = linear1(x);
  const Value active = options_.gelu ? gelu(hidden) : relu(hidden);
  return maybe_dropout(linear2(maybe_dropout(active, options_.dropout, seed_ + 1)),
                       options_.dropout, seed_ + 2);
}

Value TransformerEncoderLayer::forward(const Value& x) {
  const float p = options_.dropout;
  if (options_.norm_first) {
    const Value h = add(x, maybe_dropout(attention(norm1(x)), p, seed_));
    return add(h, feedforward(norm2(h)));
  }
  const Value h = norm1(add(x, maybe_dropout(attention(x), p, seed_)));
  return norm2(add(h, feedforward(h)));
}

}  // namespace clnn::nn
