// ONNX import: malformed and hostile models give clean errors, never a crash.
#include <catch2/catch.hpp>

#include <onnx/onnx_pb.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>

#include "clnn/onnx.hpp"
#include "onnx_models.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
using namespace clnn;
using namespace clnn::test;

namespace {

const fs::path kNodeTests = "/usr/share/libonnx-testdata/data/node";

}  // namespace

TEST_CASE("shape subgraphs fold while importing; the device graph keeps the reshape only",
          "[onnx]") {
  // y = Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])): [2, 3, 4] -> [2, 12], as
  // exporters write flattening.
  OnnxDir t;
  const auto path = (t.dir / "model" / "m.onnx").string();
  auto m = empty_model({2, 3, 4});
  add_int_initializer(m, "zero", {0}, {});
  add_int_initializer(m, "axes", {0}, {1});
  add_int_initializer(m, "minus_one", {-1}, {1});
  add_node(m, "Shape", {"x"}, "shape");
  add_node(m, "Gather", {"shape", "zero"}, "batch");
  add_node(m, "Unsqueeze", {"batch", "axes"}, "batch_1d");
  add_node(m, "Concat", {"batch_1d", "minus_one"}, "target")->add_attribute()->CopyFrom([] {
    ::onnx::AttributeProto a;
    a.set_name("axis");
    a.set_type(::onnx::AttributeProto::INT);
    a.set_i(0);
    return a;
  }());
  add_node(m, "Reshape", {"x", "target"}, "y");
  write(path, m.SerializeAsString());
  clnn::onnx::Model model = clnn::onnx::load(path);
  REQUIRE(model.outputs.size() == 1);
  const Value y = model.outputs[0].second;
  CHECK(y.shape() == Shape{2, 12});
  CHECK(model.graph.node_count() == 2);  // the input and the reshape
  Executor ex(clnn::test::context(), model.graph, {y}, Mode::inference);
  const auto x = clnn::test::random_vector(24, 3);
  ex.set_input("x", x);
  ex.forward();
  CHECK(ex.value(y).to_host() == x);
}

TEST_CASE("integer inputs bound at load specialize the model; bad bindings are clean errors",
          "[onnx][errors]") {
  OnnxDir t;
  const auto path = (t.dir / "model" / "m.onnx").string();
  auto m = empty_model({2, 6});
  auto* shape = m.mutable_graph()->add_input();
  shape->set_name("shape");
  shape->mutable_type()->mutable_tensor_type()->set_elem_type(::onnx::TensorProto::INT64);
  shape->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(2);
  add_node(m, "Reshape", {"x", "shape"}, "y");
  write(path, m.SerializeAsString());
  CHECK_THROWS_WITH(clnn::onnx::load(path),
                    Catch::Contains("input 1 ('shape') holds integers computed at run time") &&
                        Catch::Contains("bind it at load"));
  clnn::onnx::LoadOptions options;
  options.bound_inputs["shape"] = {{2}, {3, -1}, {}};
  clnn::onnx::Model model = clnn::onnx::load(path, options);
  REQUIRE(model.inputs.size() == 1);  // x only
  CHECK(model.outputs[0].second.shape() == Shape{3, 4});

  auto bad = [&](clnn::onnx::BoundInput b, const std::string& what) {
    clnn::onnx::LoadOptions o;
    o.bound_inputs["shape"] = std::move(b);
    CHECK_THROWS_WITH(clnn::onnx::load(path, o), Catch::Contains(what));
  };
  bad({{3}, {1, 3, 4}, {}}, "unlike the input's");  // the declared shape is [2]
  bad({{2}, {3}, {}}, "holds 1 int64 values for 2");
  bad({{2}, {}, {3.0f, 4.0f}}, "holds 0 int64 values");
  clnn::onnx::LoadOptions stray = options;
  stray.bound_inputs["z"] = {{1}, {1}, {}};
  CHECK_THROWS_WITH(clnn::onnx::load(path, stray), Catch::Contains("'z', which is not an input"));
}

TEST_CASE("folding refuses hostile shape arithmetic cleanly, naming the node", "[onnx][errors]") {
  OnnxDir t;
  const auto path = (t.dir / "model" / "m.onnx").string();
  auto refused = [&](const ::onnx::ModelProto& m, const std::string& node,
                     const std::string& what) {
    write(path, m.SerializeAsString());
    try {
      clnn::onnx::load(path);
      FAIL("loaded, but should refuse: " << what);
    } catch (const Error& e) {
      INFO(e.what());
      CHECK_THAT(e.what(), Catch::Contains("node '" + node + "'") && Catch::Contains(what));
    }
  };
  SECTION("ConstantOfShape of 2^40 elements") {
    auto m = empty_model({2});
    add_int_initializer(m, "dims", {std::int64_t{1} << 20, std::int64_t{1} << 20}, {2});
    add_node(m, "ConstantOfShape", {"dims"}, "c");
    add_node(m, "Add", {"x", "c"}, "y");
    refused(m, "c", "2^26");
  }
  SECTION("Gather of an index past the extent") {
    auto m = empty_model({2, 3});
    add_int_initializer(m, "index", {3}, {});
    add_node(m, "Shape", {"x"}, "s");
    add_node(m, "Gather", {"s", "index"}, "y");
    refused(m, "y", "out of range");
  }
  SECTION("Slice with a step of 0, Range with a delta of 0") {
    auto m = empty_model({4});
    add_int_initializer(m, "z", {0}, {1});
    add_int_initializer(m, "e", {4}, {1});
    add_node(m, "Slice", {"x", "z", "e", "z", "z"}, "y");
    refused(m, "y", "step 0");
    m = empty_model({4});
    add_int_initializer(m, "a", {0}, {});
    add_int_initializer(m, "b", {4}, {});
    add_int_initializer(m, "d", {0}, {});
    add_node(m, "Range", {"a", "b", "d"}, "r");
    add_node(m, "Cast", {"r"}, "y");
    refused(m, "r", "nonzero delta");
  }
  SECTION("integer overflow in shape arithmetic, division by zero") {
    auto m = empty_model({4});
    add_int_initializer(m, "big", {std::numeric_limits<std::int64_t>::max()}, {1});
    add_node(m, "Add", {"big", "big"}, "s");
    add_node(m, "Reshape", {"x", "s"}, "y");
    refused(m, "s", "overflows");
    m = empty_model({4});
    add_int_initializer(m, "four", {4}, {1});
    add_int_initializer(m, "zero", {0}, {1});
    add_node(m, "Div", {"four", "zero"}, "s");
    add_node(m, "Reshape", {"x", "s"}, "y");
    refused(m, "s", "division by zero");
  }
  SECTION("a Range of run-time values, a Cast of one to another type") {
    auto m = empty_model({1});
    add_node(m, "Range", {"x", "x", "x"}, "y");
    refused(m, "y", "computed at run time");
    m = empty_model({4});
    add_node(m, "Cast", {"x"}, "y")->add_attribute()->CopyFrom([] {
      ::onnx::AttributeProto a;
      a.set_name("to");
      a.set_type(::onnx::AttributeProto::INT);
      a.set_i(::onnx::TensorProto::FLOAT16);
      return a;
    }());
    refused(m, "y", "element type 10");
  }
}

