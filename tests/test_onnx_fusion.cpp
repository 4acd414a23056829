// Patterns of ONNX nodes the importer runs as one operator: attention and GELU as exporters
// write them. Each runs fused (the executor's schedule holds the operator) with the outputs of
// the definition.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <map>
#include <memory>

#include "clnn/executor.hpp"
#include "clnn/onnx.hpp"
#include "onnx_models.hpp"
#include "support.hpp"

using namespace clnn;
using namespace clnn::test;

namespace {

bool schedule_has(const Executor& ex, const std::string& op) {
  for (const auto& pass : ex.schedule())
    if (pass.op == op) return true;
  return false;
}

// A float initializer holding one value, of rank `rank` (extents 1).
void add_scalar(::onnx::ModelProto& m, const std::string& name, float value, int rank = 0) {
  auto* c = m.mutable_graph()->add_initializer();
  c->set_name(name);
  c->set_data_type(::onnx::TensorProto::FLOAT);
  for (int d = 0; d < rank; ++d) c->add_dims(1);
  c->add_float_data(value);
}

// An opset-17 model with float inputs of the given shapes and no nodes yet.
::onnx::ModelProto attention_model(const std::vector<std::pair<std::string, Shape>>& inputs) {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  for (const auto& [name, shape] : inputs) {
    auto* in = m.mutable_graph()->add_input();
    in->set_name(name);
    auto* type = in->mutable_type()->mutable_tensor_type();
    type->set_elem_type(::onnx::TensorProto::FLOAT);
    for (auto d : shape) type->mutable_shape()->add_dim()->set_dim_value(d);
  }
  return m;
}

// Transpose(k) swapping the last two of four dimensions, as exporters write K^T.
void add_transposed_keys(::onnx::ModelProto& m, const std::string& k, const std::string& out) {
  auto* perm = add_node(m, "Transpose", {k}, out)->add_attribute();
  perm->set_name("perm");
  perm->set_type(::onnx::AttributeProto::INTS);
  for (auto p : {0, 1, 3, 2}) perm->add_ints(p);
}

// Softmax(scores) over the last axis, then MatMul by v into the model's output y.
void add_softmax_times_v(::onnx::ModelProto& m, const std::string& scores) {
  auto* axis = add_node(m, "Softmax", {scores}, "p")->add_attribute();
  axis->set_name("axis");
  axis->set_type(::onnx::AttributeProto::INT);
  axis->set_i(-1);
  add_node(m, "MatMul", {"p", "v"}, "y");
  m.mutable_graph()->add_output()->set_name("y");
}

// The model at `path` in an inference executor, its inputs random (each its own seed), run.
struct LoadedRun {
  clnn::onnx::Model model;
  std::unique_ptr<Executor> ex;
  std::map<std::string, std::vector<float>> in;
};
LoadedRun load_and_run(const std::string& path) {
  LoadedRun r{clnn::onnx::load(path), nullptr, {}};
  r.ex = std::make_unique<Executor>(clnn::test::context(), r.model.graph,
                                    std::vector<Value>{r.model.outputs[0].second}, Mode::inference);
  std::uint32_t seed = 21;
  for (const auto& [name, v] : r.model.inputs) {
    r.in[name] = random_vector(std::size_t(element_count(v.shape())), seed++);
    r.ex->set_input(name, r.in[name]);
  }
  r.ex->forward();
  return r;
}

// softmax(q k^T / sqrt(D) + mask(head, i, j)) v for each of `heads` heads of q [L, D] and k and
// v [S, D], in double precision.
std::vector<double> attention_definition(
    const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
    std::int64_t heads, std::int64_t L, std::int64_t S, std::int64_t D,
    const std::function<double(std::int64_t, std::int64_t, std::int64_t)>& mask) {
  std::vector<double> want;
  for (std::int64_t h = 0; h < heads; ++h)
    for (std::int64_t i = 0; i < L; ++i) {
      std::vector<double> s(static_cast<std::size_t>(S));
      double top = -1e300, total = 0;
      for (std::int64_t j = 0; j < S; ++j) {
        double dot = 0;
        for (std::int64_t d = 0; d < D; ++d)
          dot += double(q[std::size_t((h * L + i) * D + d)]) * k[std::size_t((h * S + j) * D + d)];
        s[std::size_t(j)] = dot / std::sqrt(double(D)) + mask(h, i, j);
        top = std::max(top, s[std::size_t(j)]);
      }
      for (auto& e : s) total += (e = std::exp(e - top));
      for (std::int64_t d = 0; d < D; ++d) {
        double acc = 0;
        for (std::int64_t j = 0; j < S; ++j)
          acc += s[std::size_t(j)] / total * v[std::size_t((h * S + j) * D + d)];
        want.push_back(acc);
      }
    }
  return want;
}

}  // namespace

