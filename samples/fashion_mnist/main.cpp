// clnn-fashion: trains a CNN on Fashion-MNIST on the chosen device and reports the test accuracy.
// The main job of scripts/run-demo; its last line is "test accuracy: 0.XXXX". Under mpirun with
// --distributed, every rank trains on its share of each batch (data parallel); rank 0 reports.
#include <clnn/clnn.hpp>
#include <clnn/mpi.hpp>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>

#include "models.hpp"

namespace {

struct Args {
  std::string model = "default", device, data = clnn::data::kFashionMnistDir, save, resume, metrics,
              export_path, optimizer = "adam", schedule = "cosine", precision;
  std::int64_t epochs = 2, batch = 64, limit = 0;
  float lr = 0.0f;
  std::uint64_t seed = 1;
  bool show_schedule = false, distributed = false;
  double dist_timeout = 60.0;
};

// The names --optimizer and --schedule take, and what each selects.
const std::map<std::string, clnn::train::OptimizerKind> kOptimizers{
    {"adam", clnn::train::OptimizerKind::adam}, {"sgd", clnn::train::OptimizerKind::sgd}};
const std::map<std::string, clnn::train::Schedule> kSchedules{
    {"constant", clnn::train::Schedule::constant},
    {"step", clnn::train::Schedule::step},
    {"cosine", clnn::train::Schedule::cosine}};

// 0 (the optimizer's default) or a finite rate in [1e-8, 1000]: CLI::Range lets NaN through,
// and a rate that rounds to 0 as a float would silently become the default.
const CLI::Validator learning_rate(
    [](std::string& text) -> std::string {
      double v = 0;
      if (!CLI::detail::lexical_cast(text, v)) return "not a number: " + text;
      if (v == 0 || (std::isfinite(v) && v >= 1e-8 && v <= 1000)) return "";
      return "the learning rate must be 0 (the default) or in [1e-8, 1000], not " + text;
    },
    "0 or [1e-8, 1000]");

// Digits only: CLI11 reads "-1" into an unsigned seed as 2^64 - 1.
const CLI::Validator whole_number(
    [](std::string& text) -> std::string {
      const bool digits = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        return c >= '0' && c <= '9';
      });
      return digits ? "" : "not a whole number of 0 or more: " + text;
    },
    "UINT");

