// Tuning: the cache file, nearest-shape reuse, and tuned matmul configurations that are used and
// still give the right result.
#include <catch2/catch.hpp>

#include <unistd.h>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "clnn/clnn.hpp"
#include "context_impl.hpp"
#include "ops/conv_implicit.hpp"
#include "ops/gemm.hpp"
#include "reference/ops.hpp"
#include "tune/measure.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
using namespace clnn;

namespace {

// CLNN_CACHE_DIR in a fresh folder for one test.
struct TempCacheDir {
  test::TempDir temp{"tune"};
  fs::path dir = temp.dir;
  test::ScopedEnv env{"CLNN_CACHE_DIR", temp.dir.c_str()};
};

// The winner is the plan, or the fastest accepted candidate where it beat the plan by the
// tuners' margin; no accepted candidate ran faster than what won.
void check_winner(const TuneResult& r) {
  const bool plan_won = r.best_ms == r.planned_ms;
  const bool candidate_won =
      r.best_ms < detail::kHostTimingMargin * r.planned_ms &&
      std::any_of(r.timings.begin(), r.timings.end(),
                  [&](const auto& t) { return t.first == r.best && t.second == r.best_ms; });
  CHECK((plan_won || candidate_won));
  for (const auto& [name, ms] : r.timings) {
    INFO(name << " " << ms << " ms, won " << r.best << " " << r.best_ms << " ms");
    CHECK(ms >= std::min(r.best_ms, detail::kHostTimingMargin * r.planned_ms));
  }
}

DeviceInfo device_named(const std::string& name) {
  DeviceInfo d;
  d.name = name;
  d.driver_version = "1.0";
  return d;
}

}  // namespace

TEST_CASE("the tuning cache keeps entries per device and finds the nearest shape", "[tune]") {
  TempCacheDir temp;
  const fs::path file = temp.dir / "tuning-v2.json";
  {
    detail::TuningCache a(device_named("A"), file), b(device_named("B"), file);
    a.store("gemm", {64, 64, 64, 0, 0}, {{"tile_m", 16}}, 1.0);
    a.store("gemm", {1024, 1024, 1024, 0, 0}, {{"tile_m", 64}}, 2.0);
    b.store("gemm", {64, 64, 64, 0, 0}, {{"tile_m", 8}}, 1.0);  // keeps A's entries in the file
  }
  detail::TuningCache a(device_named("A"), file);
  CHECK(a.size() == 2);
  CHECK(a.nearest("gemm", {100, 80, 60, 0, 0})->at("tile_m") == 16);
  CHECK(a.nearest("gemm", {900, 1200, 700, 0, 0})->at("tile_m") == 64);
  CHECK_FALSE(a.nearest("gemm", {2048, 2048, 2048, 0, 0}));  // too far from both: the plan runs
  CHECK_FALSE(a.nearest("conv", {64, 64, 64, 0, 0}));
  CHECK_FALSE(a.nearest("gemm", {64, 64}));
  CHECK(detail::TuningCache(device_named("B"), file)
            .nearest("gemm", {64, 64, 64, 0, 0})
            ->at("tile_m") == 8);

  std::ofstream(file) << "{ not json";
  CHECK(detail::TuningCache(device_named("A"), file).size() == 0);  // a corrupt file is ignored
}

