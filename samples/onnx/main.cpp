// clnn-onnx-sample: the few lines that load an ONNX model and run it from C++.
//   clnn-onnx-sample [MODEL.onnx]   (default: a convolution from Debian's libonnx-testdata)
#include <clnn/clnn.hpp>
#include <clnn/onnx.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  const char* path =
      argc > 1 ? argv[1]
               : "/usr/share/libonnx-testdata/data/pytorch-converted/test_Conv2d/model.onnx";
  try {
    clnn::Context ctx = clnn::Context::create();
    clnn::onnx::Model model = clnn::onnx::load(path);

    std::vector<clnn::Value> outputs;
    for (const auto& [name, value] : model.outputs) outputs.push_back(value);
    clnn::Executor ex(ctx, model.graph, outputs, clnn::Mode::inference);
    for (const auto& [name, value] : model.inputs)
      ex.set_input(name, std::vector<float>(std::size_t(clnn::element_count(value.shape())), 0.5f));
    ex.forward();

    for (const auto& [name, value] : model.outputs) {
      std::vector<float> y = ex.value(value).to_host();
      double sum = 0;
      for (float v : y) sum += v;
      std::printf("%s: shape %s, sum %.6f\n", name.c_str(), clnn::to_string(value.shape()).c_str(),
                  sum);
    }
    // The initializers are parameters: the imported model can be fine-tuned like any graph.
    std::printf("%zu parameters on %s\n", ex.parameters().size(), ctx.device().name.c_str());
    return 0;
  } catch (const clnn::Error& e) {
    std::fprintf(stderr, "clnn-onnx-sample: %s\n", e.what());
    return 1;
  }
}
