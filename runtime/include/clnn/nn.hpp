// Layers: objects that own their parameters and build their part of a graph, with PyTorch-like
// defaults (weights Kaiming-uniform as PyTorch initializes them, bias on), and Sequential.
//
//   clnn::Graph g;
//   clnn::nn::Sequential net;
//   net.emplace<clnn::nn::Conv2d>(g, "conv1", 1, 32, 5, clnn::nn::ConvLayerOptions{1, 2});
//   net.emplace<clnn::nn::ReLU>();
//   net.emplace<clnn::nn::MaxPool>(2);
//   net.emplace<clnn::nn::Flatten>();
//   net.emplace<clnn::nn::Linear>(g, "fc", 32 * 14 * 14, 10);
//   clnn::Value logits = net(g.input("x", {64, 1, 28, 28}));
//
// Parameters are named "<layer>.weight" and "<layer>.bias"; batch norm adds "<layer>.gamma",
// "<layer>.beta" and the state "<layer>.running_mean" and "<layer>.running_var". A layer's seed
// defaults to a hash of its name, so a network initializes the same way every time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "clnn/graph.hpp"
#include "clnn/ops.hpp"

namespace clnn::nn {

class Module {
 public:
  virtual ~Module() = default;
  virtual Value forward(const Value& x) = 0;
  Value operator()(const Value& x) { return forward(x); }
};

// x [N, in] (or [B, T, in]) -> x W + b with W [in, out].
class Linear : public Module {
 public:
  Linear(Graph& g, const std::string& name, std::int64_t in_features, std::int64_t out_features,
         bool bias = true, std::uint64_t seed = 0);
  Value forward(const Value& x) override;
  Value weight;
  std::optional<Value> bias;
};

// The same stride, padding and dilation along every spatial dimension.
struct ConvLayerOptions {
  std::int64_t stride = 1;
  std::int64_t padding = 0;
  std::int64_t dilation = 1;
  std::int64_t groups = 1;
  bool bias = true;
};

// A convolution over `dims` spatial dimensions with a cubic kernel.
class Conv : public Module {
 public:
  Conv(Graph& g, const std::string& name, int dims, std::int64_t in_channels,
       std::int64_t out_channels, std::int64_t kernel, ConvLayerOptions options = {},
       std::uint64_t seed = 0);
  Value forward(const Value& x) override;
  Value weight;
  std::optional<Value> bias;

 private:
  ConvOptions options_;
};

class Conv1d : public Conv {
 public:
  Conv1d(Graph& g, const std::string& name, std::int64_t in, std::int64_t out, std::int64_t kernel,
         ConvLayerOptions options = {}, std::uint64_t seed = 0)
      : Conv(g, name, 1, in, out, kernel, options, seed) {}
};
class Conv2d : public Conv {
 public:
  Conv2d(Graph& g, const std::string& name, std::int64_t in, std::int64_t out, std::int64_t kernel,
         ConvLayerOptions options = {}, std::uint64_t seed = 0)
      : Conv(g, name, 2, in, out, kernel, options, seed) {}
};
class Conv3d : public Conv {
 public:
  Conv3d(Graph& g, const std::string& name, std::int64_t in, std::int64_t out, std::int64_t kernel,
         ConvLayerOptions options = {}, std::uint64_t seed = 0)
      : Conv(g, name, 3, in, out, kernel, options, seed) {}
};

// Pooling with a cubic window over however many spatial dimensions the input has; the stride
// defaults to the kernel.
class MaxPool : public Module {
 public:
  explicit MaxPool(std::int64_t kernel, std::int64_t stride = 0, std::int64_t padding = 0,
                   bool ceil_mode = false);
  Value forward(const Value& x) override;

 private:
  std::int64_t kernel_, stride_, padding_;
  bool ceil_mode_;
};

class AvgPool : public Module {
 public:
  explicit AvgPool(std::int64_t kernel, std::int64_t stride = 0, std::int64_t padding = 0,
                   bool ceil_mode = false, bool count_include_pad = true);
  Value forward(const Value& x) override;

 private:
  std::int64_t kernel_, stride_, padding_;
  bool ceil_mode_, count_include_pad_;
};

class BatchNorm : public Module {
 public:
  BatchNorm(Graph& g, const std::string& name, std::int64_t channels, float momentum = 0.1f,
            float eps = 1e-5f);
  Value forward(const Value& x) override;
  Value gamma, beta, running_mean, running_var;

 private:
  float momentum_, eps_;
};

class Dropout : public Module {
 public:
  Dropout(float p, std::uint64_t seed) : p_(p), seed_(seed) {}
  Value forward(const Value& x) override { return dropout(x, p_, seed_); }

