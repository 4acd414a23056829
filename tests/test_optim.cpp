// Optimizers against host references, step by step, and initializers.
#include <catch2/catch.hpp>

#include <cmath>
#include <optional>
#include <tuple>

#include "support.hpp"

using namespace clnn;
using clnn::test::context;
using clnn::test::random_vector;
using clnn::test::relative_error;

namespace {

// loss = sum_i sum(p_i * R_i) + 0.5 * sum(p_i * p_i) over parameters p_i of awkward sizes, more
// than one launch of the update kernels takes (8): the gradient is R + p, which changes as p
// moves. The host steps every parameter's elements one after another, as one vector.
struct Problem {
  Graph g;
  std::vector<Shape> shapes{{7, 5}, {1}, {3}, {127}, {2, 2}, {5}, {1}, {9}, {4, 4}, {3}};
  std::vector<float> r_host, initial;
  Value loss;
  Problem() {
    std::vector<Value> terms;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      const std::string n = std::to_string(i);
      Value p = g.parameter("p" + n, shapes[i], init::uniform(-1.0f, 1.0f, std::uint32_t(3 + i)));
      Value r = g.input("R" + n, shapes[i]);
      terms.push_back(add(sum(mul(p, r)), scale(sum(mul(p, p)), 0.5f)));
      const auto first = init::uniform(-1.0f, 1.0f, std::uint32_t(3 + i))(shapes[i]);
      initial.insert(initial.end(), first.begin(), first.end());
    }
    loss = terms[0];
    for (std::size_t i = 1; i < terms.size(); ++i) loss = add(loss, terms[i]);
    r_host = random_vector(initial.size(), 9);
  }
};

template <typename Optimizer, typename HostStep>
void run_steps(Problem& problem, Optimizer make_optimizer, HostStep host_step) {
  Executor ex(context(), problem.g, {problem.loss}, Mode::training);
  std::size_t at = 0;
  for (std::size_t i = 0; i < problem.shapes.size(); ++i) {
    const auto n = std::size_t(element_count(problem.shapes[i]));
    ex.set_input("R" + std::to_string(i), {problem.r_host.begin() + std::ptrdiff_t(at),
                                           problem.r_host.begin() + std::ptrdiff_t(at + n)});
    at += n;
  }
  auto optimizer = make_optimizer(ex);
  std::vector<double> p(problem.initial.begin(), problem.initial.end());
  for (int step = 1; step <= 4; ++step) {
    ex.forward();
    ex.backward(problem.loss);
    optimizer.step();
    std::vector<double> grad(p.size());
    for (std::size_t i = 0; i < p.size(); ++i) grad[i] = problem.r_host[i] + p[i];
    host_step(p, grad, step);
    std::size_t first = 0;
    for (std::size_t i = 0; i < problem.shapes.size(); ++i) {
      INFO("step " << step << ", parameter " << i);
      const auto device = ex.parameter("p" + std::to_string(i)).to_host();
      const std::vector<double> want(p.begin() + std::ptrdiff_t(first),
                                     p.begin() + std::ptrdiff_t(first + device.size()));
      CHECK(relative_error(device, want) < 1e-5);
      first += device.size();
    }
  }
}

}  // namespace

TEST_CASE("SGD with momentum, Nesterov and weight decay matches the host", "[optim]") {
  for (auto [momentum, nesterov, wd] : std::vector<std::tuple<float, bool, float>>{
           {0.0f, false, 0.0f}, {0.9f, false, 0.0f}, {0.9f, true, 0.01f}, {0.5f, false, 0.1f}}) {
    INFO("momentum " << momentum << " nesterov " << nesterov << " wd " << wd);
    Problem problem;
    optim::SGDOptions o;
    o.lr = 0.1f, o.momentum = momentum, o.nesterov = nesterov, o.weight_decay = wd;
    std::vector<double> v(problem.initial.size(), 0.0);
    run_steps(
        problem, [&](Executor& ex) { return optim::SGD(ex, o); },
        [&](std::vector<double>& p, const std::vector<double>& g, int) {
          for (std::size_t i = 0; i < p.size(); ++i) {
            double grad = g[i] + wd * p[i];
            if (momentum != 0.0f) {
              v[i] = momentum * v[i] + grad;
              grad = nesterov ? grad + momentum * v[i] : v[i];
            }
            p[i] -= o.lr * grad;
          }
        });
  }
}

