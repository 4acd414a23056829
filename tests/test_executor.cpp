// The executor: the seed two-layer network against an independent computation, fan-out
// accumulation, pruning of unused branches, the memory plan, and every error it reports.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <string>

#include "graph/graph_data.hpp"
#include "graph/memory_plan.hpp"
#include "support.hpp"

using namespace clnn;
using clnn::test::context;
using clnn::test::random_vector;
using clnn::test::relative_error;

namespace {

using Matrix = std::vector<std::vector<double>>;

Matrix to_matrix(const std::vector<float>& v, std::size_t rows, std::size_t cols) {
  Matrix m(rows, std::vector<double>(cols));
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < cols; ++j) m[i][j] = v[i * cols + j];
  return m;
}

Matrix product(const Matrix& a, const Matrix& b) {
  Matrix c(a.size(), std::vector<double>(b[0].size(), 0.0));
  for (std::size_t i = 0; i < a.size(); ++i)
    for (std::size_t j = 0; j < b[0].size(); ++j)
      for (std::size_t k = 0; k < b.size(); ++k) c[i][j] += a[i][k] * b[k][j];
  return c;
}

Matrix transposed(const Matrix& a) {
  Matrix t(a[0].size(), std::vector<double>(a.size()));
  for (std::size_t i = 0; i < a.size(); ++i)
    for (std::size_t j = 0; j < a[0].size(); ++j) t[j][i] = a[i][j];
  return t;
}

std::vector<double> flat(const Matrix& m) {
  std::vector<double> out;
  for (const auto& row : m) out.insert(out.end(), row.begin(), row.end());
  return out;
}

double sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

}  // namespace

TEST_CASE("the seed network's gradients match the chain rule", "[executor]") {
  const std::size_t n = 5, in = 2, hidden = 8;
  Graph g;
  Value X = g.input("X", {std::int64_t(n), std::int64_t(in)});
  Value Y = g.input("Y", {std::int64_t(n), 1});
  Value W = g.parameter("W", {std::int64_t(in), std::int64_t(hidden)}, init::xavier_uniform(1));
  Value W2 = g.parameter("W2", {std::int64_t(hidden), 1}, init::xavier_uniform(2));
  Value O = sigmoid(matmul(sigmoid(matmul(X, W)), W2));
  Value J = mse_loss(O, Y);

  auto x = random_vector(n * in, 10), y = random_vector(n, 11, 0.0f, 1.0f);
  auto w = random_vector(in * hidden, 12), w2 = random_vector(hidden, 13);
  Executor ex(context(), g, {J}, Mode::training);
  ex.set_input("X", x);
  ex.set_input("Y", y);
  ex.set_parameter("W", w);
  ex.set_parameter("W2", w2);
  ex.forward();
  ex.backward(J);

  // Z = XW, A = s(Z), G = AW', O = s(G), J = mean((O - Y)^2)
  Matrix Xm = to_matrix(x, n, in), Wm = to_matrix(w, in, hidden), W2m = to_matrix(w2, hidden, 1);
  Matrix A = product(Xm, Wm);
  for (auto& row : A)
    for (auto& e : row) e = sigmoid(e);
  Matrix Om = product(A, W2m);
  double J_ref = 0;
  Matrix delta1(n, std::vector<double>(1));
  for (std::size_t i = 0; i < n; ++i) {
    double o = sigmoid(Om[i][0]);
    J_ref += (o - y[i]) * (o - y[i]) / double(n);
    delta1[i][0] = 2.0 / double(n) * (o - y[i]) * o * (1 - o);  // -(Y - O) f'(G), scaled by mean
  }
  Matrix dW2 = product(transposed(A), delta1);  // A^T d1
  Matrix delta2 = product(delta1, transposed(W2m));
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < hidden; ++j) delta2[i][j] *= A[i][j] * (1 - A[i][j]);
  Matrix dW = product(transposed(Xm), delta2);  // X^T d2

  CHECK(ex.value(J).to_host()[0] == Approx(J_ref).epsilon(1e-5));
  CHECK(relative_error(ex.gradient(W2).to_host(), flat(dW2)) < 1e-4);
  CHECK(relative_error(ex.gradient(W).to_host(), flat(dW)) < 1e-4);

  auto first = ex.gradient(W).to_host();
  ex.forward();
  ex.backward(J);
  CHECK(ex.gradient(W).to_host() == first);  // two backward runs agree exactly
}

