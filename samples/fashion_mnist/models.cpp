// The Fashion-MNIST models.
#include "models.hpp"

#include "clnn/error.hpp"
#include "clnn/nn.hpp"

namespace clnn::samples {

namespace {

Value default_model(Graph& g, const Value& images) {
  nn::Sequential net;
  net.emplace<nn::Conv2d>(g, "conv1", 1, 16, 5, nn::ConvLayerOptions{1, 2});
  net.emplace<nn::ReLU>();
  net.emplace<nn::MaxPool>(2);
  net.emplace<nn::Conv2d>(g, "conv2", 16, 32, 5, nn::ConvLayerOptions{1, 2});
  net.emplace<nn::ReLU>();
  net.emplace<nn::MaxPool>(2);
  net.emplace<nn::Flatten>();
  net.emplace<nn::Linear>(g, "fc", 32 * 7 * 7, 10);
  return net(images);
}

Value large_model(Graph& g, const Value& images) {
  nn::Sequential net;
  auto conv_bn_relu = [&](const std::string& name, std::int64_t in, std::int64_t out) {
    net.emplace<nn::Conv2d>(g, name, in, out, 3, nn::ConvLayerOptions{1, 1, 1, 1, false});
    net.emplace<nn::BatchNorm>(g, name + "_bn", out);
    net.emplace<nn::ReLU>();
  };
  conv_bn_relu("conv1", 1, 32);
  conv_bn_relu("conv2", 32, 32);
  net.emplace<nn::MaxPool>(2);
  conv_bn_relu("conv3", 32, 64);
  conv_bn_relu("conv4", 64, 64);
  net.emplace<nn::MaxPool>(2);
  net.emplace<nn::Flatten>();
  net.emplace<nn::Linear>(g, "fc1", 64 * 7 * 7, 256);
  net.emplace<nn::ReLU>();
  net.emplace<nn::Dropout>(0.3f, 17);
  net.emplace<nn::Linear>(g, "fc2", 256, 10);
  return net(images);
}

}  // namespace

train::Model fashion_model(const std::string& name) {
  if (name == "default") return default_model;
  if (name == "large") return large_model;
  throw Error("unknown model '" + name + "' (use default or large)");
}

}  // namespace clnn::samples