TEST_CASE("attention as exporters write it runs as the fused operator, same outputs", "[onnx]") {
  OnnxDir t;
  const auto path = (t.dir / "model" / "m.onnx").string();
  // q, k, v: [2, 3, L, 8] (k and v S = 5 keys); softmax(q k^T * scale + masks) v, the scale
  // spelled as PyTorch does (both operands times its root) or as a division of the scores, the
  // masks one over queries and keys and one per head, added one after the other.
  const std::int64_t L = 4, S = 5, D = 8;
  for (const bool divided : {false, true})
    for (const bool masked : {false, true}) {
      INFO("divided " << divided << " masked " << masked);
      std::vector<std::pair<std::string, Shape>> inputs{
          {"q", {2, 3, L, D}}, {"k", {2, 3, S, D}}, {"v", {2, 3, S, D}}};
      if (masked) inputs.insert(inputs.end(), {{"mask", {L, S}}, {"head_mask", {3, 1, S}}});
      ::onnx::ModelProto m = attention_model(inputs);
      add_transposed_keys(m, "k", "kt");
      if (divided) {
        add_scalar(m, "root_d", std::sqrt(float(D)));
        add_node(m, "MatMul", {"q", "kt"}, "product");
        add_node(m, "Div", {"product", "root_d"}, "scores");
      } else {
        add_scalar(m, "root", std::sqrt(1.0f / std::sqrt(float(D))));
        add_node(m, "Mul", {"q", "root"}, "qs");
        add_node(m, "Mul", {"kt", "root"}, "kts");
        add_node(m, "MatMul", {"qs", "kts"}, "scores");
      }
      if (masked) {
        add_node(m, "Add", {"scores", "mask"}, "masked_once");
        add_node(m, "Add", {"masked_once", "head_mask"}, "masked");
      }
      add_softmax_times_v(m, masked ? "masked" : "scores");
      write(path, m.SerializeAsString());

      LoadedRun r = load_and_run(path);
      CHECK(schedule_has(*r.ex, "scaled_dot_product_attention"));
      const auto want = attention_definition(r.in["q"], r.in["k"], r.in["v"], 6, L, S, D,
                                             [&](std::int64_t h, std::int64_t i, std::int64_t j) {
                                               if (!masked) return 0.0;
                                               return double(r.in["mask"][std::size_t(i * S + j)]) +
                                                      r.in["head_mask"][std::size_t(h % 3 * S + j)];
                                             });
      CHECK(relative_error(r.ex->value(r.model.outputs[0].second).to_host(), want) < 1e-5);
    }
}

