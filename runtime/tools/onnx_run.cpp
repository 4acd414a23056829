// clnn-run MODEL.onnx: runs an ONNX model on the chosen device with random inputs (or tensors
// from .pb files) and prints each output's shape and the median time of the runs; in another
// precision than fp32, also each output's error against an fp32 run of the same inputs.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <string>

#include "clnn/clnn.hpp"
#include "clnn/onnx.hpp"
#include "io/onnx_tensor.hpp"

namespace {

std::string input_names(const clnn::onnx::Model& model) {
  std::string names;
  for (const auto& [name, v] : model.inputs) names += (names.empty() ? "'" : ", '") + name + "'";
  return names.empty() ? "none" : names;
}

// NAME=FILE options (checked to hold a '=') by name.
std::map<std::string, std::string> by_name(const std::vector<std::string>& specs) {
  std::map<std::string, std::string> files;
  for (const std::string& spec : specs) {
    const auto eq = spec.find('=');
    files[spec.substr(0, eq)] = spec.substr(eq + 1);
  }
  return files;
}

clnn::detail::HostTensor read_tensor(const std::string& file) {
  auto proto = clnn::detail::read_message<::onnx::TensorProto>(file);
  const std::string folder = std::filesystem::path(file).parent_path().string();
  return clnn::detail::decode_tensor(proto, file, folder.empty() ? "." : folder);
}

// A tensor read from `file` for the input or output `name` of shape `shape`, as floats
// (integers below 2^24, which floats hold exactly).
std::vector<float> as_floats(clnn::detail::HostTensor t, const std::string& file,
                             const std::string& name, const clnn::Shape& shape) {
  if (clnn::element_count(t.shape) != clnn::element_count(shape))
    throw clnn::IoError(file, "holds a tensor of shape " + clnn::to_string(t.shape) + "; '" + name +
                                  "' has shape " + clnn::to_string(shape));
  constexpr std::int64_t kMaxExact = std::int64_t{1} << 24;
  for (std::int64_t v : t.ints) {
    if (v <= -kMaxExact || v >= kMaxExact)
      throw clnn::IoError(file,
                          "holds " + std::to_string(v) + ", beyond 2^24 (bind it with --bind)");
    t.floats.push_back(float(v));
  }
  return t.floats;
}

// An input's values: floats, or integers for an input of integers.
std::vector<float> read_input(const std::string& file, const std::string& name,
                              const clnn::Shape& shape, bool integers) {
  clnn::detail::HostTensor t = read_tensor(file);
  if (t.is_float() == integers)
    throw clnn::IoError(file, std::string("holds ") + (integers ? "floats" : "integers") +
                                  "; input '" + name + "' takes " +
                                  (integers ? "integers" : "float32"));
  return as_floats(std::move(t), file, name, shape);
}

// |got - want| / |want| in 2-norms; negative where want is all zeros (nothing relative to say).
double relative_error(const std::vector<float>& got, const std::vector<float>& want) {
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    diff += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
    norm += double(want[i]) * want[i];
  }
  return norm > 0 ? std::sqrt(diff / norm) : -std::sqrt(diff);
}

