// clnn-onnx-check [--min-passed N] [--integers-on-device] DIR...: runs ONNX backend test folders
// (model.onnx and test_data_set_*/input_*.pb, output_*.pb) on the default device and compares
// like the ONNX backend runner (|got - want| <= 1e-5 + 1e-3 |want|). A DIR without model.onnx is
// searched for test folders. Integer inputs (shapes, axes, indices) are bound at load
// (onnx::LoadOptions), or with --integers-on-device fed at run time as floats (the model must
// then take them as values computed at run time). One line per test, then "N passed (B with
// integer inputs bound at load), M failed, K unsupported"; exit 1 when any failed or fewer than
// N passed (a suite where everything turned unsupported must not pass).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "clnn/clnn.hpp"
#include "clnn/onnx.hpp"
#include "io/onnx_tensor.hpp"

namespace fs = std::filesystem;

namespace {

constexpr double kRtol = 1e-3, kAtol = 1e-5;

std::vector<fs::path> sorted_entries(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> found;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind(prefix, 0) == 0) found.push_back(e.path());
  std::sort(found.begin(), found.end());
  return found;
}

clnn::detail::HostTensor read_tensor(const fs::path& path) {
  auto proto = clnn::detail::read_message<::onnx::TensorProto>(path.string());
  return clnn::detail::decode_tensor(proto, path.string(), path.parent_path().string());
}

// The graph's inputs that are not initializers, in order: what input_<i>.pb feed. Sequences and
// optionals are beyond clnn.
std::vector<std::string> graph_inputs(const fs::path& model_file) {
  auto model = clnn::detail::read_message<::onnx::ModelProto>(model_file.string());
  std::vector<std::string> names;
  for (const auto& input : model.graph().input()) {
    bool initializer = false;
    for (const auto& t : model.graph().initializer()) initializer |= t.name() == input.name();
    if (initializer) continue;
    if (!input.type().has_tensor_type())
      throw clnn::onnx::UnsupportedError("input '" + input.name() + "' is not a tensor");
    names.push_back(input.name());
  }
  return names;
}

struct Outcome {
  std::string problem;  // "" when every data set matches
  bool bound = false;   // integer inputs were bound at load (or fed, with --integers-on-device)
};

// Floats count integers exactly below 2^24.
constexpr std::int64_t kMaxExactInteger = std::int64_t{1} << 24;

// Each data set: integer inputs (shapes, axes, indices) are bound at load, so the model is
// loaded per data set; float inputs are fed.
Outcome run_test(const clnn::Context& ctx, const fs::path& dir, bool integers_on_device) {
  const fs::path model_file = dir / "model.onnx";
  const std::vector<std::string> names = graph_inputs(model_file);
  Outcome outcome;
  for (const fs::path& set : sorted_entries(dir, "test_data_set_")) {
    auto inputs = sorted_entries(set, "input_");
    if (inputs.size() != names.size()) {
      outcome.problem = set.filename().string() + ": " + std::to_string(inputs.size()) +
                        " inputs for " + std::to_string(names.size());
      return outcome;
    }
    clnn::onnx::LoadOptions options;
    std::map<std::string, std::vector<float>> fed;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      auto t = read_tensor(inputs[i]);
      if (t.is_float()) {
        fed[names[i]] = t.floats;
      } else if (integers_on_device) {
        for (std::int64_t v : t.ints) {
          if (v <= -kMaxExactInteger || v >= kMaxExactInteger)
            throw clnn::onnx::UnsupportedError("an integer input beyond 2^24");
          fed[names[i]].push_back(float(v));
        }
        outcome.bound = true;
      } else {
        options.bound_inputs[names[i]] = {t.shape, t.ints, {}};
        outcome.bound = true;
      }
    }
    clnn::onnx::Model model = clnn::onnx::load(model_file.string(), options);
    std::vector<clnn::Value> outputs;
    for (auto& [name, v] : model.outputs) outputs.push_back(v);
    clnn::Executor ex(ctx, model.graph, outputs, clnn::Mode::inference);
    for (auto& [name, v] : model.inputs) ex.set_input(name, fed.at(name));
    ex.forward();
    auto expected = sorted_entries(set, "output_");
    for (std::size_t o = 0; o < expected.size() && o < outputs.size(); ++o) {
      auto want = read_tensor(expected[o]);
      // clnn gives integer and boolean results as floats holding whole numbers: compared exactly.
      if (!want.is_float()) want.floats.assign(want.ints.begin(), want.ints.end());
      auto got = ex.value(outputs[o]).to_host();
      if (std::size_t(clnn::element_count(outputs[o].shape())) != want.floats.size() ||
          got.size() != want.floats.size()) {
        outcome.problem = "output " + std::to_string(o) + " has shape " +
                          clnn::to_string(outputs[o].shape()) + ", expected " +
                          clnn::to_string(want.shape);
        return outcome;
      }
      double worst = 0;
      std::size_t worst_at = 0, bad = 0;
      for (std::size_t i = 0; i < got.size(); ++i) {
        const double g = got[i], w = want.floats[i];
        // Equal infinities match, as in numpy's allclose.
        const bool ok = !want.is_float() ? g == w
                        : std::isnan(w)
                            ? std::isnan(g)
                            : g == w || std::fabs(g - w) <= kAtol + kRtol * std::fabs(w);
        if (!ok) {
          ++bad;
          const double err = std::isnan(g) ? INFINITY : std::fabs(g - w);
          if (err >= worst) worst = err, worst_at = i;
        }
      }
      if (bad) {
        outcome.problem = set.filename().string() + " output " + std::to_string(o) + ": " +
                          std::to_string(bad) + " values differ, worst at " +
                          std::to_string(worst_at) + ": " + std::to_string(got[worst_at]) + " vs " +
                          std::to_string(want.floats[worst_at]);
        return outcome;
      }
    }
  }
  return outcome;
}

}  // namespace