TEST_CASE("Swin's shifted-window attention runs as the fused operator, same outputs", "[onnx]") {
  OnnxDir t;
  const auto path = (t.dir / "model" / "m.onnx").string();
  // Scores of 2 images of 3 windows, 2 heads ([6, 2, L, S]) plus a bias per head; seen as
  // [2, 3, 2, L, S] between two Reshapes, plus a mask per window, as torchvision's Swin adds
  // its shifted windows' mask. A mask per image and window is not one the fused operator
  // repeats: that graph runs as written.
  const std::int64_t images = 2, windows = 3, heads = 2, L = 4, S = 5, D = 8;
  const std::int64_t batch = images * windows;
  for (const bool per_image : {false, true}) {
    INFO("a mask per image " << per_image);
    ::onnx::ModelProto m =
        attention_model({{"q", {batch, heads, L, D}},
                         {"k", {batch, heads, S, D}},
                         {"v", {batch, heads, S, D}},
                         {"bias", {heads, L, S}},
                         {"window_mask", {per_image ? images : 1, windows, 1, L, S}}});
    add_scalar(m, "scale", 1.0f / std::sqrt(float(D)));
    add_int_initializer(m, "split", {images, windows, heads, L, S}, {5});
    add_int_initializer(m, "merged", {batch, heads, L, S}, {4});
    add_node(m, "Mul", {"q", "scale"}, "qs");
    add_transposed_keys(m, "k", "kt");
    add_node(m, "MatMul", {"qs", "kt"}, "product");
    add_node(m, "Add", {"product", "bias"}, "biased");
    add_node(m, "Reshape", {"biased", "split"}, "per_window");
    add_node(m, "Add", {"per_window", "window_mask"}, "masked_windows");
    add_node(m, "Reshape", {"masked_windows", "merged"}, "masked");
    add_softmax_times_v(m, "masked");
    write(path, m.SerializeAsString());

    LoadedRun r = load_and_run(path);
    CHECK(schedule_has(*r.ex, "scaled_dot_product_attention") == !per_image);
    CHECK(schedule_has(*r.ex, "softmax") == per_image);
    // Head `head` is entry head / heads (image o / windows, window o % windows), head h.
    const auto want = attention_definition(
        r.in["q"], r.in["k"], r.in["v"], batch * heads, L, S, D,
        [&](std::int64_t head, std::int64_t i, std::int64_t j) {
          const std::int64_t o = head / heads, h = head % heads;
          const std::int64_t mask_at = ((per_image ? o : o % windows) * L + i) * S + j;
          return double(r.in["bias"][std::size_t((h * L + i) * S + j)]) +
                 r.in["window_mask"][std::size_t(mask_at)];
        });
    CHECK(relative_error(r.ex->value(r.model.outputs[0].second).to_host(), want) < 1e-5);
  }
}

TEST_CASE("GELU as exporters write it runs as the gelu operator, same outputs", "[onnx]") {
  OnnxDir t;
  const auto path = (t.dir / "model" / "m.onnx").string();
  const Shape shape{3, 17};
  // PyTorch's spelling ((x * (Erf(x / sqrt 2) + 1)) * 0.5), one with the halving first and the
  // division as a product, and two near misses that must stay unfused: + 2 instead of + 1, and a
  // scalar of higher rank than x (the result would broadcast to it).
  enum class Spelling { pytorch, halved_first, plus_two, wider_scalar };
  for (const Spelling spelling :
       {Spelling::pytorch, Spelling::halved_first, Spelling::plus_two, Spelling::wider_scalar}) {
    INFO("spelling " << int(spelling));
    auto m = empty_model(shape, 17);
    const float root2 = std::sqrt(2.0f), one = spelling == Spelling::plus_two ? 2.0f : 1.0f;
    add_scalar(m, "one", one, spelling == Spelling::wider_scalar ? 3 : 0);
    add_scalar(m, "half", 0.5f);
    if (spelling == Spelling::halved_first) {
      add_scalar(m, "inverse_root2", 1.0f / root2, 1);
      add_node(m, "Mul", {"inverse_root2", "x"}, "scaled");
      add_node(m, "Mul", {"x", "half"}, "halved");
      add_node(m, "Erf", {"scaled"}, "erf");
      add_node(m, "Add", {"one", "erf"}, "sum");
      add_node(m, "Mul", {"halved", "sum"}, "y");
    } else {
      add_scalar(m, "root2", root2);
      add_node(m, "Div", {"x", "root2"}, "scaled");
      add_node(m, "Erf", {"scaled"}, "erf");
      add_node(m, "Add", {"erf", "one"}, "sum");
      add_node(m, "Mul", {"x", "sum"}, "product");
      add_node(m, "Mul", {"product", "half"}, "y");
    }
    write(path, m.SerializeAsString());
    clnn::onnx::Model model = clnn::onnx::load(path);
    const Value y = model.outputs[0].second;
    Executor ex(context(), model.graph, {y}, Mode::inference);
    const std::vector<float> x = random_vector(std::size_t(element_count(shape)), 5);
    ex.set_input("x", x);
    ex.forward();
    const bool gelu_pattern = spelling == Spelling::pytorch || spelling == Spelling::halved_first;
    CHECK(schedule_has(ex, "gelu") == gelu_pattern);
    CHECK(y.shape() == (spelling == Spelling::wider_scalar ? Shape{1, 3, 17} : shape));
    std::vector<double> want;
    for (float v : x) want.push_back(0.5 * v * (double(one) + std::erf(v / std::sqrt(2.0))));
    CHECK(relative_error(ex.value(y).to_host(), want) < 1e-6);
  }
}

