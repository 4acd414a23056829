// clnn-finetune: fine-tunes an imported ONNX image classifier on Fashion-MNIST. The model's
// tensor named by --features (see --list) gets a new 10-class linear head; the whole model trains
// (its initializers are parameters) with Adam, is evaluated on the test set, exported to ONNX,
// imported again and checked to give the same outputs. Its last line is "test accuracy: 0.XXXX".
#include <clnn/clnn.hpp>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <string>

namespace {

struct Args {
  std::string model, features, device, data = clnn::data::kFashionMnistDir, export_path;
  std::int64_t epochs = 1, limit = 0;
  float lr = 1e-3f;
  bool list = false;
};

// How far two runs' outputs differ: the L2 norm of the difference over b's.
double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff += double(a[i] - b[i]) * double(a[i] - b[i]);
    norm += double(b[i]) * double(b[i]);
  }
  return std::sqrt(diff / std::max(norm, 1e-30));
}

int run(const Args& a) {
  using namespace clnn;
  onnx::Model model = onnx::load(a.model);
  if (a.list) {
    for (const auto& [name, value] : model.values)
      std::printf("%-40s %s\n", name.c_str(), to_string(value.shape()).c_str());
    return 0;
  }
  if (model.inputs.size() != 1 || model.inputs[0].second.shape().size() != 4)
    throw Error(a.model + ": the model must take one input of images [batch, 1, rows, cols]");
  const auto found = model.values.find(a.features);
  if (found == model.values.end())
    throw Error("--features: " + a.model + " has no tensor '" + a.features + "' (see --list)");
  const Value images = model.inputs[0].second, features = flatten(found->second, 1);
  const std::int64_t batch = images.shape()[0];
  if (features.shape()[0] != batch)
    throw Error("--features: '" + a.features + "' " + to_string(found->second.shape()) +
                " is not one row per image of the batch of " + std::to_string(batch));

  Context ctx = a.device.empty() ? Context::create() : Context::create(a.device);
  std::printf("device: %s\n", ctx.device().label().c_str());
  const data::FashionMnist data = data::load_fashion_mnist(a.data);
  nn::Linear head(model.graph, "finetune_head", features.shape()[1], 10);
  const Value logits = head(features);
  const Value labels = model.graph.input("finetune_labels", {batch});
  const Value loss = softmax_cross_entropy(logits, labels);
  Executor train(ctx, model.graph, {logits, loss}, Mode::training);
  optim::AdamOptions o;
  o.lr = a.lr;
  optim::Adam adam(train, o);
  std::printf("model: %s, features '%s' %s, a new head of %lld -> 10; batch %lld\n",
              a.model.c_str(), a.features.c_str(), to_string(found->second.shape()).c_str(),
              (long long)features.shape()[1], (long long)batch);

  const data::Normalization norm = data::pixel_statistics(data.train);
  std::vector<float> x, y;
  for (std::int64_t epoch = 0; epoch < a.epochs; ++epoch) {
    data::Batcher batches(data.train, batch, 1, norm, true, a.limit);
    batches.start_epoch(epoch);
    double total = 0;
    std::int64_t steps = 0;
    while (batches.next(x, y)) {
      train.set_input(images.name(), x);
      train.set_input("finetune_labels", y);
      train.forward();
      train.backward(loss);
      adam.step();
      total += train.value(loss).to_host()[0];
      ++steps;
    }
    std::printf("epoch %lld: train loss %.4f over %lld batches\n", (long long)epoch + 1,
                steps ? total / double(steps) : 0.0, (long long)steps);
  }

  // Test accuracy and the exported model's agreement, through an inference executor.
  Executor tuned(ctx, model.graph, {logits}, Mode::inference);
  for (const Value& p : train.parameters())
    tuned.set_parameter(p.name(), train.parameter(p.name()).to_host());
  for (const Value& s : train.states()) tuned.set_state(s.name(), train.state(s.name()).to_host());
  data::Batcher test(data.test, batch, 1, norm, false);
  test.start_epoch(0);
  std::int64_t correct = 0, seen = 0;
  std::vector<float> first_images, first_logits;
  while (test.next(x, y)) {
    tuned.set_input(images.name(), x);
    tuned.forward();
    const auto out = tuned.value(logits).to_host();
    if (first_images.empty()) first_images = x, first_logits = out;
    for (std::int64_t n = 0; n < batch; ++n) {
      const float* row = out.data() + n * 10;
      correct += std::max_element(row, row + 10) - row == std::int64_t(y[std::size_t(n)]);
    }
    seen += batch;
  }
  if (!a.export_path.empty()) {
    onnx::save(model.graph, a.export_path, {logits}, &train);
    onnx::Model again = onnx::load(a.export_path);
    Executor reloaded(ctx, again.graph, {again.outputs[0].second}, Mode::inference);
    reloaded.set_input(again.inputs[0].first, first_images);
    reloaded.forward();
    const double diff =
        relative_difference(reloaded.value(again.outputs[0].second).to_host(), first_logits);
    std::printf("exported to %s; imported again, its outputs differ by %.2e (relative)\n",
                a.export_path.c_str(), diff);
    if (!(diff < 1e-5)) throw Error("the exported model's outputs differ from the trained one's");
  }
  std::printf("test accuracy: %.4f\n", double(correct) / double(std::max<std::int64_t>(seen, 1)));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  CLI::App app{"Fine-tunes an ONNX image classifier on Fashion-MNIST with a new head.",
               "clnn-finetune"};
  app.add_option("model", a.model, "the ONNX model (images [batch, 1, 28, 28] in)")->required();
  app.add_option("--features", a.features, "the tensor the new head reads (see --list)");
  app.add_flag("--list", a.list, "list the model's tensors and their shapes, then stop");
  app.add_option("--epochs", a.epochs, "epochs to train")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--limit", a.limit, "train on the first N images only (0: all)")
      ->check(CLI::Range(0, 1000000000));
  app.add_option("--lr", a.lr, "Adam's learning rate")
      ->check(CLI::Range(1e-8, 10.0))
      ->capture_default_str();
  app.add_option("--export", a.export_path, "write the fine-tuned model here as ONNX");
  app.add_option("--device", a.device,
                 "gpu, cpu, P:D or part of a name (default: CLNN_DEVICE, else the best)");
  app.add_option("--data", a.data, "the Fashion-MNIST files")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (!a.list && a.features.empty()) {
    std::fprintf(stderr, "clnn-finetune: --features is required (see --list)\n");
    return 1;
  }
  try {
    return run(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "clnn-finetune: %s\n", e.what());
    return 1;
  }
}