TEST_CASE("an ONNX model runs with its initializers as parameters", "[onnx]") {
  OnnxDir t;
  const auto path = t.dir / "model" / "m.onnx";
  write(path, relu_add_model().SerializeAsString());
  clnn::onnx::Model model = clnn::onnx::load(path.string());
  REQUIRE(model.inputs.size() == 1);
  REQUIRE(model.outputs.size() == 1);
  CHECK(model.opset == 13);
  Executor ex(clnn::test::context(), model.graph, {model.outputs[0].second}, Mode::inference);
  ex.set_input("x", {-1.0f, 0.5f, 2.0f});
  ex.forward();
  CHECK(ex.value(model.outputs[0].second).to_host() == std::vector<float>{1.0f, 2.5f, 5.0f});
  CHECK(ex.parameter("w").to_host() == std::vector<float>{1, 2, 3});
}

TEST_CASE("malformed ONNX models are clean errors", "[onnx][errors]") {
  OnnxDir t;
  const auto path = t.dir / "model" / "m.onnx";

  auto model = relu_add_model();
  model.mutable_graph()->mutable_node(0)->set_op_type("NoSuchOp");
  write(path, model.SerializeAsString());
  CHECK_THROWS_AS(clnn::onnx::load(path.string()), clnn::onnx::UnsupportedError);
  CHECK_THROWS_WITH(clnn::onnx::load(path.string()),
                    Catch::Contains("NoSuchOp") && Catch::Contains("'r'"));

  model = relu_add_model();
  model.mutable_graph()->mutable_node(1)->set_input(1, "missing");
  write(path, model.SerializeAsString());
  CHECK_THROWS_WITH(clnn::onnx::load(path.string()), Catch::Contains("'missing'"));

  model = relu_add_model();
  model.mutable_graph()->mutable_initializer(0)->add_dims(5);  // 15 elements, 3 values
  write(path, model.SerializeAsString());
  CHECK_THROWS_WITH(clnn::onnx::load(path.string()), Catch::Contains("3 values for 15 elements"));

  model = relu_add_model();
  auto* w = model.mutable_graph()->mutable_initializer(0);
  w->clear_float_data();
  w->set_data_location(::onnx::TensorProto::EXTERNAL);
  auto* location = w->add_external_data();
  location->set_key("location");
  location->set_value("../../secret.bin");
  write(t.dir / "secret.bin", std::string(12, '\0'));
  write(path, model.SerializeAsString());
  CHECK_THROWS_WITH(clnn::onnx::load(path.string()), Catch::Contains("outside the model's folder"));
  location->set_value("weights.bin");
  write(t.dir / "model" / "weights.bin", std::string(12, '\0'));
  write(path, model.SerializeAsString());
  CHECK_NOTHROW(clnn::onnx::load(path.string()));

  CHECK_THROWS_AS(clnn::onnx::load((t.dir / "none.onnx").string()), IoError);
}

