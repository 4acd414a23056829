// The profiler's scopes (take_profile over a small graph's passes) and the ops' cost model.
#include <algorithm>
#include <catch2/catch.hpp>
#include <functional>

#include "cl/profiler.hpp"
#include "clnn/clnn.hpp"
#include "clnn/interop.hpp"
#include "conv_checks.hpp"
#include "graph/graph_data.hpp"
#include "ops/gemm_host.hpp"
#include "support.hpp"

namespace {

using clnn::Shape;
using clnn::Value;
using clnn::detail::Cost;
using clnn::detail::Pass;
using clnn::detail::ProfilingOn;

// The cost model's figure for the pass of the node that made v.
Cost cost_of(const Value& v, Pass pass, const std::vector<bool>& wanted = {}) {
  auto graph = clnn::GraphAccess::data(v);
  const clnn::detail::Node& node = graph->nodes[std::size_t(v.id())];
  std::vector<Shape> shapes;
  for (int u : node.inputs) shapes.push_back(graph->nodes[std::size_t(u)].shape);
  return node.op->cost(clnn::detail::CostArgs{pass, shapes, node.shape, true, wanted});
}

const clnn::detail::ProfileRow* find_row(const std::vector<clnn::detail::ProfileRow>& rows,
                                         const std::string& label) {
  for (const auto& r : rows)
    if (r.label == label) return &r;
  return nullptr;
}

}  // namespace

TEST_CASE("cost model: matmul counts 2 M N K per product", "[profile]") {
  clnn::Graph g;
  Value a = g.input("a", {8, 16}), b = g.input("b", {16, 4});
  Value c = clnn::matmul(a, b);
  CHECK(cost_of(c, Pass::forward).flops == 2.0 * 8 * 4 * 16);
  CHECK(cost_of(c, Pass::forward).bytes == 4.0 * (8 * 16 + 16 * 4 + 8 * 4));
  CHECK(cost_of(c, Pass::backward, {true, true}).flops == 2 * 2.0 * 8 * 4 * 16);
  CHECK(cost_of(c, Pass::backward, {false, true}).flops == 2.0 * 8 * 4 * 16);
  // Transposed and batched: a is [3, 16, 8] read as [3, 8, 16].
  Value at = g.input("at", {3, 16, 8});
  CHECK(cost_of(clnn::matmul(at, b, true), Pass::forward).flops == 2.0 * 3 * 8 * 4 * 16);
}

TEST_CASE("cost model: convolution counts groups, taps and output positions", "[profile]") {
  clnn::Graph g;
  SECTION("2-D, 2 groups, bias") {
    Value x = g.input("x", {2, 6, 10, 10}), w = g.input("w", {4, 3, 3, 3}),
          bias = g.input("b", {4});
    clnn::ConvOptions o;
    o.pads_begin = o.pads_end = {1, 1};
    o.groups = 2;
    Value y = clnn::conv(x, w, bias, o);
    REQUIRE(y.shape() == Shape{2, 4, 10, 10});
    const double products = 2.0 * 800 * (3 * 9);  // 2·N·K·positions · (C/groups)·taps
    CHECK(cost_of(y, Pass::forward).flops == products + 800);
    CHECK(cost_of(y, Pass::backward, {true, true, true}).flops == 2 * products + 800);
    CHECK(cost_of(y, Pass::backward, {false, true, false}).flops == products);
  }
  SECTION("3-D") {
    Value x = g.input("x", {1, 2, 4, 4, 4}), w = g.input("w", {3, 2, 3, 3, 3});
    Value y = clnn::conv(x, w);
    REQUIRE(y.shape() == Shape{1, 3, 2, 2, 2});
    CHECK(cost_of(y, Pass::forward).flops == 2.0 * 24 * (2 * 27));
    CHECK(cost_of(y, Pass::backward, {true, true}).flops == 2 * 2.0 * 24 * (2 * 27));
  }
}

TEST_CASE("cost model: pooling reads whole windows; elementwise ops take the default",
          "[profile]") {
  clnn::Graph g;
  Value x = g.input("x", {1, 1, 4, 4});
  clnn::PoolOptions o;
  o.kernel = {2, 2};
  Value y = clnn::max_pool(x, o);
  CHECK(cost_of(y, Pass::forward).flops == 16);
  CHECK(cost_of(y, Pass::forward).bytes == 4.0 * (16 + 4));
  Value r = clnn::relu(x);
  CHECK(cost_of(r, Pass::forward).flops == 16);
  CHECK(cost_of(r, Pass::forward).bytes == 4.0 * (16 + 16));
}

TEST_CASE("take_profile: a row per node pass, with launches, cost and kernels", "[profile]") {
  clnn::Context ctx = clnn::Context::create();  // its own: the profiler's rows are the process's
  clnn::Graph g;
  Value x = g.input("x", {4, 8});
  Value w = g.parameter("w", {8, 3}, clnn::init::uniform(-1.0f, 1.0f, 1));
  Value loss = clnn::sum(clnn::tanh(clnn::matmul(x, w)));  // tanh: no epilogue folds it away
  clnn::Executor ex(ctx, g, {loss}, clnn::Mode::training);
  ex.set_input("x", clnn::test::random_vector(32, 2));

  ex.forward();  // with the profiler off, nothing is kept
  ctx.finish();
  clnn::detail::take_profile();  // whatever earlier cases of this process left
  ex.forward();
  ctx.finish();
  CHECK(clnn::detail::take_profile().empty());

  {
    ProfilingOn on;
    ex.forward();
    ex.backward(loss);
    ctx.finish();
  }
  const auto rows = clnn::detail::take_profile();
  for (const char* label : {"matmul forward", "tanh forward", "sum forward", "matmul backward",
                            "tanh backward", "sum backward"}) {
    INFO(label);
    const auto* row = find_row(rows, label);
    REQUIRE(row);
    CHECK(row->entries == 1);
    CHECK(row->launches >= 1);
    CHECK(row->ms >= 0);
    CHECK_FALSE(row->kernel_ms.empty());
    CHECK(row->bytes > 0);
  }
  CHECK(find_row(rows, "matmul forward")->flops == 2.0 * 4 * 3 * 8);
  // x is an input: backward computes w's gradient only.
  CHECK(find_row(rows, "matmul backward")->flops == 2.0 * 4 * 3 * 8);
  // Backward seeds the loss's gradient outside every node.
  const auto* other = find_row(rows, clnn::detail::kOtherScope);
  REQUIRE(other);
  CHECK(other->launches >= 1);
  CHECK(clnn::detail::take_profile().empty());  // taken
}

