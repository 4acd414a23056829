// The models suite: whole networks. clnn-fashion's models (training images/s at batch 64, 128 and
// 512 on Fashion-MNIST, inference latency at batch 1 and 32) and a zoo of torchvision models as
// ONNX files that compare/torch_models.py --export writes (inference latency at batch 1 and 32).
// With --profile each row also gets the per-op profile of a step (step_profile.hpp).
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <random>
#include <sstream>

#include "bench.hpp"
#include "clnn/clnn.hpp"
#include "clnn/onnx.hpp"
#include "cl/profiler.hpp"
#include "models.hpp"
#include "step_profile.hpp"

namespace clnn::bench {

namespace {

const std::vector<std::string> kBuiltIn{"default", "large"};
const std::vector<std::string> kZoo{
    "resnet18",    "resnet50",           "mobilenet_v2",  "vgg11",
    "alexnet",     "squeezenet1_1",      "r3d_18",        "mobilenet_v3_large",
    "densenet121", "shufflenet_v2_x1_0", "convnext_tiny", "vit_b_16",
    "swin_t",      "transformer_encoder"};
const std::vector<std::int64_t> kTrainBatches{64, 128, 512};
const std::vector<std::int64_t> kInferBatches{1, 32};
// A step's profile is averaged over this many steps: one alone varies with what else the
// machine runs.
constexpr std::int64_t kProfiledSteps = 3;

using Inputs = std::vector<std::pair<std::string, Value>>;

// What the rows share: the run's settings, the roofline (with --profile) and the results.
struct Suite {
  const Context& ctx;
  const Options& options;
  std::optional<Roofline> roofline;
  std::size_t flags = 0;
  std::vector<Record> records;

  bool wants(const std::string& model) const {
    const auto& chosen = options.models;
    return chosen.empty() || std::find(chosen.begin(), chosen.end(), model) != chosen.end();
  }

  // Records a measurement and prints its row, then its profile.
  void add(Record r, const std::string& figure, const std::optional<std::vector<OpRow>>& profile) {
    print_row(r, figure);
    if (profile) {
      print_profile(*profile);
      r["profile"] = profile_json(*profile);
      flags += flag_count(*profile);
    }
    records.push_back(std::move(r));
  }

  void add_error(const std::string& model, const char* kind, std::int64_t batch,
                 const std::string& error) {
    Record r{{"model", model}, {"kind", kind}, {"batch", batch}, {"error", error}};
    print_row(r, "error: " + error);
    records.push_back(std::move(r));
  }