TEST_CASE("Adam and AdamW match the host", "[optim]") {
  for (bool decoupled : {false, true}) {
    INFO("decoupled " << decoupled);
    Problem problem;
    optim::AdamOptions o = decoupled ? optim::adamw(0.05f, 0.1f) : optim::AdamOptions{};
    if (!decoupled) o.lr = 0.05f, o.weight_decay = 0.01f;
    std::vector<double> m(problem.initial.size(), 0.0), v(m.size(), 0.0);
    run_steps(
        problem, [&](Executor& ex) { return optim::Adam(ex, o); },
        [&](std::vector<double>& p, const std::vector<double>& g, int t) {
          for (std::size_t i = 0; i < p.size(); ++i) {
            double grad = g[i];
            if (decoupled)
              p[i] -= double(o.lr) * o.weight_decay * p[i];
            else
              grad += o.weight_decay * p[i];
            m[i] = o.beta1 * m[i] + (1 - o.beta1) * grad;
            v[i] = o.beta2 * v[i] + (1 - o.beta2) * grad * grad;
            double mh = m[i] / (1 - std::pow(double(o.beta1), t));
            double vh = v[i] / (1 - std::pow(double(o.beta2), t));
            p[i] -= o.lr * mh / (std::sqrt(vh) + o.eps);
          }
        });
  }
}

TEST_CASE("optimizer options are checked", "[optim][errors]") {
  Problem problem;
  Executor ex(context(), problem.g, {problem.loss}, Mode::training);
  optim::SGDOptions bad_lr;
  bad_lr.lr = 0.0f;
  CHECK_THROWS_AS(optim::SGD(ex, bad_lr), Error);
  optim::SGDOptions nesterov;
  nesterov.nesterov = true;
  CHECK_THROWS_WITH(optim::SGD(ex, nesterov), Catch::Contains("Nesterov"));
  optim::AdamOptions bad_beta;
  bad_beta.beta1 = 1.0f;
  CHECK_THROWS_AS(optim::Adam(ex, bad_beta), Error);
}

namespace {

// The problem's executor with R set, R0's first element replaced by `first` where given.
void set_problem_inputs(Executor& ex, const Problem& problem, std::optional<float> first = {}) {
  std::size_t at = 0;
  for (std::size_t i = 0; i < problem.shapes.size(); ++i) {
    const auto n = std::size_t(element_count(problem.shapes[i]));
    std::vector<float> r(problem.r_host.begin() + std::ptrdiff_t(at),
                         problem.r_host.begin() + std::ptrdiff_t(at + n));
    if (i == 0 && first) r[0] = *first;
    ex.set_input("R" + std::to_string(i), r);
    at += n;
  }
}

std::vector<std::vector<float>> parameters_of(const Executor& ex) {
  std::vector<std::vector<float>> out;
  for (const Value& p : ex.parameters()) out.push_back(ex.parameter(p.name()).to_host());
  return out;
}

}  // namespace

TEST_CASE("loss scaling: a power-of-two scale leaves fp32 updates bit for bit", "[optim]") {
  // Backward is linear in the loss's seed, and scaling by 2^16 and back is exact in fp32.
  Problem problem;
  Executor plain(context(), problem.g, {problem.loss}, Mode::training);
  Executor scaled(context(), problem.g, {problem.loss}, Mode::training);
  set_problem_inputs(plain, problem);
  set_problem_inputs(scaled, problem);
  optim::Adam plain_adam(plain, optim::AdamOptions{});
  optim::Adam scaled_adam(scaled, optim::AdamOptions{});
  optim::LossScaler scaler(context());
  for (int step = 0; step < 4; ++step) {
    plain.forward();
    plain.backward(problem.loss);
    plain_adam.step();
    scaled.forward();
    CHECK(scaler.scale() == 65536.0f);
    scaled.backward(problem.loss, scaler.device_state());
    // The gradients are the unscaled ones times the scale, exactly.
    const Value p0 = scaled.parameters()[0];
    const auto g = scaled.gradient(p0).to_host(), want = plain.gradient(p0).to_host();
    for (std::size_t i = 0; i < g.size(); ++i) CHECK(g[i] == want[i] * 65536.0f);
    scaler.step(scaled, scaled_adam);
  }
  CHECK(parameters_of(scaled) == parameters_of(plain));
  CHECK(scaler.skipped() == 0);
  CHECK(scaled_adam.steps() == 4);
  // On several ranks, 1 / the ranks and 1 / the scale compose exactly too.
  plain_adam.set_grad_scale(0.25f);
  scaled_adam.set_grad_scale(0.25f);
  plain.forward();
  plain.backward(problem.loss);
  plain_adam.step();
  scaled.forward();
  scaled.backward(problem.loss, scaler.device_state());
  scaler.step(scaled, scaled_adam);
  CHECK(parameters_of(scaled) == parameters_of(plain));
}