TEST_CASE("take_profile by node: a row per node and pass, named after the node", "[profile]") {
  clnn::Context ctx = clnn::Context::create();
  clnn::Graph g;
  Value x = g.input("x", {4, 8});
  Value w = g.parameter("w", {8, 3}, clnn::init::uniform(-1.0f, 1.0f, 1));
  Value y = clnn::tanh(clnn::tanh(clnn::matmul(x, w)));  // tanh: no epilogue folds it away
  clnn::Executor ex(ctx, g, {y}, clnn::Mode::inference);
  ex.set_input("x", clnn::test::random_vector(32, 2));
  ctx.finish();
  clnn::detail::take_profile();
  {
    ProfilingOn on;
    clnn::detail::set_profiling_by_node(true);
    ex.forward();
    ctx.finish();
    clnn::detail::set_profiling_by_node(false);
  }
  const auto rows = clnn::detail::take_profile();
  // Two tanh nodes, two rows; none under the op alone.
  for (const char* label :
       {"matmul forward 'matmul_1'", "tanh forward 'tanh_1'", "tanh forward 'tanh_2'"}) {
    INFO(label);
    const auto* row = find_row(rows, label);
    REQUIRE(row);
    CHECK(row->entries == 1);
    CHECK(row->launches >= 1);
  }
  CHECK_FALSE(find_row(rows, "tanh forward"));
}

TEST_CASE("take_profile: a scope inside another belongs to it", "[profile]") {
  clnn::Context ctx = clnn::Context::create();
  clnn::Tensor t = clnn::Tensor::zeros(ctx, {16});
  ctx.finish();
  clnn::detail::take_profile();
  {
    ProfilingOn on;
    clnn::detail::ProfileScope outer("outer", 1.0, 2.0);
    clnn::fill(t, 1.0f);
    {
      clnn::detail::ProfileScope inner("inner", 3.0, 4.0);
      clnn::fill(t, 2.0f);
    }
    ctx.finish();
  }
  const auto rows = clnn::detail::take_profile();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].label == "outer");
  CHECK(rows[0].launches == 2);
  CHECK(rows[0].entries == 1);
  CHECK(rows[0].flops == 1.0);
  CHECK(rows[0].bytes == 2.0);
}

namespace {

// One forward() of ex, as the profiler's rows by label.
std::map<std::string, clnn::detail::ProfileRow> forward_rows(clnn::Executor& ex) {
  ProfilingOn on;
  clnn::detail::take_profile();
  ex.forward();
  std::map<std::string, clnn::detail::ProfileRow> rows;
  for (auto& row : clnn::detail::take_profile()) rows[row.label] = row;
  return rows;
}

// One profiled training step of ex with input `name` set: its rows by label, and the loss
// followed by the gradients of `parameters`.
struct ProfiledStep {
  std::map<std::string, clnn::detail::ProfileRow> rows;
  std::vector<float> results;
};
ProfiledStep profiled_step(clnn::Executor& ex, const Value& loss, const std::string& name,
                           const std::vector<float>& input, const std::vector<Value>& parameters) {
  ex.set_input(name, input);
  ProfiledStep step;
  ProfilingOn on;
  clnn::detail::take_profile();
  ex.forward();
  ex.backward(loss);
  for (auto& row : clnn::detail::take_profile()) step.rows[row.label] = row;
  step.results = ex.value(loss).to_host();
  for (const Value& p : parameters) {
    const auto grad = ex.gradient(p).to_host();
    step.results.insert(step.results.end(), grad.begin(), grad.end());
  }
  return step;
}

// An inference and a training executor of g for `outputs`, input "x" set on both: the training
// one assembles, prepares and sums nothing in place, so it is the reference the inference one
// must match bit for bit.
// Training's outputs are inference's and `unfolded`: activations' operands asked for too, so
// that training runs those activations as nodes of their own. A relu whose operand is not named
// there folds in training as in inference (its training backward is checked in test_conv and
// test_ops against the reference).
struct InferenceAndTraining {
  InferenceAndTraining(const clnn::Graph& g, const std::vector<Value>& outputs,
                       const std::vector<float>& input, std::vector<Value> unfolded = {})
      : inference(clnn::test::context(), g, outputs, clnn::Mode::inference),
        training(clnn::test::context(), g, with(outputs, std::move(unfolded)),
                 clnn::Mode::training) {
    inference.set_input("x", input);
    training.set_input("x", input);
  }
  clnn::Executor inference, training;

 private:
  static std::vector<Value> with(std::vector<Value> outputs, std::vector<Value> more) {
    outputs.insert(outputs.end(), more.begin(), more.end());
    return outputs;
  }
};

}  // namespace

TEST_CASE("an inference executor folds relu and clip into the convolution before them",
          "[profile][executor]") {
  using clnn::detail::ConvRoute;
  // x -> conv+bias -> relu -> conv -> clip -> out, and a relu whose convolution is an output
  // too, so stays a kernel of its own; 9x7 and 8x6 positions (the implicit GEMM stores a
  // multiple of 4 as float4s).
  for (std::int64_t width : {7, 6}) {
    clnn::Graph g;
    Value x = g.input("x", {2, 8, 9 - (7 - width), width});
    Value w1 = g.parameter("w1", {8, 8, 3, 3}, clnn::init::uniform(-0.5f, 0.5f, 1));
    Value b1 = g.parameter("b1", {8}, clnn::init::uniform(-0.5f, 0.5f, 2));
    Value w2 = g.parameter("w2", {8, 8, 3, 3}, clnn::init::uniform(-0.5f, 0.5f, 3));
    clnn::ConvOptions o;
    o.pads_begin = o.pads_end = {1, 1};
    Value first = clnn::conv(x, w1, b1, o);
    Value out = clnn::clip(clnn::conv(clnn::relu(first), w2, std::nullopt, o), -0.5f, 0.25f);
    Value kept = clnn::conv(x, w2, std::nullopt, o);
    Value kept_relu = clnn::relu(kept);
    const auto input = clnn::test::random_vector(std::size_t(clnn::element_count(x.shape())), 4);

    clnn::test::RouteScope scope(ConvRoute::automatic);
    for (ConvRoute route : {ConvRoute::automatic, ConvRoute::columns, ConvRoute::implicit,
                            ConvRoute::winograd, ConvRoute::padded}) {
      INFO("route " << int(route));
      scope.set(route);
      InferenceAndTraining pair(g, {out, kept, kept_relu}, input, {first});
      auto& [inference, training] = pair;
      auto folded = forward_rows(inference);
      auto unfolded = forward_rows(training);
      // Bit for bit: the epilogue is the activation kernel's own fmin(fmax()).
      for (const Value& v : {out, kept, kept_relu})
        CHECK(inference.value(v).to_host() == training.value(v).to_host());
      // Training runs each activation as its own node; inference only the kept relu.
      CHECK(unfolded["relu forward"].entries == 2);
      CHECK(unfolded["clip forward"].entries == 1);
      CHECK(folded["relu forward"].entries == 1);
      CHECK(folded.count("clip forward") == 0);
      // Winograd's output transform, the implicit GEMM (unsplit: K here is 72 rows) and the
      // padded direct convolution apply the epilogue as they store; the column route too where
      // it runs a product per sample (CPUs where the host BLAS pays: gemm_cpu finishes them, or
      // the bias pass after the host's product), else the activation kernel over y after its
      // product. Automatic takes one, by device.
      const auto& kernels = folded["conv forward"].kernel_ms;
      const std::size_t winograd =  // vectors of tiles where the context loops rows (CPUs)
          kernels.count("winograd_outputs") + kernels.count("winograd_outputs_lanes");
      if (route == ConvRoute::winograd) CHECK(winograd == 1);
      if (route == ConvRoute::implicit) CHECK(kernels.count("conv_vec4") == 1);
      if (route == ConvRoute::padded) CHECK(kernels.count("conv_padded") == 1);
      const bool columns = kernels.count("vol2col") + kernels.count("vol2col_rows") > 0;
      const bool per_sample =
          clnn::detail::host_blas_pays(clnn::detail::Access::impl(clnn::test::context()));
      const bool in_kernel =
          winograd + kernels.count("conv_vec4") + kernels.count("conv_padded") > 0 ||
          (columns && per_sample);
      CHECK(kernels.count("activation_forward") == (in_kernel ? 0 : 1));
    }
  }
}