int main(int argc, char** argv) {
  int first = 1;
  long min_passed = 0;
  bool integers_on_device = false;
  while (first < argc && std::string(argv[first]).rfind("--", 0) == 0) {
    const std::string flag = argv[first];
    if (flag == "--integers-on-device") {
      integers_on_device = true;
      ++first;
    } else if (flag == "--min-passed" && first + 1 < argc) {
      char* end = nullptr;
      const char* count = argv[first + 1];
      min_passed = std::strtol(count, &end, 10);
      if (*count == '\0' || *end != '\0' || min_passed < 0) {
        std::fprintf(stderr, "clnn-onnx-check: --min-passed takes a count, not '%s'\n", count);
        return 2;
      }
      first += 2;
    } else {
      std::fprintf(stderr, "clnn-onnx-check: unknown option %s\n", flag.c_str());
      return 2;
    }
  }
  if (argc <= first) {
    std::fprintf(stderr, "usage: clnn-onnx-check [--min-passed N] [--integers-on-device] DIR...\n");
    return 2;
  }
  const char* integer_note =
      integers_on_device ? "integer inputs fed at run time" : "integer inputs bound at load";
  std::vector<fs::path> tests;
  for (int i = first; i < argc; ++i) {
    fs::path dir = argv[i];
    if (fs::exists(dir / "model.onnx")) {
      tests.push_back(dir);
    } else if (fs::is_directory(dir)) {
      for (const auto& sub : sorted_entries(dir, ""))
        if (fs::exists(sub / "model.onnx")) tests.push_back(sub);
    } else {
      std::fprintf(stderr, "clnn-onnx-check: %s holds no ONNX test\n", dir.c_str());
      return 2;
    }
  }
  try {
    clnn::Context ctx = clnn::Context::create();
    int passed = 0, bound = 0, failed = 0, unsupported = 0;
    for (const fs::path& dir : tests) {
      const std::string name = dir.filename().string();
      try {
        const Outcome outcome = run_test(ctx, dir, integers_on_device);
        if (outcome.problem.empty()) {
          ++passed;
          bound += outcome.bound;
          std::printf("pass         %s%s%s%s\n", name.c_str(), outcome.bound ? " (" : "",
                      outcome.bound ? integer_note : "", outcome.bound ? ")" : "");
        } else {
          ++failed;
          std::printf("FAIL         %s: %s\n", name.c_str(), outcome.problem.c_str());
        }
      } catch (const clnn::onnx::UnsupportedError& e) {
        ++unsupported;
        std::printf("unsupported  %s: %s\n", name.c_str(), e.what());
      } catch (const clnn::Error& e) {
        ++failed;
        std::printf("FAIL         %s: %s\n", name.c_str(), e.what());
      }
    }
    std::printf("%d passed (%d with %s), %d failed, %d unsupported\n", passed, bound, integer_note,
                failed, unsupported);
    if (passed < min_passed)
      std::printf("fewer passed than the %ld expected (--min-passed)\n", min_passed);
    return failed > 0 || passed < min_passed ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "clnn-onnx-check: %s\n", e.what());
    return 1;
  }
}