TEST_CASE("gradients that meet at a value are summed", "[executor]") {
  auto build = [](Graph& g, bool branch_a, bool branch_b) {
    Value X = g.input("X", {4, 3});
    Value W = g.parameter("W", {3, 5}, init::xavier_uniform(7));
    Value h = matmul(X, W);  // fans out to both branches
    Value a = sum(relu(h));
    Value b = sum(sigmoid(h));
    return branch_a && branch_b ? add(a, b) : branch_a ? a : b;
  };
  auto x = random_vector(12, 3);
  auto gradient_of = [&](bool branch_a, bool branch_b) {
    Graph g;
    Value loss = build(g, branch_a, branch_b);
    Executor ex(context(), g, {loss}, Mode::training);
    ex.set_input("X", x);
    ex.forward();
    ex.backward(loss);
    return ex.gradient(ex.parameters().at(0)).to_host();
  };
  auto both = gradient_of(true, true), a = gradient_of(true, false), b = gradient_of(false, true);
  std::vector<double> expected(both.size());
  for (std::size_t i = 0; i < both.size(); ++i) expected[i] = double(a[i]) + double(b[i]);
  CHECK(relative_error(both, expected) < 1e-6);
}

TEST_CASE("backward reports each parameter's gradient as soon as it is complete", "[executor]") {
  // X -> [W1] -> relu -> [W2] -> sum, and W3 that the loss does not depend on; W1 also feeds the
  // loss directly, so its gradient is complete only after the last of its two consumers.
  Graph g;
  Value X = g.input("X", {4, 3});
  Value W1 = g.parameter("W1", {3, 3}, init::xavier_uniform(1));
  Value W2 = g.parameter("W2", {3, 2}, init::xavier_uniform(2));
  Value W3 = g.parameter("W3", {2}, init::constant(1.0f));
  Value h = relu(matmul(X, W1));
  Value loss = add(sum(matmul(h, W2)), sum(mul(W1, W1)));
  Value unused = sum(W3);
  Executor ex(context(), g, {loss, unused}, Mode::training);
  ex.set_input("X", random_vector(12, 4));
  ex.forward();
  std::vector<std::size_t> order;
  std::vector<std::vector<float>> when_reported(3);
  ex.backward(loss, 1.0f, [&](std::size_t p, const Tensor& gradient) {
    order.push_back(p);
    when_reported[p] = gradient.to_host();  // what the kernels enqueued so far have written
  });
  REQUIRE(ex.parameters().size() == 3);
  CHECK(order == std::vector<std::size_t>{1, 0, 2});  // W2 first; W3 (unreached) last
  for (std::size_t p = 0; p < 3; ++p)
    CHECK(when_reported[p] == ex.gradient(ex.parameters()[p]).to_host());
  CHECK(when_reported[2] == std::vector<float>{0.0f, 0.0f});
}