TEST_CASE("an inference executor folds relu and clip into add, sub and mul before them",
          "[profile][executor]") {
  // relu(x + x * 2) and clip(x * b) on the direct kernel (b repeated over the leading
  // dimensions, 5 floats: one by one), relu(x - c) with c broadcast along the middle axis (the
  // broadcast kernel, then the activation's own pass); a relu whose add is an output too stays a
  // kernel of its own. Bit for bit against training, which runs every node as itself (the
  // relus' operands asked for too).
  clnn::Graph g;
  Value x = g.input("x", {2, 3, 4, 5});
  Value b = g.parameter("b", {5}, clnn::init::uniform(-1.0f, 1.0f, 1));
  Value c = g.parameter("c", {3, 1, 1}, clnn::init::uniform(-1.0f, 1.0f, 2));
  Value sum = clnn::add(x, clnn::scale(x, 2.0f));
  Value residual = clnn::relu(sum);
  Value clipped = clnn::clip(clnn::mul(x, b), -0.25f, 0.5f);
  Value broadcast_operand = clnn::sub(x, c);
  Value broadcast = clnn::relu(broadcast_operand);
  Value kept = clnn::add(x, c);
  Value kept_relu = clnn::relu(kept);
  const auto input = clnn::test::random_vector(2 * 3 * 4 * 5, 3);
  InferenceAndTraining pair(g, {residual, clipped, broadcast, kept, kept_relu}, input,
                            {sum, broadcast_operand});
  auto& [inference, training] = pair;
  auto folded = forward_rows(inference);
  auto unfolded = forward_rows(training);
  for (const Value& v : {residual, clipped, broadcast, kept, kept_relu})
    CHECK(inference.value(v).to_host() == training.value(v).to_host());
  CHECK(unfolded["relu forward"].entries == 3);
  CHECK(unfolded["clip forward"].entries == 1);
  CHECK(folded["relu forward"].entries == 1);  // only the kept add's
  CHECK(folded.count("clip forward") == 0);
  CHECK(folded["add forward"].kernel_ms.count("activation_forward") == 0);
  CHECK(folded["sub forward"].kernel_ms.count("activation_forward") == 1);
  // Nothing is read below zero: the folded values are the activations'.
  for (float v : inference.value(residual).to_host()) CHECK(v >= 0.0f);
}

TEST_CASE("an implicit GEMM split over K applies the folded activation as it sums the slices",
          "[profile][executor]") {
  // One block of 8 filters over 576 rows: split on every device (test_conv's implicit cases).
  clnn::Graph g;
  Value x = g.input("x", {1, 64, 4, 4});
  Value w = g.parameter("w", {8, 64, 3, 3}, clnn::init::uniform(-0.5f, 0.5f, 1));
  Value b = g.parameter("b", {8}, clnn::init::uniform(-0.5f, 0.5f, 2));
  clnn::ConvOptions o;
  o.pads_begin = o.pads_end = {1, 1};
  Value product = clnn::conv(x, w, b, o);
  Value out = clnn::relu(product);
  clnn::test::RouteScope scope(clnn::detail::ConvRoute::implicit);
  InferenceAndTraining pair(g, {out}, clnn::test::random_vector(64 * 16, 3), {product});
  auto& [inference, training] = pair;
  auto folded = forward_rows(inference);
  forward_rows(training);
  CHECK(inference.value(out).to_host() == training.value(out).to_host());
  const auto& kernels = folded["conv forward"].kernel_ms;
  CHECK(kernels.count("gemm_sum_slices") == 1);
  CHECK(folded.count("relu forward") == 0);
  CHECK(kernels.count("activation_forward") == 0);
}

TEST_CASE("a training executor folds a relu into the batch_norm before it", "[profile][executor]") {
  // x -> batch_norm -> relu -> sum(* r): folded, unless batch_norm's output is asked for too.
  clnn::Graph g;
  Value x = g.parameter("x", {4, 3, 5, 4}, clnn::init::uniform(-1.0f, 1.0f, 1));
  Value r = g.input("r", x.shape());
  Value gamma = g.parameter("gamma", {3}, clnn::init::uniform(0.5f, 1.5f, 2));
  Value beta = g.parameter("beta", {3}, clnn::init::uniform(-0.5f, 0.5f, 3));
  Value mean = g.state("mean", {3}, clnn::init::zeros());
  Value var = g.state("var", {3}, clnn::init::constant(1.0f));
  Value normalized = clnn::batch_norm(x, gamma, beta, mean, var);
  Value loss = clnn::sum(clnn::mul(clnn::relu(normalized), r));
  clnn::Executor folded(clnn::test::context(), g, {loss}, clnn::Mode::training);
  clnn::Executor unfolded(clnn::test::context(), g, {loss, normalized}, clnn::Mode::training);
  const auto input = clnn::test::random_vector(std::size_t(clnn::element_count(r.shape())), 4);
  auto folded_step = profiled_step(folded, loss, "r", input, {x, gamma, beta});
  auto unfolded_step = profiled_step(unfolded, loss, "r", input, {x, gamma, beta});
  // The same mask (batch_norm's backward recomputes the value before the relu with forward's
  // expression), so the same loss and gradients bit for bit.
  CHECK(folded_step.results == unfolded_step.results);
  CHECK(folded_step.rows.count("relu forward") == 0);
  CHECK(folded_step.rows.count("relu backward") == 0);
  CHECK(unfolded_step.rows["relu forward"].entries == 1);
  CHECK(unfolded_step.rows["relu backward"].entries == 1);
}

