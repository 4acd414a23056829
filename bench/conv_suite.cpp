// The conv suite: convolution layers forward, and forward + backward (gradients of input and
// weights), through the public graph API. The loss is sum(y), whose own cost is small beside the
// convolution's; the PyTorch peer (compare/torch_conv.py) times the same graph.
#include <fmt/format.h>

#include <algorithm>

#include "bench.hpp"
#include "clnn/clnn.hpp"

namespace clnn::bench {

namespace {

struct Layer {
  std::string name;
  Shape x, w;
  std::int64_t pad;
};

const std::vector<Layer>& layers() {
  static const std::vector<Layer> all{
      {"N128 C1 28x28 K32 5x5 pad 2", {128, 1, 28, 28}, {32, 1, 5, 5}, 2},
      {"N128 C32 14x14 K64 5x5 pad 2", {128, 32, 14, 14}, {64, 32, 5, 5}, 2},
      {"N32 C64 56x56 K64 3x3 pad 1", {32, 64, 56, 56}, {64, 64, 3, 3}, 1},
      {"N32 C256 14x14 K256 3x3 pad 1", {32, 256, 14, 14}, {256, 256, 3, 3}, 1},
      {"N8 C16 32x32x32 K32 3x3x3 pad 1", {8, 16, 32, 32, 32}, {32, 16, 3, 3, 3}, 1},
  };
  return all;
}

}  // namespace

std::vector<Record> conv_suite(const Context& ctx, const Options& options) {
  fmt::print("{:<34}  {:>10}  {:>10}  {:>12}  {:>12}\n", "layer", "fwd ms", "fwd TFLOP/s",
             "fwd+bwd ms", "fwd+bwd TFLOP/s");
  std::vector<Record> records;
  for (std::size_t number = 1; number <= layers().size(); ++number) {
    const auto& chosen = options.layers;
    if (!chosen.empty() && std::find(chosen.begin(), chosen.end(), number) == chosen.end())
      continue;
    const Layer& layer = layers()[number - 1];
    const std::size_t dims = layer.x.size() - 2;
    ConvOptions o;
    o.pads_begin.assign(dims, layer.pad);
    o.pads_end.assign(dims, layer.pad);
    Graph g;
    Value x = g.parameter("x", layer.x, init::uniform(-1.0f, 1.0f, 1));
    Value w = g.parameter("w", layer.w, init::he_uniform(2));
    Value y = conv(x, w, std::nullopt, o);
    Value loss = sum(y);
    Executor forward_only(ctx, g, {y}, Mode::inference);
    Executor training(ctx, g, {loss}, Mode::training);

    double macs = double(element_count(y.shape()));
    for (std::size_t d = 1; d < layer.w.size(); ++d) macs *= double(layer.w[d]);
    const double flops = 2.0 * macs;
    const double fwd = median_seconds(ctx, [&] { forward_only.forward(); });
    const double both = median_seconds(ctx, [&] {
      training.forward();
      training.backward(loss);
    });
    Record r;
    r["layer"] = layer.name;
    r["ms"] = fwd * 1e3;
    r["tflops"] = flops / fwd * 1e-12;
    r["train_ms"] = both * 1e3;
    r["train_tflops"] = 3.0 * flops / both * 1e-12;  // input and weight gradients: 2 more
    fmt::print("{:<34}  {:>10.3f}  {:>10.3f}  {:>12.3f}  {:>12.3f}\n", layer.name, fwd * 1e3,
               r["tflops"].get<double>(), both * 1e3, r["train_tflops"].get<double>());
    records.push_back(r);
  }
  return records;
}

}  // namespace clnn::bench
