// clnn-embed: an application built against the installed clnn. Lists the devices, opens the
// default one, runs y = a*x + y on it and checks the result on the host.
#include <clnn/clnn.hpp>

#include <cmath>
#include <cstdio>

int main() {
  try {
    for (const auto& d : clnn::list_devices())
      std::printf("device %s [%s]\n", d.label().c_str(), clnn::to_string(d.type).c_str());

    clnn::Context ctx = clnn::Context::create();
    const int n = 1000;
    std::vector<float> x(n), y(n);
    for (int i = 0; i < n; ++i) x[i] = float(i), y[i] = 1.0f;
    clnn::Tensor tx = clnn::Tensor::from_host(ctx, {n}, x);
    clnn::Tensor ty = clnn::Tensor::from_host(ctx, {n}, y);
    clnn::axpy(2.0f, tx, ty);
    std::vector<float> result = ty.to_host();
    for (int i = 0; i < n; ++i) {
      if (std::fabs(result[i] - (2.0f * i + 1.0f)) > 1e-6f) {
        std::printf("clnn-embed: wrong result at %d: %g\n", i, result[i]);
        return 1;
      }
    }
    std::printf("clnn-embed: axpy on %s: ok\n", ctx.device().name.c_str());
    return 0;
  } catch (const clnn::Error& e) {
    std::fprintf(stderr, "clnn-embed: %s\n", e.what());
    return 1;
  }
}