TEST_CASE("an inference executor assembles a concat of convolutions in place",
          "[profile][executor]") {
  using clnn::detail::ConvRoute;
  // concat(relu(conv1x1(x)), conv3x3(2 x), relu(conv3x3 of 8 filters over 576 rows)): the
  // implicit GEMM, Winograd, the pointwise products and the padded route write their channels of
  // the concat themselves (the
  // implicit GEMM split over K at batch 1, where the slices' sum writes them), other routes copy
  // theirs. 2 x lives between the first producers
  // and the concat, in the buffer the concat's would share if it were taken at the concat. A
  // concat whose operand is read elsewhere too is left as it is.
  for (std::int64_t n : {1, 2})
    for (std::int64_t width : {4, 5}) {
      INFO("batch " << n << " width " << width);
      clnn::Graph g;
      Value x = g.input("x", {n, 64, 4, width});
      auto param = [&](const char* name, const Shape& s, std::uint64_t seed) {
        return g.parameter(name, s, clnn::init::uniform(-0.5f, 0.5f, seed));
      };
      clnn::ConvOptions same;
      same.pads_begin = same.pads_end = {1, 1};
      Value a = clnn::relu(clnn::conv(x, param("wa", {5, 64, 1, 1}, 1), param("ba", {5}, 2)));
      Value d = clnn::relu(clnn::conv(x, param("wd", {8, 64, 3, 3}, 4), param("bd", {8}, 5), same));
      Value b = clnn::conv(clnn::scale(x, 2.0f), param("wb", {6, 64, 3, 3}, 3), std::nullopt, same);
      Value out = clnn::relu(clnn::concat({a, b, d}, 1));
      Value kept = clnn::conv(x, param("wk", {3, 64, 1, 1}, 6));
      Value not_assembled = clnn::concat({kept, clnn::scale(kept, -1.0f)}, 1);
      const auto input = clnn::test::random_vector(std::size_t(clnn::element_count(x.shape())), 7);

      clnn::test::RouteScope scope(ConvRoute::automatic);
      // Products on clnn's kernels: a pass that calls a host BLAS is not recorded, so its
      // schedule would name no kernels to count.
      auto& impl = clnn::detail::Access::impl(clnn::test::context());
      const auto saved_gemm = impl.gemm_backend;
      impl.gemm_backend = clnn::detail::GemmBackend::own;
      for (ConvRoute route : {ConvRoute::automatic, ConvRoute::columns, ConvRoute::implicit,
                              ConvRoute::winograd, ConvRoute::pointwise, ConvRoute::padded}) {
        INFO("route " << int(route));
        scope.set(route);
        InferenceAndTraining pair(g, {out, not_assembled}, input);
        auto& [inference, training] = pair;
        auto assembled = forward_rows(inference);
        forward_rows(training);
        for (const Value& v : {out, not_assembled})
          CHECK(inference.value(v).to_host() == training.value(v).to_host());
        CHECK(assembled["concat forward"].entries == 1);  // only the one read elsewhere
        // Each producer's recorded launches: at batch 1 every implicit GEMM writes its channels
        // itself, split over K or not (at batch 2 the split ones, the 576-row products on a
        // CPU's small blocks, copy theirs); the column route copies its output each time.
        std::size_t placed = 0;
        for (const auto& pass : inference.schedule()) {
          if (pass.op == "concat" && pass.node == out.name())
            CHECK(pass.route == "assembled in place by its operands' producers");
          if (pass.route.find("written into 'concat") == std::string::npos) continue;
          ++placed;
          INFO(pass.node << ": " << pass.route);
          const auto copies = std::count(pass.kernels.begin(), pass.kernels.end(), "copy_block");
          if (route == ConvRoute::implicit && n == 1) CHECK(copies == 0);
          // The pointwise products, Winograd and the padded route write their samples' channels
          // at any batch.
          if (pass.route.find("pointwise") != std::string::npos) CHECK(copies == 0);
          if (pass.route.find("winograd") != std::string::npos) CHECK(copies == 0);
          if (route == ConvRoute::padded) CHECK(copies == 0);
          if (route == ConvRoute::columns) CHECK(copies == 1);
        }
        CHECK(placed == 3);
      }
      impl.gemm_backend = saved_gemm;
    }
}

TEST_CASE("an inference executor assembles a dense block's concats in one buffer",
          "[profile][executor]") {
  // A dense block: x0 = 2 x (a producer that takes no placement: the executor copies its value
  // into the block's channels), then three layers, each relu(batch_norm(.)) of the concat of
  // every feature before it (the first of x0 itself) into a 3x3 convolution of 4 filters; the
  // block's output is the concat of all four features. Every concat lies in the last one's
  // buffer and runs nothing; the batch norms read their channels where they lie (4x4 positions
  // read as float4s, 3x5 one at a time). Asking for the first layer's concat too (a reference
  // that runs every concat) must give the same values bit for bit.
  for (std::int64_t n : {1, 3})
    for (std::int64_t width : {4, 5}) {
      INFO("batch " << n << " width " << width);
      const std::int64_t height = width == 4 ? 4 : 3;
      clnn::Graph g;
      Value x = g.input("x", {n, 6, height, width});
      std::uint64_t seed = 1;
      auto uniform = [&](const char* name, const Shape& s, float lo, float hi) {
        const std::uint64_t at = seed++;
        return g.parameter(name + std::to_string(at), s, clnn::init::uniform(lo, hi, at));
      };
      auto normalized = [&](const Value& v) {
        const Shape c{v.shape()[1]};
        Value mean =
            g.state("mean" + std::to_string(seed), c, clnn::init::uniform(-0.5f, 0.5f, seed));
        ++seed;
        Value var = g.state("var" + std::to_string(seed), c, clnn::init::uniform(0.5f, 2.0f, seed));
        ++seed;
        return clnn::relu(clnn::batch_norm(v, uniform("gamma", c, 0.5f, 1.5f),
                                           uniform("beta", c, -0.5f, 0.5f), mean, var));
      };
      clnn::ConvOptions same;
      same.pads_begin = same.pads_end = {1, 1};
      std::vector<Value> features{clnn::scale(x, 2.0f)};
      std::vector<Value> runs;
      for (int layer = 0; layer < 3; ++layer) {
        Value run = layer == 0 ? features[0] : clnn::concat(features, 1);
        if (layer > 0) runs.push_back(run);
        const std::int64_t channels = run.shape()[1];
        features.push_back(clnn::conv(normalized(run),
                                      uniform("w", {4, channels, 3, 3}, -0.5f, 0.5f),
                                      uniform("b", {4}, -0.5f, 0.5f), same));
      }
      Value block = clnn::concat(features, 1);
      Value out = normalized(block);
      // A batch norm of channels 2 to 6 reads them through the slice, which runs nothing (unless
      // it is an output, as in the reference).
      Value channels = clnn::slice(block, {1}, {2}, {7});
      Value tail = normalized(channels);
      // A concat whose producers all take no placement runs (it copies two operands a launch,
      // where the executor would copy one).
      Value copied = clnn::concat({clnn::scale(x, 3.0f), clnn::scale(x, -1.0f)}, 1);
      const auto input = clnn::test::random_vector(std::size_t(clnn::element_count(x.shape())), 99);

      clnn::Executor assembled(clnn::test::context(), g, {out, block, tail, copied},
                               clnn::Mode::inference);
      clnn::Executor reference(clnn::test::context(), g,
                               {out, block, tail, copied, runs[0], channels},
                               clnn::Mode::inference);
      for (clnn::Executor* ex : {&assembled, &reference}) ex->set_input("x", input);
      auto rows = forward_rows(assembled);
      auto reference_rows = forward_rows(reference);
      for (const Value& v : {out, block, tail, copied})
        CHECK(assembled.value(v).to_host() == reference.value(v).to_host());
      CHECK(rows["concat forward"].entries == 1);  // `copied`
      CHECK(reference_rows["concat forward"].entries == 4);
      std::size_t lying_in = 0, written_into = 0, copied_into = 0;
      for (const auto& pass : assembled.schedule()) {
        INFO(pass.node << ": " << pass.route);
        if (pass.node == block.name())
          CHECK(pass.route == "assembled in place by its operands' producers");
        if (pass.route == "lies in '" + block.name() + "', assembled in place") ++lying_in;
        if (pass.route.find("written into '" + block.name() + "'") != std::string::npos)
          ++written_into;
        if (pass.route.find("copied into '" + block.name() + "'") != std::string::npos)
          ++copied_into;
        if (pass.node == features[0].name())
          CHECK(pass.route.find("from channel 0") != std::string::npos);
        if (pass.node == copied.name()) CHECK(pass.route.find("assembled") == std::string::npos);
        if (pass.node == channels.name()) CHECK(pass.route.find("a view '") == 0);
      }
      CHECK(lying_in == 2);
      CHECK(written_into == 3);  // the convolutions
      CHECK(copied_into == 1);   // x0
    }
}

