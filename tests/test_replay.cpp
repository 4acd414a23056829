// The executor's schedule: each pass's launches recorded on its first run and replayed after
// (cl/launch_recording.hpp) give, bit for bit, what running every op's host code gives; what
// cannot be replayed runs live; a change of the context's choices records again.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "cl/fault.hpp"
#include "cl/profiler.hpp"
#include "context_impl.hpp"
#include "support.hpp"

using namespace clnn;
using clnn::test::context;
using clnn::test::random_vector;

namespace {

// Sets ContextImpl::replay_launches while it lives.
class ReplayScope {
 public:
  explicit ReplayScope(bool on)
      : impl_(detail::Access::impl(context())), saved_(impl_.replay_launches) {
    impl_.replay_launches = on;
  }
  ~ReplayScope() { impl_.replay_launches = saved_; }
  ReplayScope(const ReplayScope&) = delete;
  ReplayScope& operator=(const ReplayScope&) = delete;

 private:
  detail::ContextImpl& impl_;
  bool saved_;
};

// Runs products on clnn's own kernels while it lives: a pass that calls a host BLAS is not
// recorded, and these tests count what passes replay.
class OwnGemmScope {
 public:
  OwnGemmScope() : impl_(detail::Access::impl(context())), saved_(impl_.gemm_backend) {
    impl_.gemm_backend = detail::GemmBackend::own;
  }
  ~OwnGemmScope() { impl_.gemm_backend = saved_; }
  OwnGemmScope(const OwnGemmScope&) = delete;
  OwnGemmScope& operator=(const OwnGemmScope&) = delete;

 private:
  detail::ContextImpl& impl_;
  detail::GemmBackend saved_;
};

struct Training {
  Graph g;
  Value loss;
};

// A conv net with batch norm, pooling, dropout and a split-K-sized linear layer.
Training conv_net() {
  Training t;
  Value images = t.g.input("images", {6, 3, 10, 10});
  Value labels = t.g.input("labels", {6});
  nn::Sequential net;
  net.emplace<nn::Conv2d>(t.g, "conv", 3, 8, 3, nn::ConvLayerOptions{1, 1});
  net.emplace<nn::BatchNorm>(t.g, "bn", 8);
  net.emplace<nn::ReLU>();
  net.emplace<nn::MaxPool>(2);
  net.emplace<nn::Flatten>();
  net.emplace<nn::Dropout>(0.5f, 7);
  net.emplace<nn::Linear>(t.g, "fc", 8 * 5 * 5, 10);
  t.loss = softmax_cross_entropy(net(images), labels);
  return t;
}

void set_inputs(Executor& ex) {
  ex.set_input("images", random_vector(6 * 3 * 10 * 10, 3));
  std::vector<float> classes(6);
  for (std::size_t i = 0; i < classes.size(); ++i) classes[i] = float(i * 3 % 10);
  ex.set_input("labels", classes);
}

// Every step's loss, then every parameter after the last step.
std::vector<float> train_steps(Executor& ex, const Value& loss, int steps) {
  set_inputs(ex);
  optim::Adam adam(ex, optim::AdamOptions{});
  std::vector<float> out;
  for (int step = 0; step < steps; ++step) {
    ex.forward();
    ex.backward(loss);
    adam.step();
    out.push_back(ex.value(loss).to_host()[0]);
  }
  for (const Value& p : ex.parameters()) {
    auto values = ex.parameter(p.name()).to_host();
    out.insert(out.end(), values.begin(), values.end());
  }
  return out;
}

}  // namespace

TEST_CASE("replayed launches give bit for bit what running every op gives", "[executor][replay]") {
  OwnGemmScope own;
  Training t = conv_net();
  std::vector<float> live, replayed;
  {
    ReplayScope off(false);
    Executor ex(context(), t.g, {t.loss}, Mode::training);
    live = train_steps(ex, t.loss, 4);
    for (const auto& p : ex.schedule()) CHECK(p.kernels.empty());
  }
  Executor ex(context(), t.g, {t.loss}, Mode::training);
  replayed = train_steps(ex, t.loss, 4);
  CHECK(replayed == live);
  // Every pass replays but dropout's, whose masks change with the step (the losses show they
  // did), and the relu's, folded into batch_norm.
  for (const auto& p : ex.schedule()) {
    CAPTURE(p.node, p.pass);
    if (p.route.rfind("folded into", 0) == 0) continue;
    CHECK(p.kernels.empty() == (p.op == "dropout"));
  }
  CHECK(live[0] != live[1]);
}

