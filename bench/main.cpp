// clnn-bench SUITE... [--sizes a,b,...] [--json FILE] [--device SPEC] (--help lists the rest): a
// table on stdout and, with --json, one object per measurement with its parameters, clnn's figure
// and the peer's.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <clnn/mpi.hpp>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>

#include "bench.hpp"

namespace {

using Suite = std::vector<clnn::bench::Record> (*)(const clnn::Context&,
                                                   const clnn::bench::Options&);
const std::map<std::string, Suite> kSuites{
    {"attention", clnn::bench::attention_suite},
    {"conv", clnn::bench::conv_suite},
    {"elementwise", clnn::bench::elementwise_suite},
    {"matmul", clnn::bench::matmul_suite},
    {"mma", clnn::bench::mma_suite},
    {"models", clnn::bench::models_suite},
    {"overhead", clnn::bench::overhead_suite},
    {"skinny", clnn::bench::skinny_suite},
    {"train", clnn::bench::train_suite},
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> suites;
  std::string json_path, device;
  bool every_suite = false;
  clnn::bench::Options options;
  CLI::App app{
      "Benchmarks against named peers. Suites: attention (fused scaled dot-product attention, "
      "fp32, forward and forward + backward; PyTorch through compare/torch_attention.py), matmul "
      "(clnn's SGEMM and CLBlast, square fp32), "
      "conv (convolution layers, forward and forward + backward), train (Fashion-MNIST, the "
      "large model, batch 128: images/s), elementwise (copy, axpy, relu: GB/s), skinny (products "
      "with a side of C of at most 16: GB/s of the big operand against copy's), models (whole "
      "networks: clnn-fashion's models training and inference, an ONNX zoo of torchvision "
      "models; --profile adds a per-op profile of a step), overhead (a chain of 1,000 small relu "
      "nodes: host, device and wall microseconds per launch, and the driver's enqueue alone), "
      "mma (NVIDIA tensor cores through mma.sync: the products alone, then fed from local "
      "memory and staged between barriers as a GEMM's steps are: TFLOP/s of each rung).",
      "clnn-bench"};
  app.add_option("suites", suites, "the suites to run")->check(CLI::IsMember(kSuites));
  app.add_flag("--all", every_suite, "every suite");
  app.add_option("--sizes", options.sizes,
                 "matmul, elementwise, overhead: the sizes n; attention: the sequence lengths "
                 "(default: the suite's)")
      ->delimiter(',')
      ->check(CLI::Range(1, 1000000000));
  app.add_option("--layers", options.layers, "conv: the layers to run, from 1 (default: all)")
      ->delimiter(',')
      ->check(CLI::Range(1, 1000000000));
  app.add_option("--steps", options.steps, "train, models: the batches to time")
      ->check(CLI::Range(1, 1000000000));
  app.add_option("--batch", options.batch, "train: the batch (the whole batch, distributed)")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--bucket-bytes", options.bucket_bytes,
                 "train, distributed: the gradients' buckets (train::Options::bucket_bytes)")
      ->check(CLI::Range(std::size_t(4), std::size_t(1) << 40))
      ->capture_default_str();
  bool distributed = false;
  double dist_timeout = 600;
  app.add_flag("--distributed", distributed,
               "train: data parallel over MPI (under mpirun), after rank 0 alone; rank 0 reports");
  app.add_option("--dist-timeout", dist_timeout,
                 "seconds a rank waits for the others (rank 0's run alone included)")
      ->check(CLI::Range(1.0, 86400.0))
      ->capture_default_str();
  app.add_option("--zoo", options.zoo, "models: the folder of <model>_b<batch>.onnx files")
      ->capture_default_str();
  app.add_option("--models", options.models, "models: the models to run (default: all)")
      ->delimiter(',')
      ->check(CLI::IsMember(clnn::bench::model_names()));
  app.add_flag("--profile", options.profile,
               "models: a per-op profile of one step for each row, against the roofline");
  app.add_flag("--profile-nodes", options.profile_nodes,
               "models: --profile with a row per node (layer) rather than per op");
  app.add_option("--data", options.data_dir, "the Fashion-MNIST files")->capture_default_str();
  app.add_option("--json", json_path, "also write the results as JSON here");
  app.add_option("--device", device, "gpu, cpu, P:D or part of a name");
  std::string precision;
  app.add_option("--precision", precision,
                 "fp32, tf32, fp16 or bf16: the context's (default: CLNN_PRECISION's, else fp32; "
                 "one the device does not run natively runs fp32)")
      ->check(CLI::IsMember({"fp32", "tf32", "fp16", "bf16"}));
  CLI11_PARSE(app, argc, argv);
  if (every_suite)
    for (const auto& [name, run] : kSuites) suites.push_back(name);
  if (suites.empty()) {
    std::cerr << "clnn-bench: no suite named\n" << app.help();
    return 2;
  }
  if (distributed && suites != std::vector<std::string>{"train"}) {
    std::cerr << "clnn-bench: --distributed runs the train suite alone\n";
    return 2;
  }
  std::optional<clnn::dist::Mpi> comm;
  try {
    if (distributed) {
      comm.emplace(clnn::dist::MpiOptions{dist_timeout});
      options.communicator = &*comm;
    }
    const bool reports = !comm || comm->rank() == 0;
    auto create = [&](clnn::Precision p) {
      return device.empty() ? clnn::Context::create(p) : clnn::Context::create(device, p);
    };
    clnn::Context ctx = !precision.empty() ? create(clnn::precision_from_string(precision))
                        : device.empty()   ? clnn::Context::create()
                                           : clnn::Context::create(device);
    if (reports)
      fmt::print("device: {}, precision {}\n", ctx.device().label(),
                 clnn::to_string(ctx.precision()));
    nlohmann::json all = nlohmann::json::array();
    for (const auto& suite : suites) {
      if (reports) fmt::print("\n[{}]\n", suite);
      auto records = kSuites.at(suite)(ctx, options);
      for (auto& r : records) {
        r["suite"] = suite;
        r["device"] = ctx.device().name;
        r["precision"] = clnn::to_string(ctx.precision());
        all.push_back(r);
      }
    }
    if (!json_path.empty() && reports) {
      std::ofstream out(json_path);
      out << all.dump(2) << "\n";
      if (!out) throw clnn::IoError(json_path, "cannot write the results");
    }
  } catch (const std::exception& e) {
    std::cerr << "clnn-bench: " << e.what() << "\n";
    if (comm && comm->size() > 1) comm->abort(1);  // the other ranks would wait for this one
    return 1;
  }
  return 0;
}
