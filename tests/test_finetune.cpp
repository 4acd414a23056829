// Fine-tuning an imported model end to end: a convolutional network saved as ONNX is loaded, a
// new classifier goes on its features, the whole model trains (the imported convolution's
// weights move too: initializers are parameters), and the result, exported and imported again,
// gives the trained executor's outputs.
#include <catch2/catch.hpp>

#include <onnx/onnx_pb.h>

#include <fstream>

#include "clnn/onnx.hpp"
#include "support.hpp"

using namespace clnn;

namespace {

// The output name of the first node of an ONNX model with this operator type.
std::string output_of(const std::string& path, const std::string& op_type) {
  ::onnx::ModelProto model;
  std::ifstream in(path, std::ios::binary);
  REQUIRE(model.ParseFromIstream(&in));
  for (const auto& node : model.graph().node())
    if (node.op_type() == op_type) return node.output(0);
  FAIL("no " << op_type << " node in " << path);
  return {};
}

// Two classes of 8 x 8 images: a bright left half or a bright right half, with noise.
void make_batch(std::vector<float>& images, std::vector<float>& labels, std::uint32_t seed) {
  const auto noise = clnn::test::random_vector(16 * 64, seed);
  images.assign(16 * 64, 0.0f);
  labels.assign(16, 0.0f);
  for (std::size_t n = 0; n < 16; ++n) {
    labels[n] = float(n % 2);
    for (std::size_t p = 0; p < 64; ++p)
      images[n * 64 + p] = 0.3f * noise[n * 64 + p] + ((p % 8 < 4) == (n % 2 == 0) ? 1.0f : 0.0f);
  }
}

}  // namespace

TEST_CASE("an imported ONNX model fine-tunes with a new classifier and exports again", "[onnx]") {
  clnn::test::TempDir t("finetune");
  const std::string pretrained = (t.dir / "pretrained.onnx").string();
  {
    Graph g;
    nn::Sequential net;
    net.emplace<nn::Conv2d>(g, "conv", 1, 4, 3, nn::ConvLayerOptions{1, 1});
    net.emplace<nn::ReLU>();
    net.emplace<nn::MaxPool>(2);
    net.emplace<nn::Flatten>();
    net.emplace<nn::Linear>(g, "old_head", 64, 10);
    clnn::onnx::save(g, pretrained, {net(g.input("images", {16, 1, 8, 8}))});
  }

  clnn::onnx::Model model = clnn::onnx::load(pretrained);
  REQUIRE(model.inputs.size() == 1);
  const Value features = model.values.at(output_of(pretrained, "Reshape"));
  REQUIRE(features.shape() == Shape{16, 64});
  nn::Linear head(model.graph, "new_head", 64, 2);
  const Value logits = head(features);
  const Value labels = model.graph.input("labels", {16});
  const Value loss = softmax_cross_entropy(logits, labels);

  Executor train(clnn::test::context(), model.graph, {logits, loss}, Mode::training);
  const std::string conv_weight = "conv.weight";
  REQUIRE(train.parameters().size() == 4);  // the imported convolution's and the new head's
  const auto conv_before = train.parameter(conv_weight).to_host();
  optim::AdamOptions o;
  o.lr = 0.01f;
  optim::Adam adam(train, o);
  std::vector<float> images, targets;
  float first_loss = 0, last_loss = 0;
  for (std::uint32_t step = 0; step < 40; ++step) {
    make_batch(images, targets, step);
    train.set_input(model.inputs[0].first, images);
    train.set_input("labels", targets);
    train.forward();
    train.backward(loss);
    adam.step();
    (step == 0 ? first_loss : last_loss) = train.value(loss).to_host()[0];
  }
  CHECK(last_loss < 0.2f * first_loss);
  CHECK(train.parameter(conv_weight).to_host() != conv_before);

  // The fine-tuned model, exported with its trained values and imported again.
  const std::string tuned = (t.dir / "tuned.onnx").string();
  clnn::onnx::save(model.graph, tuned, {logits}, &train);
  Executor trained(clnn::test::context(), model.graph, {logits}, Mode::inference);
  for (const Value& p : train.parameters())
    trained.set_parameter(p.name(), train.parameter(p.name()).to_host());
  make_batch(images, targets, 1000);
  trained.set_input(model.inputs[0].first, images);
  trained.forward();
  const auto want = trained.value(logits).to_host();

  clnn::onnx::Model reloaded = clnn::onnx::load(tuned);
  Executor again(clnn::test::context(), reloaded.graph, {reloaded.outputs[0].second},
                 Mode::inference);
  again.set_input(reloaded.inputs[0].first, images);
  again.forward();
  CHECK(clnn::test::relative_error(again.value(reloaded.outputs[0].second).to_host(),
                                   std::vector<double>(want.begin(), want.end())) < 1e-6);
}
