// Threads sharing one Context: each trains its own executor on it at once and gets, bit for bit,
// what it gets alone.
#include <catch2/catch.hpp>

#include <cstdint>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "context_impl.hpp"
#include "support.hpp"

using namespace clnn;
using clnn::test::random_vector;

namespace {

struct Run {
  std::vector<float> losses;      // every step's
  std::vector<float> parameters;  // all of them, after the last step
};

// A conv net (columns or implicit GEMM, batch norm, pooling) and beside it a wide-batch MLP whose
// second weight gradient splits K and whose loss sums a long row in two passes: both put partial
// results in the context's scratch buffer, the state two threads could trample.
Run run_training(const Context& ctx, std::uint32_t seed, int steps) {
  Graph g;
  Value images = g.input("images", {8, 3, 12, 12});
  Value labels = g.input("labels", {8});
  nn::Sequential net;
  net.emplace<nn::Conv2d>(g, "conv", 3, 8, 3, nn::ConvLayerOptions{1, 1});
  net.emplace<nn::BatchNorm>(g, "bn", 8);
  net.emplace<nn::ReLU>();
  net.emplace<nn::MaxPool>(2);
  net.emplace<nn::Flatten>();
  net.emplace<nn::Linear>(g, "fc", 8 * 6 * 6, 10);
  Value conv_loss = softmax_cross_entropy(net(images), labels);

  Value x = g.input("x", {8192, 16});
  Value y = g.input("y", {8192, 1});
  nn::Linear hidden(g, "hidden", 16, 8), out(g, "out", 8, 1);
  Value mlp_loss = mse_loss(out(tanh(hidden(x))), y);
  Value loss = add(conv_loss, mlp_loss);

  Executor ex(ctx, g, {loss}, Mode::training);
  ex.set_input("images", random_vector(8 * 3 * 12 * 12, seed));
  std::vector<float> classes(8);
  for (std::size_t i = 0; i < classes.size(); ++i) classes[i] = float((i * 7 + seed) % 10);
  ex.set_input("labels", classes);
  ex.set_input("x", random_vector(8192 * 16, seed + 1));
  ex.set_input("y", random_vector(8192, seed + 2));
  optim::Adam adam(ex, optim::AdamOptions{});

  Run run;
  for (int step = 0; step < steps; ++step) {
    ex.forward();
    ex.backward(loss);
    adam.step();
    run.losses.push_back(ex.value(loss).to_host()[0]);
  }
  for (const Value& p : ex.parameters()) {
    auto values = ex.parameter(p.name()).to_host();
    run.parameters.insert(run.parameters.end(), values.begin(), values.end());
  }
  return run;
}

}  // namespace

TEST_CASE("two threads training on one context get their single-threaded results exactly",
          "[threads]") {
  // Each thread its own data, so a launch that read the other thread's arguments or scratch
  // would change its numbers rather than reproduce them.
  constexpr std::uint32_t kSeeds[2] = {11, 23};
  constexpr int kSteps = 8, kRounds = 3;
  for (auto route : {detail::ConvRoute::automatic, detail::ConvRoute::implicit}) {
    // A fresh context: the first round also races to build and cache the programs and, through
    // the implicit GEMM's tap tables, the context's table of ints.
    Context ctx = Context::create();
    detail::Access::impl(ctx).conv_route = route;
    CAPTURE(int(route));
    Run alone[2];
    for (int round = 0; round < kRounds; ++round) {
      Run together[2];
      std::exception_ptr failed[2];
      std::vector<std::thread> threads;
      for (int t = 0; t < 2; ++t)
        threads.emplace_back([&, t] {
          try {
            together[t] = run_training(ctx, kSeeds[t], kSteps);
          } catch (...) {
            failed[t] = std::current_exception();
          }
        });
      for (auto& thread : threads) thread.join();
      for (const auto& f : failed)
        if (f) std::rethrow_exception(f);
      if (round == 0)  // the references come after the race, so the race met a cold context
        for (int t = 0; t < 2; ++t) alone[t] = run_training(ctx, kSeeds[t], kSteps);
      for (int t = 0; t < 2; ++t) {
        CAPTURE(round, t);
        CHECK(together[t].losses == alone[t].losses);
        CHECK(together[t].parameters == alone[t].parameters);
      }
    }
    CHECK(alone[0].losses != alone[1].losses);  // the threads' work differed
  }
}