TEST_CASE("a tuned matmul configuration is stored, used and correct", "[tune][matmul][slow]") {
  TempCacheDir temp;
  const std::int64_t m = 48, n = 40, k = 56;
  {
    Context ctx = Context::create();
    TuneResult r = tune_matmul(ctx, m, n, k, false, true, TuneEffort::fast);
    CHECK(r.kernel == "gemm");
    CHECK(r.candidates > 1);
    CHECK(r.planned_ms > 0);
    check_winner(r);
    CHECK_FALSE(r.best.empty());
    CHECK(r.own_wall_ms > 0);
    CHECK(r.clblast_wall_ms > 0);
    // The fastest of the backends timed: the host BLAS too on a CPU device, only there.
    const bool cpu = detail::Access::impl(ctx).info.type == DeviceType::cpu;
    CHECK((r.blas_wall_ms > 0) == cpu);
    std::string fastest = r.clblast_wall_ms < r.own_wall_ms ? "clblast" : "own";
    if (cpu && r.blas_wall_ms < std::min(r.own_wall_ms, r.clblast_wall_ms)) fastest = "blas";
    CHECK(r.backend == fastest);
  }
  REQUIRE(fs::exists(temp.dir / "tuning-v2.json"));

  Context ctx = Context::create();  // a later run: the stored winner is used at once
  auto& impl = detail::Access::impl(ctx);
  detail::GemmCall call;
  call.m = std::size_t(m), call.n = std::size_t(n), call.k = std::size_t(k), call.trans_b = true;
  REQUIRE(impl.tuning);  // null under CLNN_TUNE=off, which these tests cannot run with
  auto stored = impl.tuning->nearest("gemm", detail::gemm_tuning_shape(call));
  REQUIRE(stored);
  const MatmulPlan used = detail::gemm_plan(impl, call);
  // The backend that won at this shape is the one matmul now picks.
  CHECK(detail::to_string(detail::choose_gemm_backend(impl, call)) ==
        stored->at("backend").get<std::string>());
  CHECK(used.tile_m == stored->at("tile_m").get<std::size_t>());
  CHECK(used.work_n == stored->at("work_n").get<std::size_t>());
  CHECK(to_string(used.kernel) == stored->at("kernel").get<std::string>());
  CHECK(used.columns_first == stored->at("columns_first").get<bool>());  // gemm_cpu's order

  auto a = clnn::test::random_vector(std::size_t(m * k), 1),
       b = clnn::test::random_vector(std::size_t(n * k), 2);
  Tensor ta = Tensor::from_host(ctx, {m * k}, a), tb = Tensor::from_host(ctx, {n * k}, b);
  Tensor tc = Tensor::empty(ctx, {m * n});
  call.a = detail::Access::mem(ta), call.lda = std::size_t(k);
  call.b = detail::Access::mem(tb), call.ldb = std::size_t(k);
  call.c = detail::Access::mem(tc), call.ldc = std::size_t(n);
  detail::gemm(impl, call, detail::GemmBackend::own);
  auto want =
      reference::matmul({a.begin(), a.end()}, {m, k}, {b.begin(), b.end()}, {n, k}, false, true);
  CHECK(clnn::test::relative_error(tc.to_host(), want) < 1e-5);

  setenv("CLNN_TUNE", "off", 1);
  Context off = Context::create();
  unsetenv("CLNN_TUNE");
  CHECK(detail::Access::impl(off).tuning == nullptr);
  // Without the cache the planner's plan for this shape runs.
  auto& off_impl = detail::Access::impl(off);
  CHECK(detail::gemm_plan(off_impl, call).describe() ==
        detail::gemm_planner_plan(off_impl, call).describe());
  CHECK_THROWS_AS(tune_matmul(ctx, 0, 4, 4), ShapeError);
}