TEST_CASE("an inference executor leaves a concat that an add is folded into as it lies",
          "[profile][executor]") {
  // y = conv(x) + concat(u1, u2), the add folded into that convolution, and a batch norm of u1
  // that runs after it: were the concat assembled, the batch norm would read u1's channels
  // after the sum had landed there. (Asking for u2 too gives a reference that assembles nothing.)
  for (std::int64_t n : {1, 2}) {
    INFO("batch " << n);
    clnn::Graph g;
    Value x = g.input("x", {n, 2, 4, 4});
    std::uint64_t seed = 1;
    auto param = [&](const Shape& s) {
      const std::uint64_t at = seed++;
      return g.parameter("p" + std::to_string(at), s, clnn::init::uniform(-0.5f, 0.5f, at));
    };
    Value u1 = clnn::conv(x, param({4, 2, 1, 1}), param({4}));
    Value u2 = clnn::conv(x, param({4, 2, 1, 1}), param({4}));
    Value y = clnn::add(clnn::conv(x, param({8, 2, 1, 1}), param({8})), clnn::concat({u1, u2}, 1));
    const Shape c{4};
    Value z = clnn::batch_norm(u1, param(c), param(c), g.state("mean", c, clnn::init::zeros()),
                               g.state("var", c, clnn::init::constant(1.0f)));
    const auto input = clnn::test::random_vector(std::size_t(clnn::element_count(x.shape())), 5);
    clnn::Executor folded(clnn::test::context(), g, {y, z}, clnn::Mode::inference);
    clnn::Executor reference(clnn::test::context(), g, {y, z, u2}, clnn::Mode::inference);
    for (clnn::Executor* ex : {&folded, &reference}) {
      ex->set_input("x", input);
      ex->forward();
    }
    CHECK(folded.value(y).to_host() == reference.value(y).to_host());
    CHECK(folded.value(z).to_host() == reference.value(z).to_host());
  }
}

TEST_CASE("an inference executor folds an add into the convolution that produces an operand",
          "[profile][executor]") {
  using clnn::detail::ConvRoute;
  // Two residual blocks, t = x / 2 the first one's input: block = relu(conv1x1(relu(conv3x3(t)))
  // + t), the relu after the add; then out = block + conv1x1(relu(conv3x3(block))), the skip
  // operand first. Each add's last convolution adds its result to the block's input in place
  // and the add runs nothing, on every route. Four adds stay: one whose other operand is read
  // after it, one whose convolution is an output too, one whose convolution has a relu of its
  // own (folded into it), and one whose convolution reads the other operand itself.
  for (std::int64_t n : {1, 2}) {
    INFO("batch " << n);
    clnn::Graph g;
    Value x = g.input("x", {n, 16, 5, 7});
    auto param = [&](const char* name, const Shape& s, std::uint64_t seed) {
      return g.parameter(name, s, clnn::init::uniform(-0.25f, 0.25f, seed));
    };
    auto pointwise = [&](const Value& in, const char* name, std::uint64_t seed) {
      return clnn::conv(in, param(name, {16, 16, 1, 1}, seed));
    };
    clnn::ConvOptions same;
    same.pads_begin = same.pads_end = {1, 1};
    auto wide = [&](const Value& in, const char* name, std::uint64_t seed) {
      return clnn::relu(clnn::conv(in, param(name, {16, 16, 3, 3}, seed), std::nullopt, same));
    };
    Value t = clnn::scale(x, 0.5f);
    Value h = clnn::relu(clnn::conv(t, param("w1", {16, 16, 3, 3}, 1), param("b1", {16}, 2), same));
    Value block = clnn::relu(
        clnn::add(clnn::conv(h, param("w2", {16, 16, 1, 1}, 3), param("b2", {16}, 4)), t));
    Value out = clnn::add(block, pointwise(wide(block, "w3", 5), "w4", 6));
    Value u = clnn::scale(x, -1.0f);
    Value read_after = clnn::mul(clnn::add(pointwise(u, "w5", 7), u), u);
    Value v = clnn::scale(x, 2.0f);
    Value kept = pointwise(v, "w6", 8);
    Value kept_sum = clnn::add(kept, v);
    Value w = clnn::scale(x, 3.0f);
    Value activated = clnn::add(clnn::relu(pointwise(w, "w7", 9)), w);
    Value r = clnn::scale(x, 4.0f);
    Value reads_other = clnn::add(r, pointwise(r, "w8", 10));
    const std::vector<Value> outputs{out, read_after, kept, kept_sum, activated, reads_other};
    const auto input = clnn::test::random_vector(std::size_t(clnn::element_count(x.shape())), 9);
    clnn::test::RouteScope scope(ConvRoute::automatic);
    for (ConvRoute route : {ConvRoute::automatic, ConvRoute::columns, ConvRoute::implicit,
                            ConvRoute::winograd, ConvRoute::pointwise, ConvRoute::padded}) {
      INFO("route " << int(route));
      scope.set(route);
      InferenceAndTraining pair(g, outputs, input);
      auto& [inference, training] = pair;
      auto rows = forward_rows(inference);
      forward_rows(training);
      // The sum's terms are added in another order (the bias after the other operand): not bit
      // for bit.
      for (const Value& o : outputs)
        CHECK(clnn::test::relative_error(inference.value(o).to_host(),
                                         training.value(o).to_host()) < 1e-6);
      CHECK(rows["add forward"].entries == 4);
      std::size_t folded = 0, added_in = 0;
      for (const auto& pass : inference.schedule()) {
        if (pass.op == "add" && pass.route.rfind("folded into 'conv", 0) == 0) ++folded;
        if (pass.route.find("' added in") != std::string::npos) ++added_in;
        // The relu after the first block's add runs in the convolution the add went into.
        if (pass.op == "relu") CHECK(pass.route.rfind("folded into 'add", 0) == std::string::npos);
      }
      CHECK(folded == 2);
      CHECK(added_in == 2);
    }
  }
}