clnn::Context make_context(const std::string& device, const std::string& precision) {
  if (precision.empty())
    return device.empty() ? clnn::Context::create() : clnn::Context::create(device);
  const clnn::Precision p = clnn::precision_from_string(precision);
  return device.empty() ? clnn::Context::create(p) : clnn::Context::create(device, p);
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path, device, precision;
  int runs = 10;
  std::vector<std::string> input_specs, bind_specs, expect_specs, dim_specs;
  bool show_schedule = false, unfused_attention = false;
  const CLI::Validator name_equals_file(
      [](std::string& spec) -> std::string {
        return spec.find('=') == std::string::npos ? "not NAME=FILE: " + spec : "";
      },
      "NAME=FILE");
  CLI::App app{
      "Runs an ONNX model with random inputs in [-1, 1] (integer inputs 0 or 1), or tensors from "
      ".pb files, and prints "
      "the outputs' shapes, their first values and the median time of the runs.",
      "clnn-run"};
  app.add_option("model", model_path, "the .onnx file")->required();
  app.add_option("--device", device, "gpu, cpu, P:D or part of a name");
  app.add_option("--precision", precision,
                 "fp32, tf32, fp16 or bf16: what products compute in (default: CLNN_PRECISION, "
                 "else fp32); other than fp32, each output's relative error against an fp32 run "
                 "of the same inputs is printed")
      ->check(CLI::IsMember({"fp32", "tf32", "fp16", "bf16"}));
  app.add_option("--runs", runs, "timed runs")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--input", input_specs, "an input from a file, NAME=FILE.pb")
      ->check(name_equals_file);
  app.add_option("--dim", dim_specs,
                 "a symbolic input dimension's extent, NAME=N (batch_size=32); others are 1")
      ->check(CLI::Validator(
          [](std::string& spec) -> std::string {
            const auto eq = spec.find('=');
            return eq == std::string::npos || eq + 1 == spec.size() ||
                           spec.find_first_not_of("0123456789", eq + 1) != std::string::npos ||
                           spec.size() - eq > 10
                       ? "not NAME=N: " + spec
                       : "";
          },
          "NAME=N"));
  app.add_option("--bind", bind_specs,
                 "an input fixed at load from a file, NAME=FILE.pb: integer inputs (shapes, axes, "
                 "indices) must be bound")
      ->check(name_equals_file);
  app.add_option("--expect", expect_specs,
                 "an output's expected values, NAME=FILE.pb: prints the relative error "
                 "|got - want| / |want| (2-norms) after the runs")
      ->check(name_equals_file);
  app.add_flag("--unfused-attention", unfused_attention,
               "run attention as the graph spells it, not as the fused operator");
  app.add_flag("--schedule", show_schedule,
               "after the runs, print each node's pass: the route and plan it takes, its "
               "workspace, the kernels it replays");
  CLI11_PARSE(app, argc, argv);
  const std::map<std::string, std::string> input_files = by_name(input_specs),
                                           bound_files = by_name(bind_specs),
                                           expected_files = by_name(expect_specs);
  try {
    clnn::Context ctx = make_context(device, precision);
    clnn::onnx::LoadOptions options;
    options.fuse_attention = !unfused_attention;
    for (const auto& [name, extent] : by_name(dim_specs)) options.dims[name] = std::stoll(extent);
    const auto& dims = options.dims;
    for (const auto& [name, file] : bound_files) {
      clnn::detail::HostTensor t = read_tensor(file);
      options.bound_inputs[name] = {t.shape, t.ints, t.floats};
    }
    clnn::onnx::Model model = clnn::onnx::load(model_path, options);
    for (const auto& [name, extent] : model.dims)
      std::printf("dim    %-20s %lld%s\n", name.empty() ? "(unnamed)" : name.c_str(),
                  static_cast<long long>(extent), dims.count(name) ? "" : " (not given: 1)");
    for (const auto& [name, extent] : dims)
      if (!model.dims.count(name))
        throw clnn::Error("--dim " + name + ": no input of the model has that dimension");
    for (const auto& [name, file] : input_files)
      if (std::none_of(model.inputs.begin(), model.inputs.end(),
                       [&](const auto& input) { return input.first == name; }))
        throw clnn::Error("--input " + name + "=" + file + ": the model has no input '" + name +
                          "' (its inputs: " + input_names(model) + ")");
    // Files are read and checked before the model's buffers are allocated.
    std::map<std::string, std::vector<float>> file_values;
    for (auto& [name, v] : model.inputs)
      if (auto it = input_files.find(name); it != input_files.end())
        file_values[name] =
            read_input(it->second, name, v.shape(), model.integer_inputs.count(name) != 0);
    std::vector<clnn::Value> outputs;
    for (auto& [name, v] : model.outputs) outputs.push_back(v);
    clnn::Executor ex(ctx, model.graph, outputs, clnn::Mode::inference);
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    std::map<std::string, std::vector<float>> input_values;  // for the fp32 run
    for (auto& [name, v] : model.inputs) {
      std::vector<float> values;
      if (auto it = file_values.find(name); it != file_values.end()) {
        values = std::move(it->second);
      } else {
        values.resize(std::size_t(clnn::element_count(v.shape())));
        // Integers (ids, masks) are 0 or 1: an index any table has, a mask of either kind.
        const bool integers = model.integer_inputs.count(name) != 0;
        for (auto& x : values) x = integers ? float(rng() % 2) : uniform(rng);
      }
      ex.set_input(name, values);
      std::printf("input  %-20s %s\n", name.c_str(), clnn::to_string(v.shape()).c_str());
      if (ctx.precision() != clnn::Precision::fp32) input_values[name] = std::move(values);
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
    // After the runs, so that each pass shows the kernels it replays.
    if (show_schedule) std::printf("%s", ex.schedule_table().c_str());
    for (auto& [name, v] : model.outputs) {
      auto values = ex.value(v).to_host();
      std::printf("output %-20s %s  [", name.c_str(), clnn::to_string(v.shape()).c_str());
      for (std::size_t i = 0; i < std::min<std::size_t>(values.size(), 5); ++i)
        std::printf("%s%g", i ? ", " : "", double(values[i]));
      std::printf("%s]\n", values.size() > 5 ? ", ..." : "");
    }
    for (const auto& [name, file] : expected_files) {
      auto it = std::find_if(model.outputs.begin(), model.outputs.end(),
                             [&](const auto& o) { return o.first == name; });
      if (it == model.outputs.end())
        throw clnn::Error("--expect " + name + "=" + file + ": the model has no output '" + name +
                          "'");
      const auto want = as_floats(read_tensor(file), file, name, it->second.shape());
      const double error = relative_error(ex.value(it->second).to_host(), want);
      if (error >= 0)
        std::printf("expect %-20s relative error %.3g\n", name.c_str(), error);
      else  // a reference of zeros checks nothing relative: say so
        std::printf("expect %-20s the expected values are all 0; |got| = %.3g\n", name.c_str(),
                    -error);
    }
    if (ctx.precision() != clnn::Precision::fp32) {
      // The same model and inputs in fp32 on the same device: what the precision costs.
      clnn::Context fp32 = make_context(device, "fp32");
      clnn::Executor reference(fp32, model.graph, outputs, clnn::Mode::inference);
      for (const auto& [name, values] : input_values) reference.set_input(name, values);
      reference.forward();
      for (auto& [name, v] : model.outputs) {
        const double error = relative_error(ex.value(v).to_host(), reference.value(v).to_host());
        const std::string p = clnn::to_string(ctx.precision());
        if (error >= 0)
          std::printf("fp32   %-20s relative error of %s against fp32 %.3g\n", name.c_str(),
                      p.c_str(), error);
        else
          std::printf("fp32   %-20s the fp32 values are all 0; |%s| = %.3g\n", name.c_str(),
                      p.c_str(), -error);
      }
    }
    std::printf("device %s (%s): median %.3f ms over %d runs, %.1f MiB of device memory\n",
                ctx.device().name.c_str(), clnn::to_string(ctx.precision()).c_str(),
                times[times.size() / 2] * 1e3, runs,
                double(ex.memory_bytes()) / (1 << 20));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "clnn-run: %s\n", e.what());
    return 1;
  }
}