  static void print_row(const Record& r, const std::string& figure) {
    fmt::print("{:<14} {:<5} {:>5}  {}\n", r["model"].get<std::string>(),
               r["kind"].get<std::string>(), r["batch"].get<std::int64_t>(), figure);
  }
};

void set_random_inputs(Executor& ex, const Inputs& inputs) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (const auto& [name, v] : inputs) {
    std::vector<float> values(std::size_t(element_count(v.shape())));
    for (float& x : values) x = uniform(rng);
    ex.set_input(name, values);
  }
}

// Forward latency of an executor whose inputs are set, and the profile of a forward.
void add_inference(Suite& suite, const std::string& model, std::int64_t batch, Executor& ex) {
  const double ms = median_seconds(suite.ctx, [&] { ex.forward(); }) * 1e3;
  std::optional<std::vector<OpRow>> profile;
  if (suite.roofline)
    profile = profile_steps(suite.ctx, *suite.roofline, double(kProfiledSteps), [&] {
      for (std::int64_t i = 0; i < kProfiledSteps; ++i) ex.forward();
    });
  suite.add({{"model", model}, {"kind", "infer"}, {"batch", batch}, {"ms", ms}},
            fmt::format("{:.3f} ms", ms), profile);
}

void add_builtin_inference(Suite& suite, const std::string& model, std::int64_t batch) {
  Graph g;
  Value images = g.input("images", {batch, 1, 28, 28});
  Value logits = samples::fashion_model(model)(g, images);
  Executor ex(suite.ctx, g, {logits}, Mode::inference);
  set_random_inputs(ex, {{"images", images}});
  add_inference(suite, model, batch, ex);
}

// Training images/s over `--steps` batches (by default on a GPU 200 or an epoch, whichever is
// shorter; elsewhere 20, as the rate is steady after the first few), after a warm-up run that
// builds the programs. Evaluation (one batch) is not timed.
void add_training(Suite& suite, const data::FashionMnist& data, const std::string& model,
                  std::int64_t batch) {
  const Context& ctx = suite.ctx;
  const std::int64_t epoch_steps = data.train.count / batch;
  const std::int64_t wanted = suite.options.steps > 0                ? suite.options.steps
                              : ctx.device().type == DeviceType::gpu ? 200
                                                                     : 20;
  const std::int64_t steps = std::min(wanted, epoch_steps);
  data::ImageSet eval = data.test;
  eval.count = batch;
  eval.pixels.resize(std::size_t(batch * eval.rows * eval.cols));
  eval.labels.resize(std::size_t(batch));

  std::ostringstream log;
  train::Options o;
  o.epochs = 1;
  o.batch_size = batch;
  o.lr = 1e-3f;
  o.log = &log;
  auto trainer_over = [&](std::int64_t batches) {
    train::Options limited = o;
    limited.limit = batches * batch;
    limited.progress_steps = batches;
    return std::make_unique<train::Trainer>(ctx, samples::fashion_model(model), data.train, eval,
                                            limited);
  };
  trainer_over(2)->fit();  // warm-up
  const auto metrics = trainer_over(steps)->fit().at(0);
  std::optional<std::vector<OpRow>> profile;
  if (suite.roofline) {
    auto profiled = trainer_over(kProfiledSteps);  // made outside the profile
    profile =
        profile_steps(ctx, *suite.roofline, double(kProfiledSteps), [&] { profiled->fit(); });
  }
  suite.add({{"model", model},
             {"kind", "train"},
             {"batch", batch},
             {"images_per_second", metrics.images_per_second},
             {"steps", steps}},
            fmt::format("{:.0f} images/s ({} steps, {:.1f} s)", metrics.images_per_second, steps,
                        metrics.seconds),
            profile);
}

void run_builtin(Suite& suite) {
  std::optional<data::FashionMnist> data;
  for (const std::string& model : kBuiltIn) {
    if (!suite.wants(model)) continue;
    for (std::int64_t batch : kTrainBatches) {
      try {
        if (!data) data = data::load_fashion_mnist(suite.options.data_dir);
        add_training(suite, *data, model, batch);
      } catch (const std::exception& e) {
        suite.add_error(model, "train", batch, e.what());
      }
    }
    for (std::int64_t batch : kInferBatches) {
      try {
        add_builtin_inference(suite, model, batch);
      } catch (const std::exception& e) {
        suite.add_error(model, "infer", batch, e.what());
      }
    }
  }
}

void run_zoo(Suite& suite) {
  const std::filesystem::path folder = suite.options.zoo;
  for (const std::string& model : kZoo) {
    if (!suite.wants(model)) continue;
    for (std::int64_t batch : kInferBatches) {
      const auto path = folder / fmt::format("{}_b{}.onnx", model, batch);
      if (!std::filesystem::exists(path)) {
        fmt::print(
            "{} b{}: skipped ({} absent; bench/compare/torch_models.py --export {} makes it)\n",
            model, batch, path.string(), folder.string());
        continue;
      }
      try {
        onnx::Model loaded = onnx::load(path.string());
        std::vector<Value> outputs;
        for (const auto& [name, v] : loaded.outputs) outputs.push_back(v);
        Executor ex(suite.ctx, loaded.graph, outputs, Mode::inference);
        set_random_inputs(ex, loaded.inputs);
        add_inference(suite, model, batch, ex);
      } catch (const std::exception& e) {
        suite.add_error(model, "infer", batch, e.what());
      }
    }
  }
}

}  // namespace

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> all = kBuiltIn;
    all.insert(all.end(), kZoo.begin(), kZoo.end());
    return all;
  }();
  return names;
}

std::vector<Record> models_suite(const Context& ctx, const Options& options) {
  Options opts = options;
  if (opts.profile_nodes) {
    opts.profile = true;
    detail::set_profiling_by_node(true);
  }
  Suite suite{ctx, opts, std::nullopt, 0, {}};
  if (opts.profile) {
    suite.roofline = Roofline::measure(ctx);
    fmt::print(
        "roofline: {:.1f} GB/s (clnn's copy), {:.0f} GFLOP/s (peak_gflops); floor: {:.2f} us a "
        "launch (a near-empty kernel's, profiled)\n",
        suite.roofline->gbps, suite.roofline->gflops, suite.roofline->launch_seconds * 1e6);
  }
  fmt::print("{:<14} {:<5} {:>5}  {}\n", "model", "kind", "batch", "figure");
  run_builtin(suite);
  run_zoo(suite);
  if (opts.profile)
    fmt::print(
        "\n{} flagged profile rows (over {:.0f}% of a step at under {:.0f}% of its roofline)\n",
        suite.flags, 100 * kFlagShare, 100 * kFlagRoofline);
  return suite.records;
}

}  // namespace clnn::bench
