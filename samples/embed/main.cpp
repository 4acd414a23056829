// clnn-embed: an application built against the installed clnn. Lists the devices, runs
// y = a*x + y on the default device, then builds the seed two-layer network with the public API,
// loads known weights and checks gradient() against its own double-precision chain rule.
#include <clnn/clnn.hpp>

#include <cmath>
#include <cstdio>

namespace {

double sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

double relative_error(const std::vector<float>& got, const std::vector<double>& want) {
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    diff += (got[i] - want[i]) * (got[i] - want[i]);
    norm += want[i] * want[i];
  }
  return std::sqrt(diff / norm);
}

bool check_axpy(const clnn::Context& ctx) {
  const int n = 1000;
  std::vector<float> x(n), y(n, 1.0f);
  for (int i = 0; i < n; ++i) x[i] = float(i);
  clnn::Tensor tx = clnn::Tensor::from_host(ctx, {n}, x);
  clnn::Tensor ty = clnn::Tensor::from_host(ctx, {n}, y);
  clnn::axpy(2.0f, tx, ty);
  std::vector<float> result = ty.to_host();
  for (int i = 0; i < n; ++i)
    if (std::fabs(result[i] - (2.0f * i + 1.0f)) > 1e-6f) return false;
  return true;
}

// Z = XW, A = s(Z), G = AW', O = s(G), J = mean((O - Y)^2); dJ/dW' = A^T d1, dJ/dW = X^T d2.
bool check_seed_network(const clnn::Context& ctx) {
  const int n = 4, in = 2, hidden = 3;
  clnn::Graph g;
  clnn::Value X = g.input("X", {n, in});
  clnn::Value Y = g.input("Y", {n, 1});
  clnn::Value W = g.parameter("W", {in, hidden}, clnn::init::xavier_uniform(1));
  clnn::Value W2 = g.parameter("W2", {hidden, 1}, clnn::init::xavier_uniform(2));
  clnn::Value O = clnn::sigmoid(clnn::matmul(clnn::sigmoid(clnn::matmul(X, W)), W2));
  clnn::Value J = clnn::mse_loss(O, Y);

  const std::vector<float> x{0, 0, 0, 1, 1, 0, 1, 1}, y{0, 1, 1, 0};
  const std::vector<float> w{0.5f, -0.25f, 0.75f, -0.5f, 0.125f, 0.3f}, w2{0.4f, -0.6f, 0.2f};
  clnn::Executor ex(ctx, g, {J}, clnn::Mode::training);
  ex.set_input("X", x);
  ex.set_input("Y", y);
  ex.set_parameter("W", w);
  ex.set_parameter("W2", w2);
  ex.forward();
  ex.backward(J);

  std::vector<double> dW(in * hidden, 0.0), dW2(hidden, 0.0);
  for (int i = 0; i < n; ++i) {
    double a[hidden], g_sum = 0;
    for (int j = 0; j < hidden; ++j) {
      double z = 0;
      for (int k = 0; k < in; ++k) z += x[i * in + k] * w[k * hidden + j];
      a[j] = sigmoid(z);
      g_sum += a[j] * w2[j];
    }
    double o = sigmoid(g_sum);
    double d1 = 2.0 / n * (o - y[i]) * o * (1 - o);
    for (int j = 0; j < hidden; ++j) {
      dW2[j] += a[j] * d1;
      double d2 = d1 * w2[j] * a[j] * (1 - a[j]);
      for (int k = 0; k < in; ++k) dW[k * hidden + j] += x[i * in + k] * d2;
    }
  }
  double e1 = relative_error(ex.gradient(W).to_host(), dW);
  double e2 = relative_error(ex.gradient(W2).to_host(), dW2);
  std::printf("clnn-embed: seed network gradients, relative error dW %.2e, dW' %.2e\n", e1, e2);
  return e1 < 1e-4 && e2 < 1e-4;
}

}  // namespace

int main() {
  try {
    for (const auto& d : clnn::list_devices())
      std::printf("device %s [%s]\n", d.label().c_str(), clnn::to_string(d.type).c_str());
    clnn::Context ctx = clnn::Context::create();
    if (!check_axpy(ctx)) {
      std::printf("clnn-embed: axpy gave a wrong result\n");
      return 1;
    }
    std::printf("clnn-embed: axpy on %s: ok\n", ctx.device().name.c_str());
    if (!check_seed_network(ctx)) return 1;
    std::printf("clnn-embed: ok\n");
    return 0;
  } catch (const clnn::Error& e) {
    std::fprintf(stderr, "clnn-embed: %s\n", e.what());
    return 1;
  }
}