TEST_CASE("a product over tap rows is tuned as one, under a shape of its own", "[tune][matmul]") {
  TempCacheDir temp;
  Context ctx = Context::create();
  auto& impl = detail::Access::impl(ctx);
  REQUIRE(impl.tuning);
  // A 3x3 weight gradient's product: 8 filters by 4 channels x 9 taps over K = 200 positions of
  // a padded input of 4 samples a position, whose rows lie 48 floats apart and channels 512.
  const std::vector<std::int64_t> shape{8, 36, 200, 0, 1, 9, 3, 3, 0, 48, 4, 512};
  const detail::GemmCall geometry = detail::gemm_call_of_tuning_shape(shape);
  CHECK(detail::gemm_tuning_shape(geometry) == shape);
  CHECK(detail::b_operand_floats(geometry) == 3 * 512 + 2 * 48 + 2 * 4 + 200);
  const TuneResult r = detail::tune_gemm_shape(ctx, shape, TuneEffort::fast);
  CHECK(r.shape == "8x36x200 over tap rows");
  CHECK(r.backend == "own");  // only clnn's kernel reads tap rows: no other backend timed
  CHECK(r.clblast_wall_ms == 0);
  CHECK(r.blas_wall_ms == 0);
  check_winner(r);
  // Stored under the tap rows' shape, not the plain product's, and what such a call runs.
  const auto* stored = impl.tuning->nearest("gemm", shape);
  REQUIRE(stored);
  CHECK_FALSE(impl.tuning->nearest("gemm", {8, 36, 200, 0, 1}));
  const MatmulPlan used = detail::gemm_plan(impl, geometry);
  CHECK(used.tile_m == stored->at("tile_m").get<std::size_t>());
  CHECK(used.tile_n == stored->at("tile_n").get<std::size_t>());
  CHECK(used.tile_k == stored->at("tile_k").get<std::size_t>());
  CHECK(used.kernel == MatmulKernel::vec4);

  // Malformed shapes are refused, not run.
  for (const auto& bad : std::vector<std::vector<std::int64_t>>{
           {8, 36, 200},                                // neither a plain nor a tap shape
           {8, 36, 200, 0, 0, 9, 3, 3, 0, 48, 4, 512},  // tap rows of an untransposed B
           {8, 40, 200, 0, 1, 9, 3, 3, 0, 48, 4, 512},  // N not whole channels of taps
           {8, 36, 200, 0, 1, 9, 0, 3, 0, 48, 4, 512},  // no rows of taps
           {8, 36, -200, 0, 1},                         // a negative size
           {8, 0, 200, 0, 1, 9, 3, 3, 0, 48, 4, 512},   // no columns
           {8, 36, 200, 0, 1, 9, std::int64_t{1} << 32, std::int64_t{1} << 32, 0, 48, 4,
            512}}) {  // rows whose product would wrap
    INFO(bad.size());
    CHECK_THROWS_AS(detail::gemm_call_of_tuning_shape(bad), Error);
  }
}

TEST_CASE("a gemm_cpu entry stored before the column order keeps the planner's order",
          "[tune][matmul]") {
  TempCacheDir temp;
  Context ctx = Context::create();
  auto& impl = detail::Access::impl(ctx);
  REQUIRE(impl.tuning);
  detail::GemmCall call;  // ResNet-50's C256 56x56 K64 at batch 32: B of 3.2 MB a product
  call.m = 64, call.n = 3136, call.k = 256, call.batch = 32;
  const MatmulPlan planned = detail::gemm_plan(impl, call);
  if (planned.kernel != MatmulKernel::cpu) return;  // gemm_cpu's order alone (CPU devices)
  const bool order = planned.columns_first;         // by the device's cache
  nlohmann::json entry = {{"local", false},           {"tile_m", planned.tile_m},
                          {"tile_n", planned.tile_n}, {"tile_k", planned.tile_k},
                          {"work_m", planned.work_m}, {"work_n", planned.work_n},
                          {"kernel", "cpu"},          {"backend", "own"}};
  impl.tuning->store("gemm", detail::gemm_tuning_shape(call), entry, 1.0);
  CHECK(detail::gemm_plan(impl, call).columns_first == order);
  entry["columns_first"] = !order;  // an entry's own order wins
  impl.tuning->store("gemm", detail::gemm_tuning_shape(call), entry, 1.0);
  CHECK(detail::gemm_plan(impl, call).columns_first == !order);
}

