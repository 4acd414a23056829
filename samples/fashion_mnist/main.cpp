// clnn-fashion: trains a CNN on Fashion-MNIST on the chosen device and reports the test accuracy.
// The main job of scripts/run-demo; its last line is "test accuracy: 0.XXXX".
#include <clnn/clnn.hpp>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "models.hpp"

namespace {

const char* kUsage =
    "usage: clnn-fashion [options]\n"
    "  --model default|large   the network (default: default)\n"
    "  --epochs N              epochs to train (default: 2)\n"
    "  --batch N               batch size (default: 64)\n"
    "  --lr X                  learning rate (default: 0.003 with Adam, 0.05 with SGD)\n"
    "  --optimizer adam|sgd    (default: adam; sgd has momentum 0.9)\n"
    "  --schedule constant|step|cosine  learning-rate schedule (default: cosine)\n"
    "  --device SPEC           gpu, cpu, P:D or part of a name (default: CLNN_DEVICE, else best)\n"
    "  --data DIR              the Fashion-MNIST files (default: "
    "/usr/share/datasets/fashion-mnist)\n"
    "  --save FILE             write a checkpoint after every epoch\n"
    "  --resume FILE           continue from a checkpoint\n"
    "  --metrics FILE          per-epoch CSV (and an SVG of the curves beside it)\n"
    "  --export FILE           write the trained model as ONNX (images in, logits out)\n"
    "  --limit N               train on the first N images only\n"
    "  --seed N                batch order and dropout (default: 1)\n";

struct Args {
  std::string model = "default", device, data = clnn::data::kFashionMnistDir, save, resume, metrics,
              export_path, optimizer = "adam", schedule = "cosine";
  std::int64_t epochs = 2, batch = 64, limit = 0;
  float lr = 0.0f;
  std::uint64_t seed = 1;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
    std::string v = argv[++i];
    auto number = [&](auto& out) {
      std::size_t used = 0;
      double x = std::stod(v, &used);
      if (used != v.size() || x < 0) throw std::invalid_argument("bad value for " + arg + ": " + v);
      out = static_cast<std::remove_reference_t<decltype(out)>>(x);
    };
    if (arg == "--model")
      a.model = v;
    else if (arg == "--device")
      a.device = v;
    else if (arg == "--data")
      a.data = v;
    else if (arg == "--save")
      a.save = v;
    else if (arg == "--resume")
      a.resume = v;
    else if (arg == "--metrics")
      a.metrics = v;
    else if (arg == "--export")
      a.export_path = v;
    else if (arg == "--optimizer")
      a.optimizer = v;
    else if (arg == "--schedule")
      a.schedule = v;
    else if (arg == "--epochs")
      number(a.epochs);
    else if (arg == "--batch")
      number(a.batch);
    else if (arg == "--limit")
      number(a.limit);
    else if (arg == "--lr")
      number(a.lr);
    else if (arg == "--seed")
      number(a.seed);
    else
      throw std::invalid_argument("unknown option " + arg);
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  try {
    args = parse(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "clnn-fashion: %s\n%s", e.what(), kUsage);
    return 2;
  }
  try {
    clnn::Context ctx =
        args.device.empty() ? clnn::Context::create() : clnn::Context::create(args.device);
    std::printf("device: %s\n", ctx.device().label().c_str());
    clnn::data::FashionMnist data = clnn::data::load_fashion_mnist(args.data);
    std::printf("data: %lld training and %lld test images from %s\n", (long long)data.train.count,
                (long long)data.test.count, args.data.c_str());

    clnn::train::Options o;
    o.epochs = args.epochs;
    o.batch_size = args.batch;
    o.seed = args.seed;
    o.limit = args.limit;
    o.checkpoint = args.save;
    o.metrics_csv = args.metrics;
    if (args.optimizer == "sgd")
      o.optimizer = clnn::train::OptimizerKind::sgd;
    else if (args.optimizer != "adam")
      throw clnn::Error("unknown optimizer '" + args.optimizer + "'");
    o.lr = args.lr > 0 ? args.lr : o.optimizer == clnn::train::OptimizerKind::sgd ? 0.05f : 0.003f;
    if (args.schedule == "step")
      o.schedule = clnn::train::Schedule::step;
    else if (args.schedule == "cosine")
      o.schedule = clnn::train::Schedule::cosine;
    else if (args.schedule != "constant")
      throw clnn::Error("unknown schedule '" + args.schedule + "'");

    clnn::train::Trainer trainer(ctx, clnn::samples::fashion_model(args.model), data.train,
                                 data.test, o);
    std::printf("model: %s, %lld parameters; %lld epochs of batch %lld, %s lr %g\n",
                args.model.c_str(), (long long)trainer.parameter_count(), (long long)o.epochs,
                (long long)o.batch_size, args.optimizer.c_str(), double(o.lr));
    if (!args.resume.empty()) {
      trainer.resume(args.resume);
      std::printf("resumed from %s after epoch %lld\n", args.resume.c_str(),
                  (long long)trainer.epoch());
    }
    std::fflush(stdout);
    trainer.fit();
    clnn::train::Evaluation test = trainer.evaluate(data.test);
    std::cout << "confusion matrix (rows: true class, columns: predicted):\n"
              << clnn::train::format_confusion(test);
    if (!args.export_path.empty()) {
      trainer.export_onnx(args.export_path);
      std::printf("exported the model to %s\n", args.export_path.c_str());
    }
    std::printf("test accuracy: %.4f\n", test.accuracy);
    return 0;
  } catch (const clnn::Error& e) {
    std::fprintf(stderr, "clnn-fashion: %s\n", e.what());
    return 1;
  }
}