TEST_CASE("an inference executor folds a residual add into the product behind a reshape",
          "[profile][executor]") {
  // A transformer's residual: tokens [2, 3, 8] as rows [6, 8], a Linear layer (matmul with a
  // bias), back to tokens, plus t = 2x. The product adds its result to t in place and the add
  // runs nothing, on every GEMM backend (the bias in the product's kernel or a pass of its own).
  // u + Linear(u) stays an add: the product reads the other operand itself.
  clnn::Graph g;
  Value x = g.input("x", {2, 3, 8});
  Value w = g.parameter("w", {8, 8}, clnn::init::uniform(-0.5f, 0.5f, 1));
  Value b = g.parameter("b", {8}, clnn::init::uniform(-0.5f, 0.5f, 2));
  auto linear = [&](const Value& in) {
    return clnn::reshape(clnn::matmul(clnn::reshape(in, {6, 8}), w, b), {2, 3, 8});
  };
  Value t = clnn::scale(x, 2.0f), u = clnn::scale(x, 3.0f);
  Value residual = clnn::add(linear(x), t);
  Value own_input = clnn::add(u, linear(u));
  const std::vector<Value> outputs{residual, own_input};
  const auto input = clnn::test::random_vector(2 * 3 * 8, 3);
  auto& impl = clnn::detail::Access::impl(clnn::test::context());
  const auto saved = impl.gemm_backend;
  for (auto backend : {clnn::detail::GemmBackend::automatic, clnn::detail::GemmBackend::own,
                       clnn::detail::GemmBackend::clblast, clnn::detail::GemmBackend::blas}) {
    INFO("backend " << clnn::detail::to_string(backend));
    impl.gemm_backend = backend;
    InferenceAndTraining pair(g, outputs, input);
    auto& [inference, training] = pair;
    forward_rows(inference);
    forward_rows(training);
    for (const Value& o : outputs)
      CHECK(clnn::test::relative_error(inference.value(o).to_host(), training.value(o).to_host()) <
            1e-6);
    std::size_t folded = 0, added_in = 0;
    for (const auto& pass : inference.schedule()) {
      if (pass.op == "add" && pass.route.rfind("folded into 'matmul", 0) == 0) ++folded;
      if (pass.op == "matmul" && pass.route.find("' added in") != std::string::npos) ++added_in;
    }
    CHECK(folded == 1);
    CHECK(added_in == 1);
  }
  impl.gemm_backend = saved;
}

TEST_CASE("an inference executor reads attention's heads where a packed projection left them",
          "[profile][executor]") {
  // Self-attention as PyTorch exports it: tokens [B 2, S 5, E 8] moved sequence-first, one product
  // for q, k and v, the packed result [S, B, 3E] moved to [3, S, B, E] and sliced, each slice
  // split into heads [S, B*H, D] and moved to [B, H, S, D] (H 2, D 4); attention's output moved
  // back to [S, B, H, D] for the out-projection, whose rows move back batch-first for the
  // residual add. Inference runs the projection on the tokens as they lie, reads q, k and v in
  // its output and writes attention's output in the order the out-projection's rows end in: the
  // permutes and slices run nothing, and the add folds into the out-projection. Training, which
  // folds no views, is the reference, bit for bit.
  clnn::Graph g;
  const std::int64_t B = 2, S = 5, E = 8, H = 2, D = 4;
  Value x = g.input("x", {B, S, E});
  Value w = g.parameter("w", {E, 3 * E}, clnn::init::uniform(-0.5f, 0.5f, 1));
  Value b = g.parameter("b", {3 * E}, clnn::init::uniform(-0.5f, 0.5f, 2));
  Value wo = g.parameter("wo", {E, E}, clnn::init::uniform(-0.5f, 0.5f, 3));
  Value h = clnn::scale(x, 0.5f);  // the layer's input, an op's value (an add may write into it)
  Value rows = clnn::reshape(clnn::transpose(h, {1, 0, 2}), {S * B, E});
  Value packed = clnn::reshape(clnn::matmul(rows, w, b), {1, S, B, 3, E});
  Value qkv = clnn::reshape(clnn::transpose(packed, {3, 1, 2, 0, 4}), {3, S, B, E});
  std::vector<Value> heads;
  for (std::int64_t i = 0; i < 3; ++i) {
    Value part = clnn::reshape(clnn::slice(qkv, {0}, {i}, {i + 1}), {S, B * H, D});
    heads.push_back(clnn::reshape(clnn::transpose(part, {1, 0, 2}), {B, H, S, D}));
  }
  Value attended = clnn::scaled_dot_product_attention(heads[0], heads[1], heads[2]);
  Value joined = clnn::reshape(clnn::transpose(attended, {2, 0, 1, 3}), {S * B, E});
  Value projected = clnn::reshape(clnn::matmul(joined, wo), {S, B, E});
  Value out = clnn::add(clnn::transpose(projected, {1, 0, 2}), h);
  const auto input = clnn::test::random_vector(B * S * E, 5, -1.0f, 1.0f);
  auto views_folded = [](clnn::Executor& ex) {
    std::size_t n = 0;
    for (const auto& pass : ex.schedule())
      n += pass.route.find("' reads or writes through") != std::string::npos;
    return n;
  };
  SECTION("every view between the product, attention and the out-projection") {
    InferenceAndTraining pair(g, {out}, input);
    auto& [inference, training] = pair;
    auto folded = forward_rows(inference);
    forward_rows(training);
    CHECK(inference.value(out).to_host() == training.value(out).to_host());
    // Elided: h's move to sequence-first (the projection runs on h's rows as they lie, and its
    // output's rows lie batch-first), the packed move, three slices, three heads' moves, the
    // output's and the out-projection's.
    CHECK(views_folded(inference) == 10);
    CHECK(views_folded(training) == 0);
    CHECK(folded.count("transpose forward") == 0);
    CHECK(folded.count("slice forward") == 0);
    CHECK(folded.count("add forward") == 0);
  }
  SECTION("a view another node reads runs, and the views it starts from with it") {
    // k's heads are an output too: its move runs, so the packed move its slice reads runs too,
    // and q and v are read from the moved copy; the projection's rows stay as h's move leaves
    // them (a reader of its output reads it whole).
    InferenceAndTraining pair(g, {out, heads[1]}, input);
    auto& [inference, training] = pair;
    auto folded = forward_rows(inference);
    forward_rows(training);
    CHECK(inference.value(out).to_host() == training.value(out).to_host());
    CHECK(inference.value(heads[1]).to_host() == training.value(heads[1]).to_host());
    CHECK(views_folded(inference) == 6);  // q's and v's slices and moves, the outputs' moves
    CHECK(folded["transpose forward"].entries == 3);
    CHECK(folded["slice forward"].entries == 1);
  }
}