TEST_CASE("loss scaling: non-finite gradients skip the step and back the scale off",
          "[optim]") {
  Problem problem;
  Executor ex(context(), problem.g, {problem.loss}, Mode::training);
  optim::SGDOptions so;
  so.lr = 0.1f;
  optim::SGD sgd(ex, so);
  optim::LossScalerOptions o;
  o.growth_interval = 3;
  optim::LossScaler scaler(context(), o);
  // One step of scaler and optimizer as the Trainer takes it.
  auto step = [&] {
    ex.forward();
    ex.backward(problem.loss, scaler.device_state());
    scaler.step(ex, sgd);
  };
  // An infinity and a NaN in the data reach one gradient element each: no update, the scale
  // halved each time.
  for (float bad : {INFINITY, NAN}) {
    INFO("injected " << bad);
    set_problem_inputs(ex, problem, bad);
    const auto before = parameters_of(ex);
    const float scale = scaler.scale();
    step();
    CHECK(parameters_of(ex) == before);
    CHECK(sgd.steps() == 0);
    CHECK(scaler.scale() == scale / 2);
  }
  CHECK(scaler.skipped() == 2);
  // Finite again: steps update, and the scale doubles after growth_interval of them in a row.
  set_problem_inputs(ex, problem);
  const float backed_off = scaler.scale();
  for (int i = 0; i < 3; ++i) {
    CHECK(scaler.scale() == backed_off);
    CHECK(scaler.state().finite_in_a_row == i);
    const auto before = parameters_of(ex);
    step();
    CHECK(parameters_of(ex) != before);
  }
  CHECK(scaler.scale() == 2 * backed_off);
  CHECK(sgd.steps() == 3);
  // A scale too high for the gradients themselves (2^127 times a gradient of 7 or more
  // overflows): the scaler backs off until they fit.
  o.initial_scale = std::ldexp(1.0f, 127);
  optim::LossScaler high(context(), o);
  set_problem_inputs(ex, problem, 8.0f);
  ex.forward();
  int tries = 0;
  while (tries < 10 && high.skipped() == tries) {
    ex.backward(problem.loss, high.device_state());
    high.step(ex, sgd);
    ++tries;
  }
  CHECK(tries > 1);
  CHECK(high.skipped() == tries - 1);
  CHECK(high.scale() < std::ldexp(1.0f, 127));
  CHECK(sgd.steps() == 4);
}

TEST_CASE("loss scaling: Adam's bias correction counts only the steps taken", "[optim]") {
  // Adam after a skipped step and 3 taken must equal Adam after the same 3 alone: the skip
  // moves neither its moments nor its step count.
  Problem problem;
  Executor skipping(context(), problem.g, {problem.loss}, Mode::training);
  Executor straight(context(), problem.g, {problem.loss}, Mode::training);
  optim::Adam skipping_adam(skipping, optim::AdamOptions{});
  optim::Adam straight_adam(straight, optim::AdamOptions{});
  optim::LossScalerOptions o;
  o.initial_scale = 131072.0f;  // backed off to 65536 by the skip
  optim::LossScaler skipping_scaler(context(), o);
  optim::LossScaler straight_scaler(context());
  set_problem_inputs(skipping, problem, INFINITY);
  skipping.forward();
  skipping.backward(problem.loss, skipping_scaler.device_state());
  skipping_scaler.step(skipping, skipping_adam);
  CHECK(skipping_scaler.skipped() == 1);
  set_problem_inputs(skipping, problem);
  set_problem_inputs(straight, problem);
  for (int step = 0; step < 3; ++step)
    for (auto [ex, adam, scaler] : {std::tuple{&skipping, &skipping_adam, &skipping_scaler},
                                    std::tuple{&straight, &straight_adam, &straight_scaler}}) {
      ex->forward();
      ex->backward(problem.loss, scaler->device_state());
      scaler->step(*ex, *adam);
    }
  CHECK(skipping_adam.steps() == 3);
  CHECK(parameters_of(skipping) == parameters_of(straight));
}