 private:
  float p_;
  std::uint64_t seed_;
};

// [N, ...] -> [N, prod(...)].
class Flatten : public Module {
 public:
  Value forward(const Value& x) override { return flatten(x, 1); }
};

class ReLU : public Module {
 public:
  Value forward(const Value& x) override { return relu(x); }
};
class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(float slope = 0.01f) : slope_(slope) {}
  Value forward(const Value& x) override { return leaky_relu(x, slope_); }

 private:
  float slope_;
};
class Sigmoid : public Module {
 public:
  Value forward(const Value& x) override { return sigmoid(x); }
};
class Tanh : public Module {
 public:
  Value forward(const Value& x) override { return clnn::tanh(x); }
};
class ELU : public Module {
 public:
  explicit ELU(float alpha = 1.0f) : alpha_(alpha) {}
  Value forward(const Value& x) override { return elu(x, alpha_); }

 private:
  float alpha_;
};
class GELU : public Module {
 public:
  Value forward(const Value& x) override { return gelu(x); }
};

// Normalizes the last dimensions (normalized_shape) of x; weight (gamma) starts at 1 and bias
// (beta) at 0, named "<layer>.weight" and "<layer>.bias" as PyTorch names them.
class LayerNorm : public Module {
 public:
  LayerNorm(Graph& g, const std::string& name, const Shape& normalized_shape, float eps = 1e-5f);
  Value forward(const Value& x) override;
  Value weight, bias;

 private:
  int axis_;
  float eps_;
};

// indices [...] (floats holding whole numbers) -> rows of weight [count, dim], N(0, 1) as in
// PyTorch: [..., dim].
class Embedding : public Module {
 public:
  Embedding(Graph& g, const std::string& name, std::int64_t count, std::int64_t dim,
            std::uint64_t seed = 0);
  Value forward(const Value& indices) override { return embedding(weight, indices); }
  Value weight;
};

// Multi-head attention over [batch, length, embed_dim] (batch first): q, k and v projections,
// heads of embed_dim / heads, the fused scaled_dot_product_attention, and an output projection
// ("<layer>.q", ".k", ".v", ".out", each a Linear). forward(x) is self-attention.
class MultiheadAttention : public Module {
 public:
  MultiheadAttention(Graph& g, const std::string& name, std::int64_t embed_dim, std::int64_t heads,
                     bool bias = true, std::uint64_t seed = 0);
  Value forward(const Value& x) override { return attend(x, x, x); }
  // The mask is added to each head's scores [batch, heads, lq, lk] (broadcasting).
  Value attend(const Value& query, const Value& key, const Value& value,
               const std::optional<Value>& mask = std::nullopt, bool causal = false);
  Linear q, k, v, out;

 private:
  // [batch, length, embed_dim] -> [batch, heads, length, head size], and back.
  Value split_heads(const Value& x) const;
  Value merge_heads(const Value& x) const;
  std::int64_t heads_;
};

struct TransformerOptions {
  std::int64_t feedforward = 2048;  // the hidden size of the feed-forward block
  float dropout = 0.1f;
  bool gelu = false;        // the feed-forward activation: GELU, else ReLU (PyTorch's default)
  bool norm_first = false;  // layer norm before each block (pre-norm, as ViT), else after
  float eps = 1e-5f;
};

// PyTorch's TransformerEncoderLayer (batch first): self-attention and a feed-forward block, each
// with dropout and a residual connection, with layer norm after (or before) each.
class TransformerEncoderLayer : public Module {
 public:
  TransformerEncoderLayer(Graph& g, const std::string& name, std::int64_t d_model,
                          std::int64_t heads, TransformerOptions options = {},
                          std::uint64_t seed = 0);
  Value forward(const Value& x) override;
  MultiheadAttention attention;
  Linear linear1, linear2;
  LayerNorm norm1, norm2;

 private:
  Value feedforward(const Value& x);
  TransformerOptions options_;
  std::uint64_t seed_;
};

// Layers applied in order.
class Sequential : public Module {
 public:
  Sequential& add(std::shared_ptr<Module> layer);
  // Constructs a layer in place: net.emplace<Linear>(g, "fc", 128, 10).
  template <typename Layer, typename... Args>
  Layer& emplace(Args&&... args) {
    auto layer = std::make_shared<Layer>(std::forward<Args>(args)...);
    add(layer);
    return *layer;
  }
  Value forward(const Value& x) override;
  std::size_t size() const { return layers_.size(); }

 private:
  std::vector<std::shared_ptr<Module>> layers_;
};

}  // namespace clnn::nn