TEST_CASE("hostile attributes and shapes are clean errors naming the node", "[onnx][errors]") {
  OnnxDir t;
  const auto path = (t.dir / "model" / "m.onnx").string();
  const std::int64_t huge = std::int64_t{1} << 62;
  auto refused = [&](const ::onnx::ModelProto& m, const std::string& what) {
    write(path, m.SerializeAsString());
    try {
      clnn::onnx::load(path);
      FAIL("loaded, but should refuse: " << what);
    } catch (const Error& e) {  // a signal or another exception type fails the test case
      INFO(e.what());
      CHECK((dynamic_cast<const ShapeError*>(&e) || dynamic_cast<const IoError*>(&e) ||
             dynamic_cast<const clnn::onnx::UnsupportedError*>(&e)));
      CHECK_THAT(e.what(), Catch::Contains("node 'n'") && Catch::Contains(what));
    }
  };

  SECTION("Transpose: a perm longer than the rank, or out of range") {
    auto m = one_node_model("Transpose", {2, 3});
    set_ints(m, "perm", std::vector<std::int64_t>(16, 0));
    refused(m, "perm");
    m = one_node_model("Transpose", {2, 3});
    set_ints(m, "perm", {0, std::int64_t{1} << 33});
    refused(m, "perm");
  }
  SECTION("ConvTranspose: weights of the wrong rank, options of the wrong length") {
    auto m = one_node_model("ConvTranspose", {1, 2, 4, 4}, {2, 3});
    set_ints(m, "output_shape", {8, 8});
    refused(m, "weights");
    for (const char* option : {"strides", "output_padding", "dilations", "output_shape"}) {
      m = one_node_model("ConvTranspose", {1, 2, 4, 4}, {2, 3, 3, 3});
      set_ints(m, option, {1});
      refused(m, option);
    }
  }
  SECTION("Conv: short or zero strides with SAME padding, weights of rank 1") {
    auto m = one_node_model("Conv", {1, 2, 5, 5}, {3, 2, 3, 3});
    attribute(m, "auto_pad", ::onnx::AttributeProto::STRING)->set_s("SAME_UPPER");
    set_ints(m, "strides", {2});
    refused(m, "strides");
    m = one_node_model("Conv", {1, 2, 5, 5}, {3, 2, 3, 3});
    attribute(m, "auto_pad", ::onnx::AttributeProto::STRING)->set_s("SAME_LOWER");
    set_ints(m, "strides", {0, 1});
    refused(m, "strides");
    m = one_node_model("Conv", {1, 2, 5, 5}, {3});
    refused(m, "rank");
    m = one_node_model("Conv", {5}, {3});
    refused(m, "rank");
  }
  SECTION("sizes that overflow 64 bits") {
    auto m = one_node_model("Reshape", {2, 3});
    add_int_input(m, {huge, huge, -1});
    refused(m, "overflows");
    m = one_node_model("MaxPool", {1, 1, 4, 4});
    set_ints(m, "kernel_shape", {1, 1});
    set_ints(m, "pads", {huge, huge, huge, huge});
    refused(m, "pads");
    m = one_node_model("Conv", {1, 1, 4, 4}, {1, 1, 1, 1});
    set_ints(m, "dilations", {huge, 1});
    refused(m, "dilations");
    m = one_node_model("ConvTranspose", {1, 1, 4, 4}, {1, 1, 1, 1});
    set_ints(m, "strides", {huge, 1});
    refused(m, "strides");
    // Extents in range whose arithmetic is not: SAME padding's output, ConvTranspose's implied
    // output_shape, and a concatenation.
    const std::int64_t longest = std::numeric_limits<std::int64_t>::max();
    m = one_node_model("Conv", {1, 1, longest}, {1, 1, 1});
    attribute(m, "auto_pad", ::onnx::AttributeProto::STRING)->set_s("SAME_UPPER");
    set_ints(m, "strides", {2});
    refused(m, "overflows");
    m = one_node_model("ConvTranspose", {1, 1, huge}, {1, 1, 1});
    attribute(m, "auto_pad", ::onnx::AttributeProto::STRING)->set_s("SAME_LOWER");
    set_ints(m, "strides", {4});
    refused(m, "overflows");
    m = one_node_model("Concat", {huge + 1});
    m.mutable_graph()->mutable_node(0)->add_input("x");
    set_int(m, "axis", 0);
    refused(m, "overflows");
  }
  SECTION("axes beyond the rank are refused, not truncated") {
    auto m = one_node_model("Softmax", {2, 3});
    set_int(m, "axis", std::int64_t{1} << 40);
    refused(m, "axis");
    m = one_node_model("Flatten", {2, 3});
    set_int(m, "axis", (std::int64_t{1} << 32) + 1);
    refused(m, "axis");
    m = one_node_model("Concat", {2, 3});
    set_int(m, "axis", -3);
    refused(m, "axis");
  }
  SECTION("attributes of the wrong type, twice, or unknown") {
    auto m = one_node_model("Softmax", {2, 3});
    attribute(m, "axis", ::onnx::AttributeProto::FLOAT)->set_f(1.0f);
    refused(m, "'axis' must be an integer");
    m = one_node_model("Softmax", {2, 3});
    set_int(m, "axis", 1);
    set_int(m, "axis", 0);
    refused(m, "twice");
    m = one_node_model("LeakyRelu", {2, 3});
    attribute(m, "alpha", ::onnx::AttributeProto::FLOAT)->set_f(NAN);
    refused(m, "alpha");
    m = one_node_model("Relu", {2, 3});
    set_int(m, "alpha", 1);
    refused(m, "attribute 'alpha'");
    m = one_node_model("Gemm", {2, 3}, {3, 2});
    set_int(m, "transA", 7);
    refused(m, "transA");
  }
  SECTION("missing inputs and attributes") {
    auto m = one_node_model("Add", {2, 3});
    refused(m, "missing input 1");
    m = one_node_model("MatMul", {2, 3});  // the attention pattern's check reads inputs first
    m.mutable_graph()->mutable_node(0)->clear_input();
    refused(m, "missing input 0");
    m = one_node_model("MaxPool", {1, 1, 4, 4});
    refused(m, "kernel_shape");
  }
}

TEST_CASE("an imported model exports as it was imported and imports again", "[onnx]") {
  // The importer must not add attributes the model left out: AveragePool takes no dilations.
  OnnxDir t;
  for (const char* test : {"test_averagepool_2d_default", "test_conv_with_strides_padding",
                           "test_maxpool_2d_default"}) {
    INFO(test);
    clnn::onnx::Model model = clnn::onnx::load((kNodeTests / test / "model.onnx").string());
    const std::string path = (t.dir / "model" / "again.onnx").string();
    clnn::onnx::save(model.graph, path, {model.outputs[0].second});
    CHECK_NOTHROW(clnn::onnx::load(path));
  }
}