TEST_CASE("an inference executor moves the rows of one product of two in a row", "[executor]") {
  // Tokens moved sequence-first, a product, moved back batch-first, a second product whose
  // output attention reads as heads. The second runs on its operand's rows as they lie; the
  // first keeps its rows (its reader is the second's operand, which no op reads through).
  clnn::Graph g;
  const std::int64_t B = 2, S = 3, E = 4, H = 2, D = 2;
  Value x = g.input("x", {B, S, E});
  Value w1 = g.parameter("w1", {E, E}, clnn::init::uniform(-0.5f, 0.5f, 1));
  Value w2 = g.parameter("w2", {E, 3 * E}, clnn::init::uniform(-0.5f, 0.5f, 2));
  Value h = clnn::scale(x, 0.5f);
  Value first = clnn::matmul(clnn::reshape(clnn::transpose(h, {1, 0, 2}), {S * B, E}), w1);
  Value back = clnn::transpose(clnn::reshape(first, {S, B, E}), {1, 0, 2});
  Value second = clnn::matmul(clnn::reshape(back, {B * S, E}), w2);
  Value qkv = clnn::transpose(clnn::reshape(second, {B, S, 3, H, D}), {2, 0, 3, 1, 4});
  std::vector<Value> heads;
  for (std::int64_t i = 0; i < 3; ++i)
    heads.push_back(clnn::reshape(clnn::slice(qkv, {0}, {i}, {i + 1}), {B, H, S, D}));
  Value out = clnn::scaled_dot_product_attention(heads[0], heads[1], heads[2]);
  InferenceAndTraining pair(g, {out}, clnn::test::random_vector(B * S * E, 6, -1.0f, 1.0f));
  auto& [inference, training] = pair;
  auto folded = forward_rows(inference);
  forward_rows(training);
  CHECK(inference.value(out).to_host() == training.value(out).to_host());
  CHECK(folded["transpose forward"].entries == 1);  // the first product's, as it lies
}

TEST_CASE("an inference executor folds relu and GELU into the product before them",
          "[profile][executor]") {
  // relu(x w + b) and GELU(x v) on rows [6, 8]; GELU(Linear(x)) on tokens [2, 3, 8] as ONNX
  // spells it (the product between reshapes: it folds through them); GELU(Linear(x) + t), whose
  // GELU folds into the add and moves with it into the product; a GELU whose product is an
  // output too stays a kernel of its own. On every GEMM backend: clnn's kernels apply it as they
  // store, the others in a pass after the product (with the bias, where there is one). Training,
  // which folds no GELU and here no relu (their operands are asked for), is the reference.
  clnn::Graph g;
  Value x = g.input("x", {2, 3, 8});
  Value w = g.parameter("w", {8, 8}, clnn::init::uniform(-0.5f, 0.5f, 1));
  Value v = g.parameter("v", {8, 12}, clnn::init::uniform(-0.5f, 0.5f, 2));
  Value b = g.parameter("b", {8}, clnn::init::uniform(-0.5f, 0.5f, 3));
  Value rows = clnn::reshape(x, {6, 8});
  Value biased = clnn::matmul(rows, w, b), plain = clnn::matmul(rows, v);
  Value relu_out = clnn::relu(biased), gelu_out = clnn::gelu(plain);
  Value sum = clnn::add(clnn::reshape(clnn::matmul(rows, w, b), {2, 3, 8}), clnn::scale(x, 2.0f));
  Value residual = clnn::gelu(sum);
  Value tokens = clnn::reshape(clnn::matmul(rows, w, b), {2, 3, 8});
  Value token_gelu = clnn::gelu(tokens);
  Value kept = clnn::matmul(rows, v);
  Value kept_gelu = clnn::gelu(kept);
  const std::vector<Value> outputs{relu_out, gelu_out, residual, token_gelu, kept, kept_gelu};
  const auto input = clnn::test::random_vector(2 * 3 * 8, 4, -2.0f, 2.0f);
  auto& impl = clnn::detail::Access::impl(clnn::test::context());
  const auto saved = impl.gemm_backend;
  for (auto backend : {clnn::detail::GemmBackend::automatic, clnn::detail::GemmBackend::own,
                       clnn::detail::GemmBackend::clblast, clnn::detail::GemmBackend::blas}) {
    INFO("backend " << clnn::detail::to_string(backend));
    impl.gemm_backend = backend;
    InferenceAndTraining pair(g, outputs, input, {biased, plain, sum, tokens});
    auto& [inference, training] = pair;
    auto folded = forward_rows(inference);
    auto unfolded = forward_rows(training);
    // GELU's erf may be compiled differently inside the product's kernel: not bit for bit.
    for (const Value& o : outputs)
      CHECK(clnn::test::relative_error(inference.value(o).to_host(), training.value(o).to_host()) <
            1e-6);
    CHECK(unfolded["gelu forward"].entries == 4);
    CHECK(unfolded["relu forward"].entries == 1);
    CHECK(folded["gelu forward"].entries == 1);  // the kept product's
    CHECK(folded.count("relu forward") == 0);
    CHECK(folded.count("add forward") == 0);
    // gemm_cpu applies the bias and the activation as it stores; on GPUs gemm_vec4 the bias, the
    // activation a pass after it (cheaper there); the other backends a pass after for both.
    const bool cpu = clnn::test::context().device().type == clnn::DeviceType::cpu;
    const auto& kernels = folded["matmul forward"].kernel_ms;
    if (backend == clnn::detail::GemmBackend::own && cpu) {
      CHECK(kernels.count("activation_forward") == 0);
      CHECK(kernels.count("binary_forward") == 0);
    }
    // The schedule says where: the four products with an activation, three with a bias too;
    // the folded GELUs name their product (the token one behind its reshape, the residual's
    // through its add), not the reshape or the add.
    std::size_t stores = 0, after = 0, with_bias = 0, into_product = 0;
    for (const auto& pass : inference.schedule()) {
      if (pass.op == "gelu" && pass.route.rfind("folded into 'matmul", 0) == 0) ++into_product;
      if (pass.op != "matmul") continue;
      stores += pass.route.find("activation in its stores") != std::string::npos;
      after += pass.route.find("activation in a pass after") != std::string::npos;
      with_bias += pass.route.find("bias") != std::string::npos;
    }
    CHECK(stores + after == 4);
    CHECK(with_bias == 3);
    CHECK(into_product == 3);
    if (backend == clnn::detail::GemmBackend::own) CHECK((cpu ? stores : after) == 4);
    if (backend == clnn::detail::GemmBackend::clblast) CHECK(after == 4);
  }
  impl.gemm_backend = saved;
}

TEST_CASE("a training executor folds a relu into the product before it, never a GELU",
          "[profile][executor]") {
  // loss = sum(GELU(relu(x w + b) v) * r): the relu folds into the first product, whose backward
  // masks the gradient by its output; GELU stays a node (its derivative needs its operand). The
  // same loss and gradients, bit for bit, as with the relu's operand asked for (unfolded).
  clnn::Graph g;
  Value x = g.parameter("x", {6, 8}, clnn::init::uniform(-1.0f, 1.0f, 1));
  Value w = g.parameter("w", {8, 8}, clnn::init::uniform(-0.5f, 0.5f, 2));
  Value b = g.parameter("b", {8}, clnn::init::uniform(-0.5f, 0.5f, 3));
  Value v = g.parameter("v", {8, 4}, clnn::init::uniform(-0.5f, 0.5f, 4));
  Value r = g.input("r", {6, 4});
  Value product = clnn::matmul(x, w, b);
  Value loss = clnn::sum(clnn::mul(clnn::gelu(clnn::matmul(clnn::relu(product), v)), r));
  clnn::Executor folded(clnn::test::context(), g, {loss}, clnn::Mode::training);
  clnn::Executor unfolded(clnn::test::context(), g, {loss, product}, clnn::Mode::training);
  const auto input = clnn::test::random_vector(6 * 4, 5);
  auto folded_step = profiled_step(folded, loss, "r", input, {x, w, b, v});
  auto unfolded_step = profiled_step(unfolded, loss, "r", input, {x, w, b, v});
  CHECK(folded_step.results == unfolded_step.results);
  CHECK(folded_step.rows.count("relu forward") == 0);
  CHECK(folded_step.rows.count("relu backward") == 0);
  CHECK(unfolded_step.rows["relu forward"].entries == 1);
  CHECK(folded_step.rows["gelu forward"].entries == 1);
  CHECK(folded_step.rows["gelu backward"].entries == 1);
}