TEST_CASE("a Linear layer as exporters write it runs as one matmul with a bias", "[onnx]") {
  // MatMul then Add of a bias (either order; x of tokens [2, 5, K] too), and Gemm with a one-row
  // C (1-D or [1, N]; B transposed, as PyTorch exports Linear): one matmul node with the bias, no
  // add. Near misses stay unfused: a bias of the wrong extent (broadcast from [1]), a product
  // read by another node, Gemm with beta 2.
  OnnxDir t;
  const auto path = (t.dir / "model" / "m.onnx").string();
  const std::int64_t k = 8, n = 12;
  enum class Form {
    matmul_add,
    add_matmul,
    tokens,
    gemm,
    gemm_row,
    gemm_tb,
    scalar_bias,
    shared_product,
    beta
  };
  for (const Form form :
       {Form::matmul_add, Form::add_matmul, Form::tokens, Form::gemm, Form::gemm_row, Form::gemm_tb,
        Form::scalar_bias, Form::shared_product, Form::beta}) {
    INFO("form " << int(form));
    const std::int64_t rows = form == Form::tokens ? 10 : 5;
    auto m = empty_model(form == Form::tokens ? Shape{2, 5, k} : Shape{rows, k}, 17);
    auto* g = m.mutable_graph();
    const bool tb = form == Form::gemm_tb;
    const std::vector<float> w = random_vector(std::size_t(k * n), 7);  // [k, n], or [n, k]
    const std::int64_t bias_size = form == Form::scalar_bias ? 1 : n;
    const std::vector<float> bias = random_vector(std::size_t(bias_size), 8);
    auto initializer = [&](const std::string& name, const Shape& shape,
                           const std::vector<float>& values) {
      auto* c = g->add_initializer();
      c->set_name(name);
      c->set_data_type(::onnx::TensorProto::FLOAT);
      for (auto d : shape) c->add_dims(d);
      for (float v : values) c->add_float_data(v);
    };
    initializer("w", tb ? Shape{n, k} : Shape{k, n}, w);
    initializer("b", form == Form::gemm_row ? Shape{1, bias_size} : Shape{bias_size}, bias);
    const bool gemm = form == Form::gemm || form == Form::gemm_row || tb || form == Form::beta;
    if (gemm) {
      auto* node = add_node(m, "Gemm", {"x", "w", "b"}, "y");
      if (tb) {
        auto* trans = node->add_attribute();
        trans->set_name("transB");
        trans->set_type(::onnx::AttributeProto::INT);
        trans->set_i(1);
      }
      if (form == Form::beta) {
        auto* beta = node->add_attribute();
        beta->set_name("beta");
        beta->set_type(::onnx::AttributeProto::FLOAT);
        beta->set_f(2.0f);
      }
    } else {
      add_node(m, "MatMul", {"x", "w"}, "product");
      if (form == Form::add_matmul)
        add_node(m, "Add", {"b", "product"}, "y");
      else
        add_node(m, "Add", {"product", "b"}, form == Form::shared_product ? "sum" : "y");
      if (form == Form::shared_product) add_node(m, "Add", {"sum", "product"}, "y");
    }
    write(path, m.SerializeAsString());
    clnn::onnx::Model model = clnn::onnx::load(path);
    const Value y = model.outputs[0].second;
    Executor ex(context(), model.graph, {y}, Mode::inference);
    const std::vector<float> x = random_vector(std::size_t(rows * k), 9);
    ex.set_input("x", x);
    ex.forward();
    const bool fused =
        form != Form::scalar_bias && form != Form::shared_product && form != Form::beta;
    CHECK(schedule_has(ex, "add") == !fused);
    const double beta = form == Form::beta ? 2.0 : 1.0;
    std::vector<double> want;
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < n; ++c) {
        double product = 0.0;
        for (std::int64_t i = 0; i < k; ++i)
          product += double(x[std::size_t(r * k + i)]) * w[std::size_t(tb ? c * k + i : i * n + c)];
        double v = product + beta * bias[std::size_t(bias_size == 1 ? 0 : c)];
        if (form == Form::shared_product) v += product;
        want.push_back(v);
      }
    CHECK(relative_error(ex.value(y).to_host(), want) < 1e-5);
  }
}