TEST_CASE("bad external-data offsets are clean errors", "[onnx][errors]") {
  OnnxDir t;
  const auto path = t.dir / "model" / "m.onnx";
  write(t.dir / "model" / "weights.bin", std::string(12, '\0'));
  for (const char* offset : {"abc", "-4", "99999999999999999999999", "4x", ""}) {
    auto model = relu_add_model();
    auto* w = model.mutable_graph()->mutable_initializer(0);
    w->clear_float_data();
    w->set_data_location(::onnx::TensorProto::EXTERNAL);
    auto* location = w->add_external_data();
    location->set_key("location");
    location->set_value("weights.bin");
    auto* entry = w->add_external_data();
    entry->set_key("offset");
    entry->set_value(offset);
    write(path, model.SerializeAsString());
    CHECK_THROWS_AS(clnn::onnx::load(path.string()), IoError);
    CHECK_THROWS_WITH(clnn::onnx::load(path.string()),
                      Catch::Contains("offset") && Catch::Contains("byte count"));
  }
}

TEST_CASE("truncated and fuzzed ONNX files never crash", "[onnx][errors]") {
  OnnxDir t;
  const auto original =
      clnn::test::read_bytes(kNodeTests / "test_conv_with_strides_padding" / "model.onnx");
  REQUIRE_FALSE(original.empty());
  const auto path = t.dir / "model" / "m.onnx";
  std::size_t loaded = 0, rejected = 0;
  auto attempt = [&](const std::string& bytes) {
    write(path, bytes);
    try {
      clnn::onnx::load(path.string());
      ++loaded;
    } catch (const Error&) {
      ++rejected;  // any clnn::Error is a clean refusal; anything else fails the test
    }
  };
  for (std::size_t cut = 0; cut < original.size(); cut += 3) attempt(original.substr(0, cut));
  for (std::size_t at = 0; at < original.size(); ++at) {
    std::string fuzzed = original;
    fuzzed[at] = char(fuzzed[at] ^ (0x5b + at % 7));
    attempt(fuzzed);
  }
  CHECK(rejected > 0);
  CHECK(loaded + rejected == original.size() / 3 + (original.size() % 3 ? 1 : 0) + original.size());
}

TEST_CASE("a trained model exported to ONNX and imported again gives the same outputs", "[onnx]") {
  OnnxDir t;
  Graph g;
  nn::Sequential net;
  net.emplace<nn::Conv2d>(g, "conv", 1, 4, 3, nn::ConvLayerOptions{1, 1});
  net.emplace<nn::BatchNorm>(g, "bn", 4);
  net.emplace<nn::ReLU>();
  net.emplace<nn::MaxPool>(2);
  net.emplace<nn::Conv2d>(g, "conv2", 4, 6, 3, nn::ConvLayerOptions{2, 0, 1, 2});
  net.emplace<nn::AvgPool>(2, 1);
  net.emplace<nn::Flatten>();
  net.emplace<nn::LayerNorm>(g, "ln", Shape{6});
  net.emplace<nn::Dropout>(0.5f, 3);
  net.emplace<nn::Linear>(g, "fc", 6 * 1 * 1, 5);
  Value x = g.input("x", {3, 1, 12, 12});
  Value logits = net(x);
  Value probs = softmax(scale(clnn::sigmoid(logits), 2.0f));
  Value y = g.input("y", {3});
  Value loss = softmax_cross_entropy(logits, y);

  // One training step moves the parameters and batch-norm statistics off their initial values.
  auto images = clnn::test::random_vector(3 * 144, 1);
  Executor train(clnn::test::context(), g, {loss}, Mode::training);
  optim::SGDOptions so;
  so.lr = 0.1f;
  optim::SGD sgd(train, so);
  train.set_input("x", images);
  train.set_input("y", {0, 3, 4});
  train.forward();
  train.backward(loss);
  sgd.step();

  const auto path = (t.dir / "model" / "trained.onnx").string();
  clnn::onnx::save(g, path, {logits, probs}, &train);
  CHECK_THROWS_AS(clnn::onnx::save(g, path + "2", {loss}, &train), clnn::onnx::UnsupportedError);

  Executor original(clnn::test::context(), g, {logits, probs}, Mode::inference);
  for (const Value& p : train.parameters())
    original.set_parameter(p.name(), train.parameter(p.name()).to_host());
  for (const Value& s : train.states())
    original.set_state(s.name(), train.state(s.name()).to_host());
  original.set_input("x", images);
  original.forward();

  clnn::onnx::Model model = clnn::onnx::load(path);
  REQUIRE(model.outputs.size() == 2);
  Executor imported(clnn::test::context(), model.graph,
                    {model.outputs[0].second, model.outputs[1].second}, Mode::inference);
  imported.set_input("x", images);
  imported.forward();
  auto want_logits = original.value(logits).to_host();
  CHECK(clnn::test::relative_error(imported.value(model.outputs[0].second).to_host(),
                                   std::vector<double>(want_logits.begin(), want_logits.end())) <
        1e-6);
  auto want = original.value(probs).to_host();
  CHECK(clnn::test::relative_error(imported.value(model.outputs[1].second).to_host(),
                                   std::vector<double>(want.begin(), want.end())) < 1e-6);
}

