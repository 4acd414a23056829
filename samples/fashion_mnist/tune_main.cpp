// clnn-tune: tunes clnn's matmul kernel ahead of time, for given products or for every product a
// Fashion-MNIST model's training step launches (then the elementwise and reduction plans over
// that model's whole passes), and stores the winners in the tuning cache (see clnn/tune.hpp).
// Later runs on this device use them at once.
#include <clnn/clnn.hpp>

#include <cstdio>
#include <sstream>
#include <string>

#include "models.hpp"

namespace {

const char* kUsage =
    "usage: clnn-tune [--device SPEC] [--full] [--verbose] [--model default|large] [--batch N]\n"
    "                 [--matmul M,N,K[,TA,TB]]...\n";

bool verbose = false;  // --verbose: every candidate's time too

void print(const clnn::TuneResult& r, const std::string& what) {
  if (verbose)
    for (const auto& [config, ms] : r.timings) std::printf("    %9.3f ms  %s\n", ms, config.c_str());
  std::printf("%-26s planned %8.3f ms, best %8.3f ms (%s), %zu candidates, %zu rejected",
              what.c_str(), r.planned_ms, r.best_ms, r.best.c_str(), r.candidates, r.rejected);
  if (r.kernel == "gemm")
    std::printf("; CLBlast %.3f ms: runs %s\n", r.clblast_wall_ms, r.backend.c_str());
  else
    std::printf(" (a whole training pass)\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string device, model;
  std::int64_t batch = 64;
  bool full = false;
  std::vector<std::vector<std::int64_t>> products;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
        return argv[++i];
      };
      if (arg == "--device")
        device = value();
      else if (arg == "--verbose")
        verbose = true;
      else if (arg == "--full")
        full = true;
      else if (arg == "--model")
        model = value();
      else if (arg == "--batch")
        batch = std::stoll(value());
      else if (arg == "--matmul") {
        std::vector<std::int64_t> p;
        std::stringstream in(value());
        for (std::string item; std::getline(in, item, ',');) p.push_back(std::stoll(item));
        if (p.size() != 3 && p.size() != 5)
          throw std::invalid_argument("--matmul takes M,N,K[,TA,TB]");
        p.resize(5, 0);
        products.push_back(p);
      } else
        throw std::invalid_argument("unknown option " + arg);
    }
    if (products.empty() && model.empty()) throw std::invalid_argument("nothing to tune");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "clnn-tune: %s\n%s", e.what(), kUsage);
    return 2;
  }
  try {
    clnn::Context ctx = device.empty() ? clnn::Context::create() : clnn::Context::create(device);
    const auto effort = full ? clnn::TuneEffort::full : clnn::TuneEffort::fast;
    std::printf("device: %s\n", ctx.device().label().c_str());
    for (const auto& p : products)
      print(clnn::tune_matmul(ctx, p[0], p[1], p[2], p[3] != 0, p[4] != 0, effort),
            "matmul " + std::to_string(p[0]) + "x" + std::to_string(p[1]) + "x" +
                std::to_string(p[2]));
    if (!model.empty()) {
      clnn::Graph g;
      clnn::Value images = g.input("images", {batch, 1, 28, 28});
      clnn::Value labels = g.input("labels", {batch});
      clnn::Value loss =
          clnn::softmax_cross_entropy(clnn::samples::fashion_model(model)(g, images), labels);
      clnn::Executor ex(ctx, g, {loss}, clnn::Mode::training);
      ex.set_input("images", std::vector<float>(std::size_t(batch * 784), 0.1f));
      ex.set_input("labels", std::vector<float>(std::size_t(batch), 1.0f));
      const auto results = clnn::tune_executor(ex, loss, effort);
      for (const auto& r : results)
        print(r, r.kernel == "gemm" ? model + " model product" : model + " model " + r.kernel);
      if (results.size() <= 2) std::printf("the %s model launched no matrix products\n", model.c_str());
    }
    return 0;
  } catch (const clnn::Error& e) {
    std::fprintf(stderr, "clnn-tune: %s\n", e.what());
    return 1;
  }
}