TEST_CASE("an executor records its launches again when the context's choices change",
          "[executor][replay]") {
  Graph g;
  Value x = g.input("x", {2, 4, 9, 9});
  Value w = g.parameter("w", {8, 4, 3, 3}, init::kaiming_uniform(5, 0.0f));
  Value y = conv(x, w, std::nullopt, ConvOptions{{1, 1}, {1, 1}, {1, 1}, {1, 1}, 1});
  auto& impl = detail::Access::impl(context());
  const detail::ConvRoute saved = impl.conv_route;
  OwnGemmScope own;
  auto launched = [&](Executor& ex) {
    detail::forget_launches();
    detail::record_launches(true);
    ex.forward();
    detail::record_launches(false);
    return detail::launched_kernels();
  };
  Executor ex(context(), g, {y}, Mode::inference);
  ex.set_input("x", random_vector(2 * 4 * 9 * 9, 1));
  impl.conv_route = detail::ConvRoute::implicit;
  ex.forward();  // recorded on the implicit GEMM's route
  impl.conv_route = detail::ConvRoute::columns;
  const auto kernels = launched(ex);
  const auto columns_values = ex.value(y).to_host();
  CHECK(kernels.count("vol2col") + kernels.count("vol2col_rows") == 1);
  CHECK(kernels.count("conv_vec4") + kernels.count("conv_tiled") == 0);
  // The schedule names what the pass now replays.
  const auto schedule = ex.schedule();
  REQUIRE(schedule.size() == 1);
  const auto& names = schedule[0].kernels;
  CHECK(std::count(names.begin(), names.end(), "vol2col") +
            std::count(names.begin(), names.end(), "vol2col_rows") ==
        1);
  Executor fresh(context(), g, {y}, Mode::inference);
  fresh.set_input("x", random_vector(2 * 4 * 9 * 9, 1));
  fresh.forward();
  impl.conv_route = saved;
  CHECK(columns_values == fresh.value(y).to_host());
}

TEST_CASE("a pass whose first run fails is recorded by a later run", "[executor][replay]") {
  Training t = conv_net();
  std::vector<float> want;
  {
    Executor ex(context(), t.g, {t.loss}, Mode::training);
    want = train_steps(ex, t.loss, 2);
  }
  Executor ex(context(), t.g, {t.loss}, Mode::training);
  set_inputs(ex);
  {
    detail::fault::Injection fail(detail::fault::Site::enqueue, 3, CL_OUT_OF_RESOURCES);
    CHECK_THROWS_AS(ex.forward(), DeviceError);
  }
  CHECK(train_steps(ex, t.loss, 2) == want);
}

TEST_CASE("a product CLBlast computes runs its host code every time", "[executor][replay]") {
  Graph g;
  Value a = g.input("a", {33, 20});
  Value b = g.parameter("b", {20, 17}, init::xavier_uniform(2));
  Value c = matmul(a, b);
  auto& impl = detail::Access::impl(context());
  const detail::GemmBackend saved = impl.gemm_backend;
  impl.gemm_backend = detail::GemmBackend::clblast;
  Executor ex(context(), g, {c}, Mode::inference);
  ex.set_input("a", random_vector(33 * 20, 4));
  ex.forward();
  const auto first = ex.value(c).to_host();
  ex.set_input("a", random_vector(33 * 20, 5));
  ex.forward();
  const auto second = ex.value(c).to_host();
  const auto schedule = ex.schedule();
  impl.gemm_backend = saved;
  REQUIRE(schedule.size() == 1);
  CHECK(schedule[0].kernels.empty());
  CHECK(first != second);  // the second input's product, not a replay of nothing
}