TEST_CASE("MatMul broadcasts batch dimensions and takes 1-D operands as numpy does", "[onnx]") {
  OnnxDir t;
  const auto path = (t.dir / "model" / "m.onnx").string();
  struct Case {
    Shape x, w, out;
  };
  for (const Case& c :
       {Case{{2, 1, 3, 4}, {5, 4, 2}, {2, 5, 3, 2}}, Case{{3, 4}, {2, 4, 5}, {2, 3, 5}},
        Case{{4}, {2, 4, 3}, {2, 3}}, Case{{2, 3, 4}, {4}, {2, 3}}}) {
    INFO(to_string(c.x) << " x " << to_string(c.w));
    auto m = one_node_model("MatMul", c.x, c.w);
    const auto w = clnn::test::random_vector(std::size_t(element_count(c.w)), 5);
    m.mutable_graph()->mutable_initializer(0)->set_raw_data(
        std::string(reinterpret_cast<const char*>(w.data()), w.size() * 4));
    write(path, m.SerializeAsString());
    clnn::onnx::Model model = clnn::onnx::load(path);
    const Value y = model.outputs[0].second;
    REQUIRE(y.shape() == c.out);
    const auto x = clnn::test::random_vector(std::size_t(element_count(c.x)), 6);
    Executor ex(clnn::test::context(), model.graph, {y}, Mode::inference);
    ex.set_input("x", x);
    ex.forward();
    const auto got = ex.value(y).to_host();
    // numpy's rule by hand: operands padded to rank 4 ([batch..., rows, cols]), 1-D ones as a
    // row (x) or a column (w), batch extents of 1 repeated.
    auto pad = [](Shape s, bool row) {
      if (s.size() == 1) s = row ? Shape{1, s[0]} : Shape{s[0], 1};
      while (s.size() < 4) s.insert(s.begin(), 1);
      return s;
    };
    const Shape px = pad(c.x, true), pw = pad(c.w, false);
    const long M = long(px[2]), K = long(px[3]), N = long(pw[3]);
    const long B0 = std::max(px[0], pw[0]), B1 = std::max(px[1], pw[1]);
    std::vector<double> want;
    for (long b0 = 0; b0 < B0; ++b0)
      for (long b1 = 0; b1 < B1; ++b1)
        for (long i = 0; i < M; ++i)
          for (long j = 0; j < N; ++j) {
            double acc = 0;
            const long xb = (px[0] == 1 ? 0 : b0) * px[1] + (px[1] == 1 ? 0 : b1);
            const long wb = (pw[0] == 1 ? 0 : b0) * pw[1] + (pw[1] == 1 ? 0 : b1);
            for (long q = 0; q < K; ++q)
              acc += double(x[std::size_t((xb * M + i) * K + q)]) *
                     double(w[std::size_t((wb * K + q) * N + j)]);
            want.push_back(acc);
          }
    CHECK(clnn::test::relative_error(got, want) < 1e-5);
  }
}

TEST_CASE("Mod folds with the divisor's sign, or the dividend's with fmod", "[onnx]") {
  OnnxDir t;
  const auto path = (t.dir / "model" / "m.onnx").string();
  for (bool c_style : {false, true}) {
    // [-7, 7] mod [3, -3] is [2, -2] (Python's rule) or [-1, 1] (C's); an offset that makes
    // the right one [2, 1] reshapes x [2] to [2, 1], and the wrong one would fail the load.
    auto m = empty_model({2});
    add_int_initializer(m, "a", {-7, 7}, {2});
    add_int_initializer(m, "b", {3, -3}, {2});
    add_int_initializer(m, "offset",
                        c_style ? std::vector<std::int64_t>{3, 0} : std::vector<std::int64_t>{0, 3},
                        {2});
    auto* f = add_node(m, "Mod", {"a", "b"}, "r")->add_attribute();
    f->set_name("fmod");
    f->set_type(::onnx::AttributeProto::INT);
    f->set_i(c_style ? 1 : 0);
    add_node(m, "Add", {"r", "offset"}, "target");
    add_node(m, "Reshape", {"x", "target"}, "y");
    write(path, m.SerializeAsString());
    INFO("fmod " << c_style);
    CHECK(clnn::onnx::load(path).outputs[0].second.shape() == Shape{2, 1});
  }
}

TEST_CASE("Pow folds on integers and floats known at load", "[onnx]") {
  // [2, 4] ^ [2, 1] is [4, 4]; [9, 4] ^ 0.5 is [3, 2]: x [16] and [6] reshaped by them, where a
  // wrong power would fail the load.
  OnnxDir t;
  const auto path = (t.dir / "model" / "m.onnx").string();
  auto m = empty_model({16});
  add_int_initializer(m, "a", {2, 4}, {2});
  add_int_initializer(m, "b", {2, 1}, {2});  // squaring, exactly
  add_node(m, "Pow", {"a", "b"}, "square");
  add_node(m, "Reshape", {"x", "square"}, "y");
  auto* base = m.mutable_graph()->add_initializer();
  base->set_name("c");
  base->set_data_type(::onnx::TensorProto::FLOAT);
  base->add_dims(2);
  base->add_float_data(9.0f);
  base->add_float_data(4.0f);
  auto* half = m.mutable_graph()->add_initializer();
  half->set_name("half");
  half->set_data_type(::onnx::TensorProto::FLOAT);
  half->add_float_data(0.5f);
  add_node(m, "Pow", {"c", "half"}, "root");
  auto* cast = add_node(m, "Cast", {"root"}, "root_int")->add_attribute();
  cast->set_name("to");
  cast->set_type(::onnx::AttributeProto::INT);
  cast->set_i(::onnx::TensorProto::INT64);
  add_int_initializer(m, "six", {6}, {1});
  add_node(m, "Slice", {"x", "zero", "six"}, "x6");
  add_int_initializer(m, "zero", {0}, {1});
  add_node(m, "Reshape", {"x6", "root_int"}, "z");
  m.mutable_graph()->add_output()->set_name("z");
  write(path, m.SerializeAsString());
  const clnn::onnx::Model model = clnn::onnx::load(path);
  CHECK(model.outputs[0].second.shape() == Shape{4, 4});
  CHECK(model.outputs[1].second.shape() == Shape{3, 2});
}

