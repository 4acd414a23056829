// clnn-run MODEL.onnx: runs an ONNX model on the chosen device with random inputs (or tensors
// from .pb files) and prints each output's shape and the median time of the runs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>

#include "clnn/clnn.hpp"
#include "clnn/onnx.hpp"
#include "io/onnx_tensor.hpp"

namespace {

const char* kUsage =
    "usage: clnn-run MODEL.onnx [--device SPEC] [--runs N] [--input NAME=FILE.pb]...\n"
    "Inputs not given are uniform random in [-1, 1]. Prints the outputs' shapes, their first\n"
    "values and the median time of N runs (default 10).\n";

}  // namespace

int main(int argc, char** argv) {
  std::string model_path, device;
  int runs = 10;
  std::map<std::string, std::string> input_files;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "clnn-run: %s needs a value\n%s", arg.c_str(), kUsage);
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") return std::fputs(kUsage, stdout), 0;
    if (arg == "--device") {
      device = value();
    } else if (arg == "--runs") {
      runs = std::max(1, std::atoi(value().c_str()));
    } else if (arg == "--input") {
      std::string spec = value();
      auto eq = spec.find('=');
      if (eq == std::string::npos)
        return std::fprintf(stderr, "clnn-run: --input takes NAME=FILE\n"), 2;
      input_files[spec.substr(0, eq)] = spec.substr(eq + 1);
    } else if (model_path.empty()) {
      model_path = arg;
    } else {
      return std::fprintf(stderr, "clnn-run: unexpected '%s'\n%s", arg.c_str(), kUsage), 2;
    }
  }
  if (model_path.empty()) return std::fputs(kUsage, stderr), 2;
  try {
    clnn::Context ctx = device.empty() ? clnn::Context::create() : clnn::Context::create(device);
    clnn::onnx::Model model = clnn::onnx::load(model_path);
    std::vector<clnn::Value> outputs;
    for (auto& [name, v] : model.outputs) outputs.push_back(v);
    clnn::Executor ex(ctx, model.graph, outputs, clnn::Mode::inference);
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    for (auto& [name, v] : model.inputs) {
      std::vector<float> values;
      if (auto it = input_files.find(name); it != input_files.end()) {
        auto proto = clnn::detail::read_message<::onnx::TensorProto>(it->second);
        values = clnn::detail::decode_tensor(proto, it->second, ".").floats;
      } else {
        values.resize(std::size_t(clnn::element_count(v.shape())));
        for (auto& x : values) x = uniform(rng);
      }
      ex.set_input(name, values);
      std::printf("input  %-20s %s\n", name.c_str(), clnn::to_string(v.shape()).c_str());
    }
    std::vector<double> times;
    for (int r = 0; r <= runs; ++r) {  // run 0 warms up: programs are built then
      auto start = std::chrono::steady_clock::now();
      ex.forward();
      ctx.finish();
      if (r > 0)
        times.push_back(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(times.begin(), times.end());
    for (auto& [name, v] : model.outputs) {
      auto values = ex.value(v).to_host();
      std::printf("output %-20s %s  [", name.c_str(), clnn::to_string(v.shape()).c_str());
      for (std::size_t i = 0; i < std::min<std::size_t>(values.size(), 5); ++i)
        std::printf("%s%g", i ? ", " : "", double(values[i]));
      std::printf("%s]\n", values.size() > 5 ? ", ..." : "");
    }
    std::printf("device %s: median %.3f ms over %d runs\n", ctx.device().name.c_str(),
                times[times.size() / 2] * 1e3, runs);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "clnn-run: %s\n", e.what());
    return 1;
  }
}
