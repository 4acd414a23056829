// nn layers: parameters, PyTorch's default initialization, and a small CNN that learns.
#include <catch2/catch.hpp>

#include <cmath>

#include "support.hpp"

using namespace clnn;
using clnn::test::context;
using clnn::test::random_vector;

TEST_CASE("layers create named parameters with PyTorch's default initialization", "[nn]") {
  Graph g;
  nn::Linear fc(g, "fc", 50, 10);
  nn::Conv2d conv(g, "conv", 3, 8, 5, {1, 2});
  nn::BatchNorm bn(g, "bn", 8);
  CHECK(fc.weight.name() == "fc.weight");
  CHECK(fc.weight.shape() == Shape{50, 10});
  CHECK(fc.bias->shape() == Shape{10});
  CHECK(conv.weight.shape() == Shape{8, 3, 5, 5});
  CHECK(bn.running_var.name() == "bn.running_var");

  Value x = g.input("x", {2, 50});
  Executor ex(context(), g, {fc(x)}, Mode::inference);
  auto w = ex.parameter("fc.weight").to_host();
  const double bound = 1.0 / std::sqrt(50.0);
  double sq = 0;
  for (float v : w) {
    CHECK(std::fabs(v) <= bound);
    sq += double(v) * v;
  }
  CHECK(std::sqrt(sq / double(w.size())) == Approx(bound / std::sqrt(3.0)).epsilon(0.15));
  for (float v : ex.parameter("fc.bias").to_host()) CHECK(std::fabs(v) <= bound);

  Graph again;
  nn::Linear same(again, "fc", 50, 10);
  Executor ex2(context(), again, {same(again.input("x", {2, 50}))}, Mode::inference);
  CHECK(ex2.parameter("fc.weight").to_host() == w);  // seeded by the name
  CHECK_THROWS_AS(nn::Conv2d(g, "bad", 3, 8, 3, {1, 0, 1, 2}), Error);
  CHECK_THROWS_AS(nn::Linear(g, "zero", 0, 3), Error);
}

TEST_CASE("a small CNN learns to tell two patterns apart", "[nn]") {
  // 8x8 images: class 0 has a bright 3x3 patch in the top-left quarter, class 1 in the
  // bottom-right, on noise.
  const std::int64_t batch = 32;
  std::vector<float> images(static_cast<std::size_t>(batch * 64));
  std::vector<float> labels(static_cast<std::size_t>(batch));
  auto noise = random_vector(images.size(), 7, 0.0f, 0.3f);
  for (std::int64_t n = 0; n < batch; ++n) {
    const int cls = int(n % 2), at = cls == 0 ? 1 : 4;
    labels[std::size_t(n)] = float(cls);
    for (int i = 0; i < 64; ++i) images[std::size_t(n * 64 + i)] = noise[std::size_t(n * 64 + i)];
    for (int r = at; r < at + 3; ++r)
      for (int c = at; c < at + 3; ++c) images[std::size_t(n * 64 + r * 8 + c)] += 1.0f;
  }
  Graph g;
  nn::Sequential net;
  net.emplace<nn::Conv2d>(g, "conv", 1, 4, 3, nn::ConvLayerOptions{1, 1});
  net.emplace<nn::BatchNorm>(g, "bn", 4);
  net.emplace<nn::ReLU>();
  net.emplace<nn::MaxPool>(2);
  net.emplace<nn::Flatten>();
  net.emplace<nn::Dropout>(0.1f, 3);
  net.emplace<nn::Linear>(g, "fc", 4 * 4 * 4, 2);
  Value x = g.input("x", {batch, 1, 8, 8});
  Value y = g.input("y", {batch});
  Value logits = net(x);
  Value loss = softmax_cross_entropy(logits, y);
  CHECK(net.size() == 7);

  Executor ex(context(), g, {logits, loss}, Mode::training);
  optim::SGDOptions o;
  o.lr = 0.1f;
  o.momentum = 0.9f;
  optim::SGD sgd(ex, o);
  ex.set_input("x", images);
  ex.set_input("y", labels);
  float first_loss = 0, last_loss = 0;
  for (int step = 0; step < 30; ++step) {
    ex.forward();
    ex.backward(loss);
    sgd.step();
    last_loss = ex.value(loss).to_host()[0];
    if (step == 0) first_loss = last_loss;
  }
  CHECK(last_loss < 0.25f * first_loss);

  Executor eval(context(), g, {logits}, Mode::inference);
  for (const Value& p : ex.parameters())
    eval.set_parameter(p.name(), ex.parameter(p.name()).to_host());
  for (const Value& s : ex.states()) eval.set_state(s.name(), ex.state(s.name()).to_host());
  eval.set_input("x", images);
  eval.forward();
  auto out = eval.value(logits).to_host();
  int correct = 0;
  for (std::int64_t n = 0; n < batch; ++n)
    correct +=
        (out[std::size_t(2 * n + 1)] > out[std::size_t(2 * n)]) == (labels[std::size_t(n)] > 0.5f);
  CHECK(correct >= 30);
}
