// clnn-mlp: the seed two-layer network, X -> matmul W -> sigmoid -> matmul W' -> sigmoid -> MSE,
// trained on tasks it generates (XOR, two interleaved spirals). Prints the loss as it falls and
// the final accuracy; exits 1 when a task misses its target (XOR 100%, spirals 95%).
#include <clnn/clnn.hpp>

#include <cmath>
#include <cstdio>
#include <CLI/CLI.hpp>
#include <random>
#include <string>

namespace {

struct Dataset {
  std::vector<float> x;  // [n, 2]
  std::vector<float> y;  // [n, 1], 0 or 1
  std::int64_t n = 0;
};

Dataset xor_data() {
  return {{0, 0, 0, 1, 1, 0, 1, 1}, {0, 1, 1, 0}, 4};
}

// Two spirals of `per_class` points each, one and a half turns, a little noise.
Dataset spirals(std::int64_t per_class, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.05f);
  Dataset d;
  d.n = 2 * per_class;
  const float pi = 3.14159265f;
  for (int label = 0; label < 2; ++label)
    for (std::int64_t i = 0; i < per_class; ++i) {
      float t = 0.25f + 2.75f * pi * float(i) / float(per_class);
      float r = 2.0f * t / pi;  // radius up to 5.5: inputs large enough to bend sigmoids
      float angle = t + float(label) * pi;
      d.x.push_back(r * std::cos(angle) + noise(rng));
      d.x.push_back(r * std::sin(angle) + noise(rng));
      d.y.push_back(float(label));
    }
  return d;
}

struct Task {
  std::string name;
  Dataset train, test;
  std::int64_t hidden;
  int steps;
  float lr;
  double target;
};

// Trains the two-layer network on task.train with Adam (full batch); returns test accuracy.
double train(const clnn::Context& ctx, const Task& task) {
  using namespace clnn;
  Graph g;
  Value X = g.input("X", {task.train.n, 2});
  Value Y = g.input("Y", {task.train.n, 1});
  Value W = g.parameter("W", {2, task.hidden}, init::xavier_uniform(1));
  Value b = g.parameter("b", {task.hidden}, init::zeros());
  Value W2 = g.parameter("W2", {task.hidden, 1}, init::xavier_uniform(2));
  Value b2 = g.parameter("b2", {1}, init::zeros());
  Value A = sigmoid(add(matmul(X, W), b));
  Value O = sigmoid(add(matmul(A, W2), b2));
  Value J = mse_loss(O, Y);

  Executor ex(ctx, g, {O, J}, Mode::training);
  optim::AdamOptions options;
  options.lr = task.lr;
  optim::Adam adam(ex, options);
  ex.set_input("X", task.train.x);
  ex.set_input("Y", task.train.y);
  for (int step = 1; step <= task.steps; ++step) {
    ex.forward();
    ex.backward(J);
    adam.step();
    if (step == 1 || step % (task.steps / 10) == 0)
      std::printf("%-8s step %5d  loss %.6f\n", task.name.c_str(), step, ex.value(J).to_host()[0]);
  }

  // Accuracy on the test points, through an inference executor over the same parameters.
  Graph tg;
  Value TX = tg.input("X", {task.test.n, 2});
  Value TW = tg.parameter("W", {2, task.hidden}, init::zeros());
  Value Tb = tg.parameter("b", {task.hidden}, init::zeros());
  Value TW2 = tg.parameter("W2", {task.hidden, 1}, init::zeros());
  Value Tb2 = tg.parameter("b2", {1}, init::zeros());
  Value TO = sigmoid(add(matmul(sigmoid(add(matmul(TX, TW), Tb)), TW2), Tb2));
  Executor test(ctx, tg, {TO}, Mode::inference);
  for (const char* name : {"W", "b", "W2", "b2"})
    test.set_parameter(name, ex.parameter(name).to_host());
  test.set_input("X", task.test.x);
  test.forward();
  auto out = test.value(TO).to_host();
  std::int64_t correct = 0;
  for (std::int64_t i = 0; i < task.test.n; ++i)
    correct += (out[std::size_t(i)] > 0.5f) == (task.test.y[std::size_t(i)] > 0.5f);
  return double(correct) / double(task.test.n);
}

}  // namespace

int main(int argc, char** argv) {
  std::string which = "all", device;
  CLI::App app{"Trains small MLPs (XOR, two spirals) and checks their accuracy.", "clnn-mlp"};
  app.add_option("--task", which, "the task")
      ->check(CLI::IsMember({"xor", "spirals", "all"}))
      ->capture_default_str();
  app.add_option("--device", device, "gpu, cpu, P:D or part of a name");
  CLI11_PARSE(app, argc, argv);
  try {
    clnn::Context ctx = device.empty() ? clnn::Context::create() : clnn::Context::create(device);
    std::printf("device: %s\n", ctx.device().label().c_str());
    std::vector<Task> tasks{
        {"xor", xor_data(), xor_data(), 8, 1000, 0.05f, 1.0},
        {"spirals", spirals(200, 1), spirals(200, 2), 64, 2000, 0.02f, 0.95},
    };
    bool all_met = true;
    for (const Task& task : tasks) {
      if (which != "all" && which != task.name) continue;
      double accuracy = train(ctx, task);
      bool met = accuracy >= task.target;
      all_met = all_met && met;
      std::printf("%-8s accuracy %.4f (target %.2f): %s\n", task.name.c_str(), accuracy,
                  task.target, met ? "met" : "MISSED");
    }
    return all_met ? 0 : 1;
  } catch (const clnn::Error& e) {
    std::fprintf(stderr, "clnn-mlp: %s\n", e.what());
    return 1;
  }
}