TEST_CASE("tuning a skinny product reports the matrix-vector kernels that serve it",
          "[tune][matmul]") {
  TempCacheDir temp;
  Context ctx = Context::create();
  auto& impl = detail::Access::impl(ctx);
  const std::int64_t m = 1, n = 300, k = 200;  // a batch-1 fully connected layer
  const TuneResult r = tune_matmul(ctx, m, n, k, false, true, TuneEffort::fast);
  CHECK(r.backend == "gemv");
  CHECK(r.gemv_wall_ms > 0);
  CHECK(r.own_wall_ms > 0);
  CHECK(r.clblast_wall_ms > 0);
  // The entry keeps the tiles' winner, which serves the shape where CLNN_GEMM forces a
  // backend; unforced, the product still runs on the matrix-vector kernels.
  detail::GemmCall call;
  call.m = std::size_t(m), call.n = std::size_t(n), call.k = std::size_t(k), call.trans_b = true;
  REQUIRE(impl.tuning);
  const auto* stored = impl.tuning->nearest("gemm", detail::gemm_tuning_shape(call));
  REQUIRE(stored);
  CHECK(stored->at("backend").get<std::string>() != "gemv");
  CHECK(detail::choose_gemm_backend(impl, call) == detail::GemmBackend::gemv);
}

TEST_CASE("tune_executor tunes the elementwise and reduction plans over whole passes", "[tune]") {
  TempCacheDir temp;
  Context ctx = Context::create();
  auto& impl = detail::Access::impl(ctx);
  // A small network whose forward and backward run through both plans: convolution helpers,
  // batch norm and bias reductions, activations, pooling, the loss.
  Graph g;
  Value images = g.input("images", {8, 2, 10, 10});
  Value labels = g.input("labels", {8});
  Value conv = nn::Conv2d(g, "conv", 2, 4, 3, nn::ConvLayerOptions{1, 1})(images);
  Value act = relu(nn::BatchNorm(g, "bn", 4)(conv));
  PoolOptions pool;
  pool.kernel = {2, 2};
  Value logits = nn::Linear(g, "fc", 4 * 5 * 5, 3)(flatten(max_pool(act, pool)));
  Value loss = softmax_cross_entropy(logits, labels);
  Executor ex(ctx, g, {loss}, Mode::training);
  ex.set_input("images", clnn::test::random_vector(8 * 2 * 10 * 10, 4));
  ex.set_input("labels", {0, 1, 2, 0, 1, 2, 0, 1});
  ex.forward();
  ex.backward(loss);
  const float loss_before = ex.value(loss).to_host()[0];

  const auto results = tune_executor(ex, loss, TuneEffort::fast);
  auto find = [&](const std::string& kernel) {
    auto it = std::find_if(results.begin(), results.end(),
                           [&](const TuneResult& r) { return r.kernel == kernel; });
    REQUIRE(it != results.end());
    return *it;
  };
  // The products come from the passes' tuning notes, kept from the recorded step above (the
  // step inside tune_executor replays): the linear layer's forward and both gradients, and the
  // convolution's products on the column route, at least.
  CHECK(std::count_if(results.begin(), results.end(),
                      [](const TuneResult& r) { return r.kernel == "gemm"; }) >= 3);
  for (const char* kernel : {"elementwise", "reduction"}) {
    INFO(kernel);
    const TuneResult r = find(kernel);
    CHECK(r.candidates > 0);
    check_winner(r);
    CHECK(r.timings.size() == r.candidates - r.rejected);
  }
  // The winners are in force, stored, and what a later context starts with at once.
  REQUIRE(impl.tuning);
  const auto* stored = impl.tuning->nearest("elementwise", {});
  REQUIRE(stored);
  CHECK(stored->at("local_size").get<std::size_t>() == impl.elementwise_plan.local_size);
  CHECK(stored->at("max_groups").get<std::size_t>() == impl.elementwise_plan.max_groups);
  Context later = Context::create();
  auto& later_impl = detail::Access::impl(later);
  CHECK(later_impl.elementwise_plan.local_size == impl.elementwise_plan.local_size);
  CHECK(later_impl.elementwise_plan.max_groups == impl.elementwise_plan.max_groups);
  CHECK(later_impl.reduction_plan.local_size == impl.reduction_plan.local_size);
  // Training with them gives the same loss.
  ex.forward();
  CHECK(ex.value(loss).to_host()[0] == Approx(loss_before).epsilon(1e-5));

  // An entry the device cannot take is ignored: the planner's plan runs.
  impl.tuning->store("reduction", {}, {{"local_size", 3}, {"max_groups", 1}}, 1.0);
  impl.tuning->store("elementwise", {}, {{"local_size", 1 << 30}, {"max_groups", 1}}, 1.0);
  Context refused = Context::create();
  CHECK(detail::Access::impl(refused).reduction_plan.local_size ==
        refused.planner().reduction().local_size);
  CHECK(detail::Access::impl(refused).elementwise_plan.local_size ==
        refused.planner().elementwise().local_size);
}