TEST_CASE("ScatterND and Transpose fold on tensors known at load", "[onnx]") {
  OnnxDir t;
  const auto path = (t.dir / "model" / "m.onnx").string();
  for (const std::string reduction : {"none", "add"}) {
    // [1, 2] with element 1 replaced by 6 ([1, 6]) or added to ([1, 8]), transposed: x [6] or
    // [8] reshaped by it; a wrong result fails the reshape.
    auto m = empty_model({reduction == "add" ? 8 : 6});
    add_int_initializer(m, "data", {1, 2}, {2, 1});
    add_int_initializer(m, "indices", {1}, {1, 1});
    add_int_initializer(m, "updates", {6}, {1, 1});
    auto* a = add_node(m, "ScatterND", {"data", "indices", "updates"}, "s")->add_attribute();
    a->set_name("reduction");
    a->set_type(::onnx::AttributeProto::STRING);
    a->set_s(reduction);
    add_node(m, "Transpose", {"s"}, "row");
    add_int_initializer(m, "flat", {-1}, {1});
    add_node(m, "Reshape", {"row", "flat"}, "target");
    add_node(m, "Reshape", {"x", "target"}, "y");
    m.mutable_opset_import(0)->set_version(16);
    write(path, m.SerializeAsString());
    INFO(reduction);
    const Shape want = reduction == "add" ? Shape{1, 8} : Shape{1, 6};
    CHECK(clnn::onnx::load(path).outputs[0].second.shape() == want);
  }
}

TEST_CASE("Resize takes sizes beside an empty scales placeholder; a bad scale is a clean error",
          "[onnx]") {
  OnnxDir t;
  const auto path = (t.dir / "model" / "m.onnx").string();
  // Opset 11 and 12 need a scales input even where sizes give the shape: exporters write [0].
  auto m = empty_model({1, 1, 2, 3}, 11);
  auto* empty = m.mutable_graph()->add_initializer();
  empty->set_name("no_scales");
  empty->set_data_type(::onnx::TensorProto::FLOAT);
  empty->add_dims(0);
  add_int_initializer(m, "sizes", {1, 1, 4, 7}, {4});
  add_node(m, "Resize", {"x", "", "no_scales", "sizes"}, "y");
  write(path, m.SerializeAsString());
  CHECK(clnn::onnx::load(path).outputs[0].second.shape() == Shape{1, 1, 4, 7});

  // A scale that leaves no output (0.1 of 3 rounds down to 0) is refused.
  auto bad = empty_model({1, 1, 2, 3}, 13);
  auto* scales = bad.mutable_graph()->add_initializer();
  scales->set_name("scales");
  scales->set_data_type(::onnx::TensorProto::FLOAT);
  scales->add_dims(4);
  for (float v : {1.0f, 1.0f, 2.0f, 0.1f}) scales->add_float_data(v);
  add_node(bad, "Resize", {"x", "", "scales"}, "y");
  write(path, bad.SerializeAsString());
  CHECK_THROWS_WITH(clnn::onnx::load(path), Catch::Contains("scale out of range"));
}

namespace {

// numpy's einsum by its definition, for equations of letters with an explicit output: every
// assignment of the labels, the operands' product added to its output element.
std::vector<double> naive_einsum(const std::string& equation, const std::vector<Shape>& shapes,
                                 const std::vector<std::vector<float>>& operands) {
  const std::size_t arrow = equation.find("->");
  std::vector<std::string> terms{""};
  for (char c : equation.substr(0, arrow))
    if (c == ',')
      terms.emplace_back();
    else
      terms.back().push_back(c);
  const std::string out = equation.substr(arrow + 2);
  std::map<char, long> extent;
  for (std::size_t i = 0; i < terms.size(); ++i)
    for (std::size_t d = 0; d < terms[i].size(); ++d)
      extent[terms[i][d]] = std::max(extent[terms[i][d]], long(shapes[i][d]));
  std::vector<char> labels;
  for (const auto& [l, e] : extent) labels.push_back(l);
  long out_size = 1;
  for (char l : out) out_size *= extent[l];
  std::vector<double> y(std::size_t(out_size), 0.0);
  std::map<char, long> at;
  for (char l : labels) at[l] = 0;
  // Row-major offset of `term` in an operand of `shape` (extents of 1 broadcast).
  auto offset = [&](const std::string& term, const Shape& shape) {
    long o = 0;
    for (std::size_t d = 0; d < term.size(); ++d)
      o = o * long(shape[d]) + (shape[d] == 1 ? 0 : at[term[d]]);
    return std::size_t(o);
  };
  while (true) {
    double p = 1.0;
    for (std::size_t i = 0; i < terms.size(); ++i)
      p *= double(operands[i][offset(terms[i], shapes[i])]);
    long o = 0;
    for (char l : out) o = o * extent[l] + at[l];
    y[std::size_t(o)] += p;
    std::size_t d = labels.size();
    while (d > 0 && ++at[labels[d - 1]] == extent[labels[d - 1]]) at[labels[--d]] = 0;
    if (d == 0) break;
  }
  return y;
}

}  // namespace

