// clnn-vit: a small Vision Transformer trained on Fashion-MNIST. Each 28 x 28 image is cut into
// 4 x 4 patches (49 tokens), embedded by a strided convolution, given a learned position, passed
// through pre-norm transformer encoder layers (GELU, dropout) and averaged over tokens into a
// linear classifier. Its last line is "test accuracy: 0.XXXX".
#include <clnn/clnn.hpp>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

namespace {

struct Args {
  std::string device, data = clnn::data::kFashionMnistDir;
  std::int64_t epochs = 15, batch = 128, limit = 0, dim = 64, heads = 4, layers = 4, patch = 4;
  float lr = 1e-3f, dropout = 0.1f;
};

clnn::train::Model vit(const Args& a) {
  return [a](clnn::Graph& g, const clnn::Value& images) {
    using namespace clnn;
    const Shape& s = images.shape();  // [batch, 1, rows, cols]
    nn::Conv2d embed(g, "patches", 1, a.dim, a.patch, nn::ConvLayerOptions{a.patch, 0});
    const Value grid = embed(images);  // [batch, dim, rows / patch, cols / patch]
    const std::int64_t tokens = grid.shape()[2] * grid.shape()[3];
    Value x = transpose(reshape(grid, {s[0], a.dim, tokens}), {0, 2, 1});  // [batch, tokens, dim]
    x = add(x, g.parameter("position", {tokens, a.dim}, init::normal(0.02f, 7)));
    nn::TransformerOptions o;
    o.feedforward = 2 * a.dim;
    o.dropout = a.dropout;
    o.gelu = true;
    o.norm_first = true;
    for (std::int64_t l = 0; l < a.layers; ++l)
      x = nn::TransformerEncoderLayer(g, "layer" + std::to_string(l), a.dim, a.heads, o)(x);
    x = nn::LayerNorm(g, "norm", {a.dim})(x);
    return nn::Linear(g, "head", a.dim, 10)(mean(x, {1}));  // [batch, 10]
  };
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  CLI::App app{"Trains a small Vision Transformer on Fashion-MNIST and reports the test accuracy.",
               "clnn-vit"};
  app.add_option("--epochs", a.epochs, "epochs to train")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--batch", a.batch, "batch size")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--limit", a.limit, "train on the first N images only (0: all)")
      ->check(CLI::Range(0, 1000000000));
  app.add_option("--lr", a.lr, "Adam's learning rate (cosine schedule)")
      ->check(CLI::Range(1e-8, 10.0))
      ->capture_default_str();
  app.add_option("--dim", a.dim, "token size")->check(CLI::Range(4, 4096))->capture_default_str();
  app.add_option("--heads", a.heads, "attention heads (dividing --dim)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--layers", a.layers, "encoder layers")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--dropout", a.dropout, "dropout in the encoder layers")
      ->check(CLI::Range(0.0, 0.9))
      ->capture_default_str();
  app.add_option("--device", a.device,
                 "gpu, cpu, P:D or part of a name (default: CLNN_DEVICE, else the best)");
  app.add_option("--data", a.data, "the Fashion-MNIST files")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    clnn::Context ctx =
        a.device.empty() ? clnn::Context::create() : clnn::Context::create(a.device);
    std::printf("device: %s\n", ctx.device().label().c_str());
    const clnn::data::FashionMnist data = clnn::data::load_fashion_mnist(a.data);
    clnn::train::Options o;
    o.epochs = a.epochs;
    o.batch_size = a.batch;
    o.limit = a.limit;
    o.lr = a.lr;
    o.schedule = clnn::train::Schedule::cosine;
    clnn::train::Trainer trainer(ctx, vit(a), data.train, data.test, o);
    std::printf(
        "model: ViT, %lld parameters (%lld layers of %lld with %lld heads, patches of %lld)\n",
        (long long)trainer.parameter_count(), (long long)a.layers, (long long)a.dim,
        (long long)a.heads, (long long)a.patch);
    std::fflush(stdout);
    trainer.fit();
    std::printf("test accuracy: %.4f\n", trainer.evaluate(data.test).accuracy);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "clnn-vit: %s\n", e.what());
    return 1;
  }
}