TEST_CASE("only what the outputs depend on runs", "[executor]") {
  Graph g;
  Value X = g.input("X", {2, 3});
  Value unused_input = g.input("U", {2, 3});
  Value W = g.parameter("W", {3, 3}, init::he_uniform(1));
  Value used = relu(matmul(X, W));
  Value unused = sigmoid(matmul(unused_input, W));
  Executor ex(context(), g, {used}, Mode::inference);
  std::vector<std::string> schedule;
  for (const auto& pass : ex.schedule()) schedule.push_back(pass.node);
  CHECK(schedule == std::vector<std::string>{"matmul_1", "relu_1"});
  CHECK(std::find(schedule.begin(), schedule.end(), unused.name()) == schedule.end());
  ex.set_input("X", random_vector(6, 1));
  CHECK_NOTHROW(ex.forward());  // U was never set, and nothing needs it
  CHECK_THROWS_WITH(ex.value(unused),
                    Catch::Contains("sigmoid_1") && Catch::Contains("not computed"));
  CHECK(ex.parameters().size() == 1);
}

TEST_CASE("the memory plan reuses dead buffers of values and gradients", "[executor][memory]") {
  Graph g;
  Value x = g.input("x", {64, 64});
  Value W1 = g.parameter("W1", {64, 64}, init::xavier_uniform(2));
  Value h = matmul(x, W1);
  for (int i = 0; i < 10; ++i) h = tanh(h);
  Value W = g.parameter("W", {64, 64}, init::xavier_uniform(3));
  Value out = matmul(h, W);
  Executor inference(context(), g, {out}, Mode::inference);
  Executor training(context(), g, {out}, Mode::training);
  const std::size_t value_bytes = 64 * 64 * sizeof(float);
  // x, W1, W, out and two rotating buffers for the chain.
  CHECK(inference.memory_bytes() <= 6 * value_bytes);
  // Training keeps x, W1, W, out and every tanh output (backward reads them; the first takes the
  // matmul's buffer), 14 buffers; the gradients of W1, W and out keep theirs, and the chain's
  // rotate through two: 19 (a buffer for each of the 14 gradients had made it 28).
  CHECK(training.memory_bytes() == 19 * value_bytes);

  auto input = random_vector(64 * 64, 5);
  inference.set_input("x", input);
  training.set_input("x", input);
  inference.forward();
  training.forward();
  CHECK(inference.value(out).to_host() == training.value(out).to_host());
  CHECK_THROWS_WITH(inference.value(h), Catch::Contains("not kept"));
  CHECK_NOTHROW(training.value(h));
}

TEST_CASE("training keeps a folded relu's value only where its producer's backward reads it",
          "[executor][memory]") {
  // A relu folds into the convolution and into the batch normalization before it. The
  // convolution's backward masks its gradient by the relu's output, so that value is kept; batch
  // normalization recomputes its output from x, and a max pooling's backward reads only its
  // saved indices, so nothing keeps the normalized value after forward.
  Graph g;
  Value x = g.parameter("x", {2, 3, 6, 6}, init::uniform(-1.0f, 1.0f, 1));
  Value w = g.parameter("w", {4, 3, 3, 3}, init::uniform(-1.0f, 1.0f, 2));
  ConvOptions o;
  o.pads_begin = o.pads_end = {1, 1};
  Value conv_relu = relu(conv(x, w, std::nullopt, o));
  Value gamma = g.parameter("gamma", {4}, init::constant(1.0f));
  Value beta = g.parameter("beta", {4}, init::constant(0.0f));
  Value rm = g.state("rm", {4}, init::zeros());
  Value rv = g.state("rv", {4}, init::constant(1.0f));
  Value bn_relu = relu(batch_norm(conv_relu, gamma, beta, rm, rv));
  PoolOptions pool;
  pool.kernel = {2, 2};
  Executor training(context(), g, {sum(max_pool(bn_relu, pool))}, Mode::training);
  std::map<std::string, std::string> by;
  for (const auto& p : training.schedule()) by[p.node + " " + p.pass] = p.route;
  REQUIRE(by["relu_1 forward"] == "folded into 'conv_1'");
  REQUIRE(by["relu_2 forward"] == "folded into 'batch_norm_1'");
  training.forward();
  CHECK_NOTHROW(training.value(conv_relu));
  CHECK_THROWS_WITH(training.value(bn_relu), Catch::Contains("not kept"));
}