TEST_CASE("loss scaling: the state round-trips, and Adam's steps past its table", "[optim]") {
  Problem problem;
  Executor ex(context(), problem.g, {problem.loss}, Mode::training);
  optim::LossScaler scaler(context());
  const optim::LossScalerState state{0.25f, 1999, 4294967295LL};
  scaler.set_state(state);
  CHECK(scaler.state().scale == 0.25f);
  CHECK(scaler.state().finite_in_a_row == 1999);
  CHECK(scaler.state().skipped == 4294967295LL);
  CHECK_THROWS_WITH(scaler.set_state({0.0f, 0, 0}), Catch::Contains("scale"));
  CHECK_THROWS_WITH(scaler.set_state({1.0f, -1, 0}), Catch::Contains("finite steps"));
  CHECK_THROWS_WITH(scaler.set_state({1.0f, 0, 1LL << 32}), Catch::Contains("skipped"));
  // A step count set anywhere, the table of bias corrections (built to where both round to 1,
  // about 17,000 steps for beta2 = 0.999) covers it or the kernel takes 1: against the host's
  // formula, two steps from each of two starts.
  optim::Adam adam(ex, optim::AdamOptions{});
  CHECK_THROWS_WITH(adam.set_steps(-1), Catch::Contains("steps"));
  set_problem_inputs(ex, problem);
  for (std::int64_t start : {std::int64_t(5000), std::int64_t(3000000000LL)}) {
    INFO("steps from " << start);
    Executor fresh(context(), problem.g, {problem.loss}, Mode::training);
    set_problem_inputs(fresh, problem);
    optim::Adam first(fresh, optim::AdamOptions{});
    first.set_steps(start);
    const auto initial = parameters_of(fresh);
    fresh.forward();
    fresh.backward(problem.loss);
    first.step();
    CHECK(first.steps() == start + 1);
    // One Adam step from zero moments: p -= lr * (g (1 - b1) / c1) / (sqrt(g^2 (1 - b2) / c2) +
    // eps), with c = 1 - b^(start + 1).
    const optim::AdamOptions ao;
    const double t = double(start + 1);
    const double c1 = 1 - std::pow(double(ao.beta1), t), c2 = 1 - std::pow(double(ao.beta2), t);
    const auto after = parameters_of(fresh);
    const auto params = fresh.parameters();
    for (std::size_t p = 0; p < params.size(); ++p) {
      const auto g = fresh.gradient(params[p]).to_host();
      for (std::size_t i = 0; i < g.size(); ++i) {
        const double m = (1 - ao.beta1) * double(g[i]) / c1;
        const double v = (1 - ao.beta2) * double(g[i]) * double(g[i]) / c2;
        const double want = double(initial[p][i]) - ao.lr * m / (std::sqrt(v) + ao.eps);
        CHECK(std::abs(after[p][i] - want) <= 1e-6 * (1 + std::abs(want)));
      }
    }
  }
}

TEST_CASE("loss scaling options are checked", "[optim][errors]") {
  optim::LossScalerOptions o;
  o.backoff = 1.0f;
  CHECK_THROWS_WITH(optim::LossScaler(context(), o), Catch::Contains("backoff"));
  o = {};
  o.growth = 0.5f;
  CHECK_THROWS_WITH(optim::LossScaler(context(), o), Catch::Contains("growth"));
  o = {};
  o.initial_scale = INFINITY;
  CHECK_THROWS_WITH(optim::LossScaler(context(), o), Catch::Contains("initial scale"));
  o = {};
  o.growth_interval = 0;
  CHECK_THROWS_AS(optim::LossScaler(context(), o), Error);
  Problem problem;
  Executor ex(context(), problem.g, {problem.loss}, Mode::training);
  set_problem_inputs(ex, problem);
  ex.forward();
  CHECK_THROWS_WITH(ex.backward(problem.loss, 0.0f), Catch::Contains("loss scale"));
  CHECK_THROWS_WITH(ex.backward(problem.loss, NAN), Catch::Contains("loss scale"));
  optim::SGD sgd(ex, optim::SGDOptions{});
  CHECK_THROWS_WITH(sgd.set_grad_scale(-1.0f), Catch::Contains("gradient scale"));
}

TEST_CASE("initializers are seeded and follow their fans", "[init]") {
  const Shape shape{200, 300};
  auto a = init::xavier_uniform(5)(shape), b = init::xavier_uniform(5)(shape);
  CHECK(a == b);
  CHECK(a != init::xavier_uniform(6)(shape));
  const double bound = std::sqrt(6.0 / 500.0);
  double sq = 0;
  for (float x : a) {
    CHECK(std::fabs(x) <= bound);
    sq += double(x) * x;
  }
  CHECK(std::sqrt(sq / double(a.size())) == Approx(bound / std::sqrt(3.0)).epsilon(0.02));

  auto stddev = [](const std::vector<float>& v) {
    double s = 0, s2 = 0;
    for (float x : v) s += x, s2 += double(x) * x;
    double m = s / double(v.size());
    return std::sqrt(s2 / double(v.size()) - m * m);
  };
  CHECK(stddev(init::he_normal(1)(shape)) == Approx(std::sqrt(2.0 / 200)).epsilon(0.02));
  CHECK(stddev(init::xavier_normal(1)(shape)) == Approx(std::sqrt(2.0 / 500)).epsilon(0.02));
  CHECK(stddev(init::he_uniform(1)(shape)) ==
        Approx(std::sqrt(6.0 / 200) / std::sqrt(3.0)).epsilon(0.02));
  CHECK(init::constant(2.5f)({3}) == std::vector<float>{2.5f, 2.5f, 2.5f});
  CHECK(init::zeros()({2, 2}) == std::vector<float>(4, 0.0f));

  auto conv = init::fans({16, 3, 5, 5});
  CHECK(conv.in == 75);
  CHECK(conv.out == 400);
  CHECK(init::fans({7}).in == 7);
}
