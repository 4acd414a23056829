// The nn layers: parameter creation with PyTorch's default initialization, and forward.
#include <cmath>

#include "clnn/error.hpp"
#include "clnn/init.hpp"
#include "clnn/nn.hpp"
#include "nn/layer_seed.hpp"

namespace clnn::nn {

namespace {

using detail_seed::layer_seed;

void check_positive(std::int64_t value, const std::string& layer, const char* what) {
  if (value <= 0) throw Error(layer + ": " + what + " must be positive");
}

// Weight with PyTorch's kaiming_uniform(a = sqrt(5)) and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
Value default_weight(Graph& g, const std::string& name, const Shape& shape, std::uint64_t seed) {
  return g.parameter(name + ".weight", shape, init::kaiming_uniform(seed, std::sqrt(5.0f)));
}

Value default_bias(Graph& g, const std::string& name, const Shape& weight_shape, std::int64_t size,
                   std::uint64_t seed) {
  const float bound = float(1.0 / std::sqrt(init::fans(weight_shape).in));
  return g.parameter(name + ".bias", {size}, init::uniform(-bound, bound, seed + 1));
}

PoolOptions cubic_pool(const Value& x, std::int64_t kernel, std::int64_t stride,
                       std::int64_t padding, bool ceil_mode) {
  const std::size_t dims = x.shape().size() < 3 ? 0 : x.shape().size() - 2;
  PoolOptions o;
  o.kernel.assign(dims, kernel);
  o.strides.assign(dims, stride > 0 ? stride : kernel);
  o.pads_begin.assign(dims, padding);
  o.pads_end.assign(dims, padding);
  o.ceil_mode = ceil_mode;
  return o;
}

}  // namespace

Linear::Linear(Graph& g, const std::string& name, std::int64_t in_features,
               std::int64_t out_features, bool with_bias, std::uint64_t seed) {
  check_positive(in_features, name, "in_features");
  check_positive(out_features, name, "out_features");
  seed = layer_seed(name, seed);
  const Shape shape{in_features, out_features};
  weight = default_weight(g, name, shape, seed);
  if (with_bias) bias = default_bias(g, name, shape, out_features, seed);
}

// A batch of rows takes the bias in the product (one node, exported as Gemm); tokens (3-D) take
// it in an add, which exports as one node too.
Value Linear::forward(const Value& x) {
  if (bias && x.shape().size() == 2) return matmul(x, weight, *bias);
  Value y = matmul(x, weight);
  return bias ? add(y, *bias) : y;
}

Conv::Conv(Graph& g, const std::string& name, int dims, std::int64_t in_channels,
           std::int64_t out_channels, std::int64_t kernel, ConvLayerOptions o, std::uint64_t seed) {
  if (dims < 1 || dims > 3) throw Error(name + ": convolutions have 1, 2 or 3 dimensions");
  check_positive(in_channels, name, "in_channels");
  check_positive(out_channels, name, "out_channels");
  check_positive(kernel, name, "kernel");
  check_positive(o.groups, name, "groups");
  if (in_channels % o.groups != 0 || out_channels % o.groups != 0)
    throw Error(name + ": channels must be divisible by groups");
  seed = layer_seed(name, seed);
  Shape shape{out_channels, in_channels / o.groups};
  shape.insert(shape.end(), std::size_t(dims), kernel);
  weight = default_weight(g, name, shape, seed);
  if (o.bias) bias = default_bias(g, name, shape, out_channels, seed);
  const auto d = std::size_t(dims);
  options_.strides.assign(d, o.stride);
  options_.pads_begin.assign(d, o.padding);
  options_.pads_end.assign(d, o.padding);
  options_.dilations.assign(d, o.dilation);
  options_.groups = o.groups;
}

Value Conv::forward(const Value& x) {
  return conv(x, weight, bias, options_);
}

MaxPool::MaxPool(std::int64_t kernel, std::int64_t stride, std::int64_t padding, bool ceil_mode)
    : kernel_(kernel), stride_(stride), padding_(padding), ceil_mode_(ceil_mode) {}

Value MaxPool::forward(const Value& x) {
  return max_pool(x, cubic_pool(x, kernel_, stride_, padding_, ceil_mode_));
}

AvgPool::AvgPool(std::int64_t kernel, std::int64_t stride, std::int64_t padding, bool ceil_mode,
                 bool count_include_pad)
    : kernel_(kernel),
      stride_(stride),
      padding_(padding),
      ceil_mode_(ceil_mode),
      count_include_pad_(count_include_pad) {}

Value AvgPool::forward(const Value& x) {
  PoolOptions o = cubic_pool(x, kernel_, stride_, padding_, ceil_mode_);
  o.count_include_pad = count_include_pad_;
  return avg_pool(x, o);
}

BatchNorm::BatchNorm(Graph& g, const std::string& name, std::int64_t channels, float momentum,
                     float eps)
    : momentum_(momentum), eps_(eps) {
  check_positive(channels, name, "channels");
  gamma = g.parameter(name + ".gamma", {channels}, init::constant(1.0f));
  beta = g.parameter(name + ".beta", {channels}, init::zeros());
  running_mean = g.state(name + ".running_mean", {channels}, init::zeros());
  running_var = g.state(name + ".running_var", {channels}, init::constant(1.0f));
}

Value BatchNorm::forward(const Value& x) {
  return batch_norm(x, gamma, beta, running_mean, running_var, momentum_, eps_);
}

Sequential& Sequential::add(std::shared_ptr<Module> layer) {
  if (!layer) throw Error("Sequential::add: no layer");
  layers_.push_back(std::move(layer));
  return *this;
}

Value Sequential::forward(const Value& x) {
  Value y = x;
  for (auto& layer : layers_) y = layer->forward(y);
  return y;
}

}  // namespace clnn::nn