TEST_CASE("Einsum: products, diagonals, sums, broadcast ellipses against its definition",
          "[onnx]") {
  OnnxDir t;
  const auto path = (t.dir / "model" / "m.onnx").string();
  struct Case {
    std::string equation, reference;  // the reference spells the output and ellipsis out
    std::vector<Shape> shapes;
    Shape out;
  };
  const std::vector<Case> cases{
      {"bij,bjk->bik", "bij,bjk->bik", {{2, 3, 4}, {2, 4, 5}}, {2, 3, 5}},
      {"bhqd,bhkd->bhqk", "bhqd,bhkd->bhqk", {{2, 3, 5, 4}, {2, 3, 6, 4}}, {2, 3, 5, 6}},
      {"bhqk, bhkd -> bhqd", "bhqk,bhkd->bhqd", {{2, 3, 5, 6}, {2, 3, 6, 4}}, {2, 3, 5, 4}},
      {"ij->ji", "ij->ji", {{3, 5}}, {5, 3}},
      {"bii->bi", "bii->bi", {{2, 4, 4}}, {2, 4}},
      {"i,i", "i,i->", {{7}, {7}}, {}},
      {"ij,jk", "ij,jk->ik", {{3, 4}, {4, 5}}, {3, 5}},
      {"...ij,...jk->...ik", "zij,jk->zik", {{2, 3, 4}, {4, 5}}, {2, 3, 5}},
      {"ij,ij->ij", "ij,ij->ij", {{3, 4}, {3, 4}}, {3, 4}},
      {"i,j->ij", "i,j->ij", {{3}, {4}}, {3, 4}},
      {"bij->j", "bij->j", {{2, 3, 5}}, {5}},
      {"abc,cd,de->abe", "abc,cd,de->abe", {{2, 3, 4}, {4, 5}, {5, 3}}, {2, 3, 3}},
      {"bn,anm,bm->ba", "bn,anm,bm->ba", {{2, 3}, {4, 3, 5}, {2, 5}}, {2, 4}},
      {"ijk,k->ij", "ijk,k->ij", {{2, 1, 4}, {4}}, {2, 1}},
  };
  for (const Case& c : cases) {
    INFO(c.equation);
    auto m = empty_model(c.shapes[0], 13);
    auto* node = add_node(m, "Einsum", {"x"}, "y");
    auto* eq = node->add_attribute();
    eq->set_name("equation");
    eq->set_type(::onnx::AttributeProto::STRING);
    eq->set_s(c.equation);
    std::vector<std::vector<float>> operands;
    for (std::size_t i = 0; i < c.shapes.size(); ++i) {
      operands.push_back(
          clnn::test::random_vector(std::size_t(element_count(c.shapes[i])), 11 + unsigned(i)));
      if (i == 0) continue;
      auto* w = m.mutable_graph()->add_initializer();
      w->set_name("w" + std::to_string(i));
      w->set_data_type(::onnx::TensorProto::FLOAT);
      for (auto d : c.shapes[i]) w->add_dims(d);
      w->set_raw_data(
          std::string(reinterpret_cast<const char*>(operands[i].data()), operands[i].size() * 4));
      node->add_input(w->name());
    }
    write(path, m.SerializeAsString());
    clnn::onnx::Model model = clnn::onnx::load(path);
    const Value y = model.outputs[0].second;
    REQUIRE(y.shape() == c.out);
    Executor ex(clnn::test::context(), model.graph, {y}, Mode::inference);
    ex.set_input("x", operands[0]);
    ex.forward();
    CHECK(clnn::test::relative_error(ex.value(y).to_host(),
                                     naive_einsum(c.reference, c.shapes, operands)) < 1e-5);
  }
  // Malformed equations are clean errors naming the node.
  for (const std::string bad : {"ij->k", "ij,jk->ik", "i.j->ij", "ij->ii", "i->i", "ij$->ij"}) {
    INFO(bad);
    auto m = empty_model({3, 4}, 13);
    auto* eq = add_node(m, "Einsum", {"x"}, "y")->add_attribute();
    eq->set_name("equation");
    eq->set_type(::onnx::AttributeProto::STRING);
    eq->set_s(bad);
    write(path, m.SerializeAsString());
    CHECK_THROWS_AS(clnn::onnx::load(path), Error);
  }
}

TEST_CASE("integer inputs left unbound are fed at run time: ids index tables, masks cast",
          "[onnx]") {
  OnnxDir t;
  const auto path = (t.dir / "model" / "m.onnx").string();
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  auto* g = m.mutable_graph();
  for (const char* name : {"ids", "mask"}) {
    auto* in = g->add_input();
    in->set_name(name);
    auto* type = in->mutable_type()->mutable_tensor_type();
    type->set_elem_type(::onnx::TensorProto::INT64);
    for (auto d : {2, 3}) type->mutable_shape()->add_dim()->set_dim_value(d);
  }
  const auto rows = clnn::test::random_vector(20, 3);  // a [5, 4] table, and [4, 5] by columns
  for (const char* name : {"rows", "columns"}) {
    auto* w = g->add_initializer();
    w->set_name(name);
    w->set_data_type(::onnx::TensorProto::FLOAT);
    w->add_dims(std::string(name) == "rows" ? 5 : 4);
    w->add_dims(std::string(name) == "rows" ? 4 : 5);
    w->set_raw_data(std::string(reinterpret_cast<const char*>(rows.data()), rows.size() * 4));
  }
  add_node(m, "Gather", {"rows", "ids"}, "by_row");
  auto* axis = add_node(m, "Gather", {"columns", "ids"}, "by_column")->add_attribute();
  axis->set_name("axis");
  axis->set_type(::onnx::AttributeProto::INT);
  axis->set_i(1);
  // An id shifted by a constant stays an integer (and indexes).
  add_int_initializer(m, "one", {1}, {});
  add_node(m, "Sub", {"ids", "one"}, "shifted");
  add_node(m, "Gather", {"rows", "shifted"}, "by_shifted");
  auto* cast = add_node(m, "Cast", {"mask"}, "mask_f");
  auto* to = cast->add_attribute();
  to->set_name("to");
  to->set_type(::onnx::AttributeProto::INT);
  to->set_i(::onnx::TensorProto::FLOAT);
  for (const char* out : {"by_row", "by_column", "by_shifted", "mask_f"})
    g->add_output()->set_name(out);
  write(path, m.SerializeAsString());

  clnn::onnx::Model model = clnn::onnx::load(path);
  CHECK(model.integer_inputs == std::set<std::string>{"ids", "mask"});
  std::vector<Value> outputs;
  for (const auto& [name, v] : model.outputs) outputs.push_back(v);
  REQUIRE(outputs[0].shape() == Shape{2, 3, 4});
  REQUIRE(outputs[1].shape() == Shape{4, 2, 3});
  Executor ex(clnn::test::context(), model.graph, outputs, Mode::inference);
  const std::vector<float> ids{4, 0, 2, 2, -1, 1}, mask{1, 1, 0, 1, 0, 0};
  ex.set_input("ids", ids);
  ex.set_input("mask", mask);
  ex.forward();
  auto at = [](long id, long extent) { return id < 0 ? id + extent : id; };
  std::vector<float> by_row, by_column, by_shifted;
  for (float id : ids)
    for (long c = 0; c < 4; ++c) {
      by_row.push_back(rows[std::size_t(at(long(id), 5) * 4 + c)]);
      by_shifted.push_back(rows[std::size_t(at(long(id) - 1, 5) * 4 + c)]);
    }
  for (long r = 0; r < 4; ++r)
    for (float id : ids) by_column.push_back(rows[std::size_t(r * 5 + at(long(id), 5))]);
  CHECK(ex.value(outputs[0]).to_host() == by_row);
  CHECK(ex.value(outputs[1]).to_host() == by_column);
  CHECK(ex.value(outputs[2]).to_host() == by_shifted);
  CHECK(ex.value(outputs[3]).to_host() == mask);

  // Integer division differs from float division: refused, naming the node and the input.
  add_node(m, "Div", {"ids", "ids"}, "halves");
  m.mutable_graph()->add_output()->set_name("halves");
  write(path, m.SerializeAsString());
  try {
    clnn::onnx::load(path);
    FAIL("a Div of run-time integers loaded");
  } catch (const clnn::onnx::UnsupportedError& e) {
    CHECK(std::string(e.what()).find("(Div): input 0 ('ids') holds integers") != std::string::npos);
  }
}