TEST_CASE("a tuned convolution configuration is stored, used and correct", "[tune][conv]") {
  TempCacheDir temp;
  const Shape xs{2, 16, 6, 5}, ws{8, 16, 3, 3};
  ConvOptions o;
  o.pads_begin = o.pads_end = {1, 1};
  // y = conv(x, w) through a context's implicit GEMM, forced where the device would not take it.
  auto forward = [&](Context& ctx) {
    detail::Access::impl(ctx).conv_route = detail::ConvRoute::implicit;
    Graph g;
    Value y = conv(g.input("x", xs), g.input("w", ws), std::nullopt, o);
    Executor ex(ctx, g, {y}, Mode::inference);
    ex.set_input("x", clnn::test::random_vector(std::size_t(2 * 16 * 6 * 5), 1));
    ex.set_input("w", clnn::test::random_vector(std::size_t(8 * 16 * 9), 2));
    ex.forward();
    return ex.value(y).to_host();
  };
  Context ctx = Context::create();
  auto& impl = detail::Access::impl(ctx);
  impl.conv_route = detail::ConvRoute::implicit;
  const auto results = tune_conv(ctx, xs, ws, o);
  REQUIRE(results.size() == 2);  // the forward pass and the input gradient
  for (const TuneResult& r : results) {
    CHECK(r.kernel == "conv");
    CHECK(r.candidates > 1);
    check_winner(r);
    CHECK(r.timings.size() == r.candidates - r.rejected);
  }
  // The winner is stored under the launch's shape, and a later launch runs it.
  const detail::ImplicitLaunch launch =
      detail::implicit_conv_for(impl, xs, ws, o).forward_launch();
  REQUIRE(impl.tuning);
  REQUIRE(impl.tuning->nearest("conv", detail::implicit_tuning_shape(launch)));
  CHECK(detail::chosen_config(impl, launch).describe() == results[0].best);
  // A configuration that is not the plan's, stored by hand, runs and gives the plan's result.
  const detail::ImplicitConfig planned = detail::planned_config(impl, launch);
  const std::int64_t slices = planned.slices == 1 ? 2 : 1;
  impl.tuning->store("conv", detail::implicit_tuning_shape(launch),
                     {{"tile_m", 32}, {"tile_n", 64}, {"tile_k", 8}, {"slices", slices}}, 1.0);
  Context later = Context::create();
  CHECK(detail::chosen_config(detail::Access::impl(later), launch).slices == slices);
  setenv("CLNN_TUNE", "off", 1);
  Context off = Context::create();
  unsetenv("CLNN_TUNE");
  CHECK(clnn::test::relative_error(forward(later), forward(off)) < 1e-5);
  // A conv that takes the column route has nothing to tune; bad shapes are refused.
  impl.conv_route = detail::ConvRoute::columns;
  CHECK(tune_conv(ctx, xs, ws, o).empty());
  CHECK_THROWS_AS(tune_conv(ctx, xs, {8, 4, 3, 3}, o), ShapeError);
}