// One rank per device: where a machine has several GPUs and no device is named, its ranks take
// them in turn.
std::string device_of_rank(const Args& args, int local_rank) {
  if (!args.device.empty() || std::getenv("CLNN_DEVICE")) return args.device;
  std::vector<const clnn::DeviceInfo*> gpus;
  for (const clnn::DeviceInfo& d : clnn::list_devices())
    if (d.type == clnn::DeviceType::gpu) gpus.push_back(&d);
  if (gpus.size() < 2) return {};
  const clnn::DeviceInfo& d = *gpus[std::size_t(local_rank) % gpus.size()];
  return std::to_string(d.platform_index) + ":" + std::to_string(d.device_index);
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  CLI::App app{"Trains a CNN on Fashion-MNIST and reports the test accuracy.", "clnn-fashion"};
  app.add_option("--model", args.model, "the network")
      ->check(CLI::IsMember({"default", "large"}))
      ->capture_default_str();
  app.add_option("--epochs", args.epochs, "epochs to train")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--batch", args.batch, "batch size")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--lr", args.lr, "learning rate (0, the default: 0.003 with Adam, 0.05 with SGD)")
      ->check(learning_rate);
  app.add_option("--optimizer", args.optimizer, "sgd has momentum 0.9")
      ->check(CLI::IsMember(kOptimizers))
      ->capture_default_str();
  app.add_option("--schedule", args.schedule, "learning-rate schedule")
      ->check(CLI::IsMember(kSchedules))
      ->capture_default_str();
  app.add_option("--device", args.device,
                 "gpu, cpu, P:D or part of a name (default: CLNN_DEVICE, else the best)");
  app.add_option("--precision", args.precision,
                 "fp32, tf32, fp16 or bf16: one the device does not run natively runs fp32, "
                 "said once (default: CLNN_PRECISION, else fp32)")
      ->check(CLI::IsMember({"fp32", "tf32", "fp16", "bf16"}));
  app.add_option("--data", args.data, "the Fashion-MNIST files")->capture_default_str();
  app.add_option("--save", args.save, "write a checkpoint here after every epoch");
  app.add_option("--resume", args.resume, "continue from this checkpoint");
  app.add_option("--metrics", args.metrics, "per-epoch CSV (and an SVG of the curves beside it)");
  app.add_option("--export", args.export_path, "write the trained model here as ONNX");
  app.add_option("--limit", args.limit, "train on the first N images only (0: all)")
      ->check(CLI::Range(0, 1000000000));
  app.add_flag("--show-schedule", args.show_schedule,
               "after training, print each node's forward and backward pass: the route and "
               "plan it takes, its workspace, the kernels it replays");
  app.add_option("--seed", args.seed, "batch order and dropout")
      ->check(whole_number)
      ->capture_default_str();
  app.add_flag("--distributed", args.distributed,
               "data parallel over MPI (run under mpirun): --batch is the whole batch, each rank "
               "trains on its equal share; rank 0 reports and writes the files");
  app.add_option("--dist-timeout", args.dist_timeout,
                 "seconds a rank waits for the others before it names the missing and ends them all")
      ->check(CLI::Range(1.0, 86400.0))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::optional<clnn::dist::Mpi> comm;
  int rank = 0;
  try {
    std::string device = args.device;
    if (args.distributed) {
      comm.emplace(clnn::dist::MpiOptions{args.dist_timeout});
      rank = comm->rank();
      device = device_of_rank(args, comm->local_rank());
    }
    // Rank 0 alone speaks.
    auto say = [&](const char* format, auto... values) {
      if (rank == 0) std::printf(format, values...);
    };
    auto create = [&](clnn::Precision p) {
      return device.empty() ? clnn::Context::create(p) : clnn::Context::create(device, p);
    };
    clnn::Context ctx = !args.precision.empty() ? create(clnn::precision_from_string(args.precision))
                        : device.empty()        ? clnn::Context::create()
                                                : clnn::Context::create(device);
    say("device: %s, precision %s\n", ctx.device().label().c_str(),
        clnn::to_string(ctx.precision()).c_str());
    if (comm)
      say("distributed: %d rank%s, each on %lld images of every batch\n", comm->size(),
          comm->size() == 1 ? "" : "s", (long long)(args.batch / comm->size()));
    // --save and --metrics are checked by the Trainer; --export is written only at the end.
    if (!args.export_path.empty()) clnn::check_writable(args.export_path);
    clnn::data::FashionMnist data = clnn::data::load_fashion_mnist(args.data);
    say("data: %lld training and %lld test images from %s\n", (long long)data.train.count,
        (long long)data.test.count, args.data.c_str());

    clnn::train::Options o;
    o.epochs = args.epochs;
    o.batch_size = args.batch;
    o.seed = args.seed;
    o.limit = args.limit;
    o.checkpoint = args.save;
    o.metrics_csv = args.metrics;
    o.optimizer = kOptimizers.at(args.optimizer);  // both checked by the parser
    o.schedule = kSchedules.at(args.schedule);
    o.lr = args.lr > 0 ? args.lr : o.optimizer == clnn::train::OptimizerKind::sgd ? 0.05f : 0.003f;
    if (comm) o.communicator = &*comm;

    clnn::train::Trainer trainer(ctx, clnn::samples::fashion_model(args.model), data.train,
                                 data.test, o);
    say("model: %s, %lld parameters; %lld epochs of batch %lld, %s lr %g; %.1f MiB of "
        "device memory for training\n",
        args.model.c_str(), (long long)trainer.parameter_count(), (long long)o.epochs,
        (long long)o.batch_size, args.optimizer.c_str(), double(o.lr),
        double(trainer.executor().memory_bytes()) / (1 << 20));
    if (!args.resume.empty()) {
      trainer.resume(args.resume);
      say("resumed from %s after epoch %lld\n", args.resume.c_str(), (long long)trainer.epoch());
    }
    std::fflush(stdout);
    trainer.fit();
    // After training, so that each pass shows the kernels it replays.
    if (args.show_schedule) say("%s", trainer.executor().schedule_table().c_str());
    clnn::train::Evaluation test = trainer.evaluate(data.test);
    say("confusion matrix (rows: true class, columns: predicted):\n%s",
        clnn::train::format_confusion(test).c_str());
    if (!args.export_path.empty() && rank == 0) {
      trainer.export_onnx(args.export_path);
      say("exported the model to %s\n", args.export_path.c_str());
    }
    say("test accuracy: %.4f\n", test.accuracy);
    return 0;
  } catch (const std::exception& e) {  // clnn::Error, or the standard library's (bad_alloc)
    if (!comm) {
      std::fprintf(stderr, "clnn-fashion: %s\n", e.what());
      return 1;
    }
    // The other ranks would wait for this one in their next collective: end them all.
    std::fprintf(stderr, "clnn-fashion: rank %d: %s\n", rank, e.what());
    std::fflush(stderr);
    if (comm->size() > 1) comm->abort(1);
    return 1;
  }
}