TEST_CASE("symbolic input dimensions take the extents LoadOptions::dims gives, else 1", "[onnx]") {
  OnnxDir t;
  const auto path = (t.dir / "model" / "m.onnx").string();
  auto m = relu_add_model();
  // x: [batch, tokens, 3], y = Relu(x) + w (w [3] broadcasts).
  auto* shape =
      m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape();
  shape->clear_dim();
  shape->add_dim()->set_dim_param("batch");
  shape->add_dim()->set_dim_param("tokens");
  shape->add_dim()->set_dim_value(3);
  write(path, m.SerializeAsString());
  clnn::onnx::Model ones = clnn::onnx::load(path);
  CHECK(ones.inputs[0].second.shape() == Shape{1, 1, 3});
  CHECK(ones.dims == std::map<std::string, std::int64_t>{{"batch", 1}, {"tokens", 1}});
  clnn::onnx::LoadOptions options;
  options.dims = {{"batch", 4}, {"tokens", 7}};
  clnn::onnx::Model given = clnn::onnx::load(path, options);
  CHECK(given.inputs[0].second.shape() == Shape{4, 7, 3});
  CHECK(given.outputs[0].second.shape() == Shape{4, 7, 3});
  options.dims["batch"] = 0;
  CHECK_THROWS_WITH(clnn::onnx::load(path, options),
                    Catch::Contains("dimension 'batch' of input 'x' is given 0"));
}

TEST_CASE(
    "positions and indices export through Casts: TopK, MaxPool's Indices, Gather, "
    "GatherElements",
    "[onnx]") {
  OnnxDir t;
  Graph g;
  const Value x = g.input("x", {2, 3, 7, 6});
  const Value ids = g.input("ids", {2, 5});
  const Value table = g.parameter("table", {9, 4}, init::uniform(-1.0f, 1.0f, 3));
  PoolOptions o;
  o.kernel = {3, 2};
  o.strides = {2, 2};
  o.pads_begin = {1, 0};
  o.pads_end = {1, 0};
  const TopK top = top_k(reshape(x, {6, 42}), 5, -1, false);
  const std::vector<Value> outputs{max_pool_indices(x, o, true),
                                   max_pool(x, o),
                                   top.values,
                                   top.positions,
                                   gather_elements(x, g.input("at", {2, 3, 2, 6}), 2),
                                   embedding(table, ids)};
  const auto path = (t.dir / "model" / "indices.onnx").string();
  clnn::onnx::save(g, path, outputs);

  std::map<std::string, std::vector<float>> feed{{"x", clnn::test::random_vector(2 * 3 * 7 * 6, 5)},
                                                 {"ids", {0, 8, 3, 3, -1, 5, 2, 7, 1, 4}},
                                                 {"at", std::vector<float>(2 * 3 * 2 * 6)}};
  for (std::size_t i = 0; i < feed["at"].size(); ++i) feed["at"][i] = float((i * 5) % 7);
  Executor original(clnn::test::context(), g, outputs, Mode::inference);
  for (const auto& [name, values] : feed) original.set_input(name, values);
  original.forward();

  clnn::onnx::Model model = clnn::onnx::load(path);
  REQUIRE(model.outputs.size() == outputs.size());
  std::vector<Value> imported_outputs;
  for (const auto& [name, v] : model.outputs) imported_outputs.push_back(v);
  Executor imported(clnn::test::context(), model.graph, imported_outputs, Mode::inference);
  for (const auto& [name, values] : feed) imported.set_input(name, values);
  imported.forward();
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    INFO("output " << i);
    CHECK(imported.value(imported_outputs[i]).to_host() == original.value(outputs[i]).to_host());
  }
}
