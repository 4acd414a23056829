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

namespace {

// Attention of x through mha's parameters spelled out with unfused operators: the heads'
// scores as a batched product, softmax, and the product with v.
Value attention_by_hand(nn::MultiheadAttention& mha, const Value& x, std::int64_t heads) {
  const Shape& s = x.shape();
  const std::int64_t size = s[2] / heads;
  auto split = [&](const Value& y) {  // [batch * heads, length, size]: matmul takes 3-D
    return reshape(transpose(reshape(y, {s[0], s[1], heads, size}), {0, 2, 1, 3}),
                   {s[0] * heads, s[1], size});
  };
  const Value q = split(add(matmul(x, mha.q.weight), *mha.q.bias));
  const Value k = split(add(matmul(x, mha.k.weight), *mha.k.bias));
  const Value v = split(add(matmul(x, mha.v.weight), *mha.v.bias));
  const Value p = softmax(scale(matmul(q, k, false, true), float(1.0 / std::sqrt(double(size)))));
  const Value merged =
      reshape(transpose(reshape(matmul(p, v), {s[0], heads, s[1], size}), {0, 2, 1, 3}), s);
  return add(matmul(merged, mha.out.weight), *mha.out.bias);
}

}  // namespace

TEST_CASE("transformer layers agree with the same computation spelled out", "[nn]") {
  Graph g;
  const Value x = g.input("x", {2, 5, 8});
  nn::MultiheadAttention mha(g, "mha", 8, 2);
  nn::TransformerOptions o;
  o.feedforward = 12;
  o.dropout = 0.0f;
  nn::TransformerEncoderLayer post(g, "post", 8, 2, o);
  o.norm_first = true;
  o.gelu = true;
  nn::TransformerEncoderLayer pre(g, "pre", 8, 2, o);
  auto ffn = [](nn::TransformerEncoderLayer& l, const Value& h, bool use_gelu) {
    const Value hidden = add(matmul(h, l.linear1.weight), *l.linear1.bias);
    return add(matmul(use_gelu ? gelu(hidden) : relu(hidden), l.linear2.weight), *l.linear2.bias);
  };
  auto norm = [](nn::LayerNorm& n, const Value& h) { return layer_norm(h, n.weight, n.bias); };

  const Value fused = mha(x), by_hand = attention_by_hand(mha, x, 2);
  const Value post_fused = post(x);
  const Value post_h = norm(post.norm1, add(x, attention_by_hand(post.attention, x, 2)));
  const Value post_by_hand = norm(post.norm2, add(post_h, ffn(post, post_h, false)));
  const Value pre_fused = pre(x);
  const Value pre_h = add(x, attention_by_hand(pre.attention, norm(pre.norm1, x), 2));
  const Value pre_by_hand = add(pre_h, ffn(pre, norm(pre.norm2, pre_h), true));

  Executor ex(context(), g, {fused, by_hand, post_fused, post_by_hand, pre_fused, pre_by_hand},
              Mode::inference);
  ex.set_input("x", random_vector(80, 3));
  ex.forward();
  for (auto [a, b] : {std::pair{fused, by_hand}, std::pair{post_fused, post_by_hand},
                      std::pair{pre_fused, pre_by_hand}}) {
    const auto want = ex.value(b).to_host();
    CHECK(clnn::test::relative_error(ex.value(a).to_host(),
                                     std::vector<double>(want.begin(), want.end())) < 1e-5);
  }
  CHECK(mha.q.weight.name() == "mha.q.weight");
  CHECK(post.norm1.weight.name() == "post.norm1.weight");
  CHECK_THROWS_AS(nn::MultiheadAttention(g, "bad", 8, 3), Error);
  CHECK_THROWS_AS(mha(g.input("flat", {2, 8})), ShapeError);

  nn::Embedding words(g, "words", 11, 4);
  CHECK(words(g.input("ids", {2, 3})).shape() == Shape{2, 3, 4});
}