TEST_CASE("an inference executor prepares its filters once and again after they are written",
          "[profile][executor]") {
  using clnn::detail::ConvRoute;
  // 3x3 filters over 8 channels: the implicit GEMM reads them tap-major, Winograd transformed.
  clnn::Graph g;
  Value x = g.input("x", {2, 8, 6, 7});
  Value w = g.parameter("w", {8, 8, 3, 3}, clnn::init::uniform(-0.5f, 0.5f, 1));
  clnn::ConvOptions same;
  same.pads_begin = same.pads_end = {1, 1};
  Value out = clnn::conv(x, w, std::nullopt, same);
  const auto input = clnn::test::random_vector(2 * 8 * 6 * 7, 2);
  clnn::test::RouteScope scope(ConvRoute::automatic);
  for (auto [route, preparing] : {std::pair{ConvRoute::implicit, "tap_major_filters"},
                                  std::pair{ConvRoute::winograd, "winograd_filters"}}) {
    INFO("route " << int(route));
    scope.set(route);
    InferenceAndTraining pair(g, {out}, input);
    auto& [inference, training] = pair;
    // A handle kept from before the first forward, written through later (mark_written).
    const cl_mem inference_w = clnn::native_buffer(inference.parameter("w"));
    const cl_mem training_w = clnn::native_buffer(training.parameter("w"));
    // Each way of writing a parameter, then a forward that must see it.
    std::vector<std::function<void(clnn::Executor&)>> writes{
        [](clnn::Executor&) {},  // none: the first forward prepares, the second does not
        [](clnn::Executor&) {},
        [&](clnn::Executor& ex) { ex.set_parameter("w", clnn::test::random_vector(576, 3)); },
        [&](clnn::Executor& ex) {
          clnn::Tensor t = ex.parameter("w");
          t.write(clnn::test::random_vector(576, 4));
        },
        [&](clnn::Executor& ex) {
          clnn::Tensor t = ex.parameter("w");
          const auto values = clnn::test::random_vector(576, 7);
          t.write_async(values.data(), values.size()).wait();
        },
        [&](clnn::Executor& ex) {  // asking for the native buffer counts as a write
          clnn::Tensor t = ex.parameter("w");
          const auto values = clnn::test::random_vector(576, 8);
          cl_mem m = clnn::native_buffer(t);
          REQUIRE(clEnqueueWriteBuffer(clnn::native_queue(clnn::test::context()), m, CL_TRUE, 0,
                                       values.size() * sizeof(float), values.data(), 0, nullptr,
                                       nullptr) == CL_SUCCESS);
        },
        [&](clnn::Executor& ex) {
          const auto values = clnn::test::random_vector(576, 9);
          REQUIRE(clEnqueueWriteBuffer(clnn::native_queue(clnn::test::context()),
                                       &ex == &pair.inference ? inference_w : training_w, CL_TRUE,
                                       0, values.size() * sizeof(float), values.data(), 0, nullptr,
                                       nullptr) == CL_SUCCESS);
          clnn::mark_written(ex.parameter("w"));
        },
        [&](clnn::Executor& ex) {
          clnn::Tensor t = ex.parameter("w");
          clnn::fill(t, 0.25f);
        },
        [&](clnn::Executor& ex) {
          clnn::Tensor t = ex.parameter("w");
          clnn::copy(clnn::Tensor::from_host(clnn::test::context(), {8, 8, 3, 3},
                                             clnn::test::random_vector(576, 5)),
                     t);
        },
        [&](clnn::Executor& ex) {
          clnn::Tensor t = ex.parameter("w");
          clnn::axpy(-0.5f,
                     clnn::Tensor::from_host(clnn::test::context(), {8, 8, 3, 3},
                                             clnn::test::random_vector(576, 6)),
                     t);
        }};
    for (std::size_t i = 0; i < writes.size(); ++i) {
      INFO("write " << i);
      writes[i](inference);
      writes[i](training);
      auto rows = forward_rows(inference);
      training.forward();
      CHECK(inference.value(out).to_host() == training.value(out).to_host());
      CHECK(rows["conv forward"].kernel_ms.count(preparing) == (i == 1 ? 0u : 1u));
    }
  }
  // A route changed under an executor: it prepares for the new one, once, growing what it
  // holds where the new route's filters take more (Winograd's U, 4x the stored filters).
  for (auto [from, to, preparing] :
       {std::tuple{ConvRoute::implicit, ConvRoute::winograd, "winograd_filters"},
        std::tuple{ConvRoute::winograd, ConvRoute::implicit, "tap_major_filters"}}) {
    INFO("from route " << int(from));
    scope.set(from);
    clnn::Executor inference(clnn::test::context(), g, {out}, clnn::Mode::inference);
    inference.set_input("x", input);
    inference.forward();
    scope.set(to);
    CHECK(forward_rows(inference)["conv forward"].kernel_ms.count(preparing) == 1);
    CHECK(forward_rows(inference)["conv forward"].kernel_ms.count(preparing) == 0);
    clnn::Executor training(clnn::test::context(), g, {out}, clnn::Mode::training);
    training.set_input("x", input);
    training.forward();
    CHECK(inference.value(out).to_host() == training.value(out).to_host());
  }
}

TEST_CASE("a 3-D Winograd convolution prepares its filters once: transformed, then rearranged",
          "[profile][executor]") {
  // The planes' filters transformed, then put tap-major for the depth taps' product.
  using clnn::detail::ConvRoute;
  clnn::test::RouteScope scope(ConvRoute::winograd);
  clnn::Graph g;
  Value x = g.input("x", {2, 8, 4, 6, 7});
  Value w = g.parameter("w", {8, 8, 3, 3, 3}, clnn::init::uniform(-0.5f, 0.5f, 1));
  clnn::ConvOptions same;
  same.pads_begin = same.pads_end = {1, 1, 1};
  Value out = clnn::conv(x, w, std::nullopt, same);
  InferenceAndTraining pair(g, {out}, clnn::test::random_vector(2 * 8 * 4 * 6 * 7, 2));
  for (std::size_t i = 0; i < 2; ++i) {
    auto rows = forward_rows(pair.inference);
    pair.training.forward();
    CHECK(pair.inference.value(out).to_host() == pair.training.value(out).to_host());
    CHECK(rows["conv forward"].kernel_ms.count("winograd_filters") == (i == 0 ? 1u : 0u));
    CHECK(rows["conv forward"].kernel_ms.count("tap_major_filters") == (i == 0 ? 1u : 0u));
  }
}