TEST_CASE("gradients of branches that end at an input keep their buffers until read",
          "[executor][memory]") {
  // loss = sum((x W1 + (x4 W4) W2) * R), x and x4 inputs, x W1 [4, 5] broadcast over the other
  // branch's [2, 4, 5]. add's backward writes x W1's gradient, which x W1's own backward reads
  // last of all and which no later gradient is born in; meanwhile (x4 W4)'s gradient, [2, 4, 2],
  // is born, and a buffer freed too early would be the best fit for it. dW1 = x^T (R0 + R1).
  Graph g;
  Value x = g.input("x", {4, 3});
  Value x4 = g.input("x4", {2, 4, 3});
  Value r = g.input("R", {2, 4, 5});
  Value W1 = g.parameter("W1", {3, 5}, init::uniform(-1.0f, 1.0f, 1));
  Value W4 = g.parameter("W4", {3, 2}, init::uniform(-1.0f, 1.0f, 2));
  Value W2 = g.parameter("W2", {2, 5}, init::uniform(-1.0f, 1.0f, 3));
  // One statement each: x W1 runs first, so its backward runs last.
  Value big = matmul(x, W1);
  Value t = matmul(x4, W4);
  Value small = matmul(t, W2);
  Value loss = sum(mul(add(big, small), r));
  Executor ex(context(), g, {loss}, Mode::training);
  const auto xh = random_vector(12, 3), x4h = random_vector(24, 4), rh = random_vector(40, 5);
  ex.set_input("x", xh);
  ex.set_input("x4", x4h);
  ex.set_input("R", rh);
  ex.forward();
  ex.backward(loss);
  std::vector<double> want(15, 0.0);
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 5; ++j)
      for (std::size_t b = 0; b < 2; ++b)
        for (std::size_t k = 0; k < 4; ++k)
          want[i * 5 + j] += double(xh[k * 3 + i]) * rh[(b * 4 + k) * 5 + j];
  CHECK(relative_error(ex.gradient(W1).to_host(), want) < 1e-5);
}

TEST_CASE("plan_memory shares buffers only between values whose lives do not overlap",
          "[executor][memory]") {
  using detail::PlanValue;
  // 0 (input) -> 1 -> 2 -> 3 (output); 4 aliases 1 and is read by 3.
  std::vector<PlanValue> values(5);
  for (auto& v : values) v.bytes = 100;
  values[0].external = values[0].pinned = true;
  values[1].reads = {0};
  values[4].reads = {1};
  values[4].alias_of = 1;
  values[2].reads = {1};
  values[3].reads = {2, 4};
  values[3].pinned = true;
  auto plan = detail::plan_memory({0, 1, 4, 2, 3}, values);
  CHECK(plan.slot_of[4] == plan.slot_of[1]);
  CHECK(plan.slot_of[2] != plan.slot_of[1]);  // 1 lives on through its alias until 3
  CHECK(plan.slot_of[3] != plan.slot_of[1]);
  CHECK(plan.slot_of[3] != plan.slot_of[2]);
  CHECK(plan.slot_of[0] != plan.slot_of[1]);

  // A chain frees as it goes; an external value never shares.
  std::vector<PlanValue> chain(6);
  for (std::size_t i = 0; i < chain.size(); ++i) {
    chain[i].bytes = 100;
    if (i > 0) chain[i].reads = {int(i) - 1};
  }
  chain[0].external = chain[0].pinned = true;
  chain[5].pinned = true;
  auto chain_plan = detail::plan_memory({0, 1, 2, 3, 4, 5}, chain);
  CHECK(chain_plan.slot_bytes.size() == 3);
  for (std::size_t i = 1; i < 6; ++i) CHECK(chain_plan.slot_of[i] != chain_plan.slot_of[0]);
}

