// libFuzzer target: ONNX models that load are also run once, in inference, on PoCL; models whose
// values would not fit a small budget are skipped before anything is allocated.
#include <cmath>
#include <vector>

#include "clnn/onnx.hpp"
#include "fuzz_support.hpp"
#include "graph/graph_data.hpp"

namespace {

// Floats the graph's values and workspaces may take in all (16 MB): a fuzzed shape may not ask
// for gigabytes, and the kernels stay quick enough for many runs a second.
constexpr std::int64_t kMaxFloats = std::int64_t{1} << 22;

// Judged from every node of the graph (a superset of what the executor keeps), so it errs on the
// side of skipping.
bool small_enough(const clnn::Graph& graph) {
  const clnn::detail::GraphData& data = *clnn::GraphAccess::data(graph);
  std::int64_t total = 0;
  for (const clnn::detail::Node& node : data.nodes) {
    const std::int64_t values = clnn::element_count(node.shape, node.name);
    if (values > kMaxFloats - total) return false;
    total += values;
    if (!node.op) continue;
    std::vector<clnn::Shape> inputs;
    for (int i : node.inputs) inputs.push_back(data.nodes[std::size_t(i)].shape);
    const std::size_t workspace = node.op->workspace_floats(inputs, node.shape);
    if (workspace > std::size_t(kMaxFloats - total)) return false;
    total += std::int64_t(workspace);
  }
  return true;
}

void run(const clnn::onnx::Model& model) {
  std::vector<clnn::Value> outputs;
  for (const auto& [name, v] : model.outputs) outputs.push_back(v);
  if (outputs.empty() || !small_enough(model.graph)) return;
  clnn::Executor ex(clnn::fuzz::cpu_context(), model.graph, outputs, clnn::Mode::inference);
  for (const auto& [name, v] : model.inputs) {
    std::vector<float> values(std::size_t(clnn::element_count(v.shape())));
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = float(std::sin(double(i)));
    ex.set_input(name, values);
  }
  ex.forward();
  for (const clnn::Value& v : outputs) ex.value(v).to_host();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = clnn::fuzz::input_file(data, size, "model.onnx");
  try {
    run(clnn::onnx::load(path));
  } catch (const clnn::Error&) {
    // a clean rejection is the expected outcome of bad input
  }
  return 0;
}
