// clnn-tune: tunes clnn's kernels ahead of time, for given products and convolutions or for
// every product and convolution a Fashion-MNIST model's training step launches (then the
// elementwise and reduction plans over that model's whole passes), and stores the winners in the
// tuning cache (see clnn/tune.hpp). Later runs on this device use them at once.
#include <clnn/clnn.hpp>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <optional>
#include <sstream>
#include <string>

#include "models.hpp"

namespace {

bool verbose = false;  // --verbose: every candidate's time too

void print(const clnn::TuneResult& r, const std::string& what) {
  if (verbose)
    for (const auto& [config, ms] : r.timings) std::printf("    %9.3f ms  %s\n", ms, config.c_str());
  std::printf("%-26s planned %8.3f ms, best %8.3f ms (%s), %zu candidates, %zu rejected",
              what.c_str(), r.planned_ms, r.best_ms, r.best.c_str(), r.candidates, r.rejected);
  if (r.kernel == "gemm" && r.backend == "gemv")
    std::printf("; CLBlast %.3f ms, matrix-vector %.3f ms: runs gemv\n", r.clblast_wall_ms,
                r.gemv_wall_ms);
  else if (r.kernel == "gemm" && r.blas_wall_ms > 0)
    std::printf("; CLBlast %.3f ms, host BLAS %.3f ms: runs %s\n", r.clblast_wall_ms,
                r.blas_wall_ms, r.backend.c_str());
  else if (r.kernel == "gemm" && r.clblast_wall_ms > 0)
    std::printf("; CLBlast %.3f ms: runs %s\n", r.clblast_wall_ms, r.backend.c_str());
  else if (r.kernel == "gemm")  // tap rows: clnn's kernel alone reads them
    std::printf("; runs %s\n", r.backend.c_str());
  else if (r.kernel == "conv")
    std::printf("\n");
  else
    std::printf(" (a whole training pass)\n");
}

// Whole numbers of at least 0 separated by commas; nothing where text holds anything else.
std::optional<std::vector<std::int64_t>> parse_numbers(const std::string& text) {
  std::vector<std::int64_t> numbers;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    std::size_t used = 0;
    try {
      numbers.push_back(std::stoll(item, &used));
    } catch (const std::exception&) {
      return std::nullopt;
    }
    if (used != item.size() || numbers.back() < 0) return std::nullopt;
  }
  return numbers;
}

// A product M,N,K[,TA,TB] as {M, N, K, TA, TB}; "" where text is one, else what is wrong.
std::string parse_product(const std::string& text, std::vector<std::int64_t>* product) {
  std::optional<std::vector<std::int64_t>> p = parse_numbers(text);
  if (!p || (p->size() != 3 && p->size() != 5)) return "not M,N,K[,TA,TB]: " + text;
  p->resize(5, 0);
  if (product) *product = *p;
  return "";
}

// A convolution X/W/PAD (x's and w's shapes, comma-separated, and the padding on every side) as
// its shapes and options; "" where text is one, else what is wrong.
struct ConvSpec {
  clnn::Shape x, w;
  clnn::ConvOptions options;
};

std::string parse_conv(const std::string& text, ConvSpec* spec) {
  const std::string wrong = "not X/W/PAD (e.g. 32,256,14,14/256,256,3,3/1): " + text;
  std::vector<std::vector<std::int64_t>> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, '/');) {
    const auto numbers = parse_numbers(part);
    if (!numbers) return wrong;
    parts.push_back(*numbers);
  }
  if (parts.size() != 3 || parts[0].size() < 3 || parts[1].size() != parts[0].size() ||
      parts[2].size() != 1)
    return wrong;
  if (spec) {
    spec->x = parts[0], spec->w = parts[1];
    spec->options.pads_begin.assign(parts[0].size() - 2, parts[2][0]);
    spec->options.pads_end = spec->options.pads_begin;
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  std::string device, model;
  std::int64_t batch = 64;
  bool full = false;
  std::vector<std::string> product_texts, conv_texts;
  CLI::App app{
      "Tunes clnn's kernels ahead of time, for given matrix products and convolutions or for a "
      "Fashion-MNIST model's training step, into the tuning cache.",
      "clnn-tune"};
  app.add_option("--device", device, "gpu, cpu, P:D or part of a name");
  app.add_flag("--full", full, "try every candidate, not only the usual shapes");
  app.add_flag("--verbose", verbose, "print every candidate's time");
  app.add_option("--model", model, "tune this model's step")
      ->check(CLI::IsMember({"default", "large"}));
  app.add_option("--batch", batch, "the model's batch size")
      ->check(CLI::Range(1, 1000000000))
      ->capture_default_str();
  app.add_option("--matmul", product_texts, "a product M,N,K[,TA,TB] (transposed A, B: 1)")
      ->check(CLI::Validator(
          [](std::string& text) { return parse_product(text, nullptr); }, "M,N,K[,TA,TB]"));
  app.add_option("--conv", conv_texts,
                 "a convolution X/W/PAD: x's and w's shapes and the padding (e.g. "
                 "32,256,14,14/256,256,3,3/1), where it runs as an implicit GEMM")
      ->check(CLI::Validator([](std::string& text) { return parse_conv(text, nullptr); },
                             "X/W/PAD"));
  CLI11_PARSE(app, argc, argv);
  std::vector<ConvSpec> convs(conv_texts.size());
  for (std::size_t i = 0; i < convs.size(); ++i) parse_conv(conv_texts[i], &convs[i]);
  std::vector<std::vector<std::int64_t>> products(product_texts.size());
  for (std::size_t i = 0; i < products.size(); ++i) parse_product(product_texts[i], &products[i]);
  if (products.empty() && convs.empty() && model.empty()) {
    std::fprintf(stderr, "clnn-tune: nothing to tune (--matmul, --conv or --model)\n%s",
                 app.help().c_str());
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
    for (std::size_t i = 0; i < convs.size(); ++i) {
      const auto results = clnn::tune_conv(ctx, convs[i].x, convs[i].w, convs[i].options, effort);
      const char* passes[] = {"conv forward", "conv input gradient"};
      for (std::size_t p = 0; p < results.size(); ++p)
        print(results[p], std::string(passes[p]) + " " + conv_texts[i]);
      if (results.empty())
        std::printf(
            "conv %s runs no implicit GEMM here (column matrices or Winograd's transforms): "
            "tune its products with --matmul or --model\n",
            conv_texts[i].c_str());
    }
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
        print(r, r.kernel == "gemm" ? model + " model product " + r.shape
                                    : model + " model " + r.kernel);
      if (results.size() <= 2)  // only the elementwise and reduction plans
        std::printf("the %s model launched no products or convolutions to tune\n", model.c_str());
    }
    return 0;
  } catch (const clnn::Error& e) {
    std::fprintf(stderr, "clnn-tune: %s\n", e.what());
    return 1;
  }
}