TEST_CASE("a cycle is an error that names a node on it", "[executor][errors]") {
  std::vector<std::vector<int>> inputs{{}, {0, 2}, {1}, {2}};
  std::vector<bool> wanted(4, true);
  CHECK_THROWS_WITH(detail::topological_order(inputs, wanted, {"in", "a", "b", "c"}),
                    Catch::Contains("cycle") && (Catch::Contains("'a'") || Catch::Contains("'b'")));
  inputs[1] = {0};
  CHECK(detail::topological_order(inputs, wanted, {"in", "a", "b", "c"}) ==
        std::vector<int>{0, 1, 2, 3});
}

TEST_CASE("executor errors name what was wrong", "[executor][errors]") {
  Graph g;
  Value X = g.input("X", {3, 2});
  Value W = g.parameter("W", {2, 1}, init::zeros());
  Value out = matmul(X, W);
  Value loss = mean(out);
  Executor ex(context(), g, {out, loss}, Mode::training);

  CHECK_THROWS_WITH(ex.set_input("nope", {1.0f}), Catch::Contains("no input named 'nope'"));
  CHECK_THROWS_WITH(ex.set_input("W", {1.0f, 2.0f}), Catch::Contains("'W' is not an input"));
  CHECK_THROWS_AS(ex.set_input("X", std::vector<float>(5)), ShapeError);
  CHECK_THROWS_WITH(ex.set_input("X", std::vector<float>(5)), Catch::Contains("takes 6 values"));
  CHECK_THROWS_AS(ex.set_parameter("W", std::vector<float>(3)), ShapeError);
  CHECK_THROWS_WITH(ex.forward(), Catch::Contains("input 'X' was not set"));
  CHECK_THROWS_WITH(ex.backward(loss), Catch::Contains("forward() first"));
  ex.set_input("X", random_vector(6, 2));
  ex.forward();
  CHECK_THROWS_WITH(ex.backward(out), Catch::Contains("must be a scalar"));
  CHECK_THROWS_WITH(ex.gradient(W), Catch::Contains("backward() first"));
  ex.backward(loss);
  CHECK_THROWS_WITH(ex.gradient(X), Catch::Contains("'X' is not a parameter"));
  CHECK_THROWS_WITH(ex.gradient(out), Catch::Contains("is not a parameter"));
  ex.set_input("X", random_vector(6, 3));
  CHECK_THROWS_WITH(ex.backward(loss), Catch::Contains("forward() first"));

  Executor inference(context(), g, {loss}, Mode::inference);
  inference.set_input("X", random_vector(6, 2));
  inference.forward();
  CHECK_THROWS_WITH(inference.backward(loss), Catch::Contains("inference"));
  CHECK_THROWS_WITH(inference.gradient(W), Catch::Contains("inference"));

  Graph other;
  Value foreign = other.input("X", {3, 2});
  CHECK_THROWS_WITH(ex.backward(foreign), Catch::Contains("another graph"));
  CHECK_THROWS_AS(add(X, foreign), Error);
  CHECK_THROWS_WITH(g.input("X", {1}), Catch::Contains("already has a node"));
  CHECK_THROWS_AS(g.input("Z", {0, 3}), ShapeError);
  CHECK_THROWS_AS(g.parameter("P", {-2}, init::zeros()), ShapeError);
  CHECK_THROWS_AS(Executor(context(), g, {}, Mode::inference), Error);
}

TEST_CASE("set_input takes device tensors too", "[executor]") {
  Graph g;
  Value X = g.input("X", {2, 2});
  Value out = scale(X, 2.0f);
  Executor ex(context(), g, {out}, Mode::inference);
  ex.set_input("X", Tensor::from_host(context(), {4}, {1, 2, 3, 4}));
  ex.forward();
  CHECK(ex.value(out).to_host() == std::vector<float>{2, 4, 6, 8});
  CHECK_THROWS_AS(ex.set_input("X", Tensor::zeros(context(), {5})), ShapeError);
}
