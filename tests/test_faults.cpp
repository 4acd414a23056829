// Fault injection: every allocation, build and enqueue of a training step and of running an
// imported ONNX model, made to fail in turn, is a clean error that leaves the library usable.
#include <catch2/catch.hpp>

#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cl/fault.hpp"
#include "clnn/onnx.hpp"
#include "context_impl.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
using namespace clnn;
using detail::fault::Injection;
using detail::fault::Site;

namespace {

const std::vector<cl_int> kCodes = {CL_MEM_OBJECT_ALLOCATION_FAILURE, CL_OUT_OF_RESOURCES,
                                    CL_BUILD_PROGRAM_FAILURE};

const char* site_name(Site site) {
  return site == Site::allocate ? "allocate" : site == Site::build ? "build" : "enqueue";
}

// A context of its own, so that what one attempt left cached (kernels, lookup tables, scratch)
// does not change the calls the next makes. With `disk`, programs come from the disk cache (a
// few milliseconds); without, every program is built from source (tens of milliseconds each).
Context fresh_context(bool disk, detail::GemmBackend gemm = detail::GemmBackend::automatic) {
  std::optional<test::ScopedEnv> no_disk;
  if (!disk) no_disk.emplace("CLNN_CACHE_DIR", "off");
  Context ctx = Context::create(test::context().device());
  if (gemm != detail::GemmBackend::automatic) detail::Access::impl(ctx).gemm_backend = gemm;
  return ctx;
}

std::vector<float> concat_host(const std::vector<Tensor>& tensors) {
  std::vector<float> out;
  for (const Tensor& t : tensors) {
    auto host = t.to_host();
    out.insert(out.end(), host.begin(), host.end());
  }
  return out;
}

// One Adam step of a small CNN with batch norm (state) and dropout (per-step randomness).
struct TrainScenario {
  Graph g;
  Value loss;
  std::vector<float> images = test::random_vector(4 * 64, 11);
  std::vector<float> labels = {1, 7, 3, 0};
  // The parameters and state a new executor starts from, for putting a used one back.
  std::vector<std::pair<std::string, std::vector<float>>> initial_parameters, initial_states;

  struct Run {  // what a run leaves behind, possibly half made when it threw
    std::unique_ptr<Executor> ex;
    std::unique_ptr<optim::Adam> adam;
  };

  // linear_only: one fully connected layer on the same images, whose calls are mostly GEMMs.
  explicit TrainScenario(bool linear_only = false) {
    nn::Sequential net;
    if (!linear_only) {
      net.emplace<nn::Conv2d>(g, "conv", 1, 4, 3, nn::ConvLayerOptions{2, 1});
      net.emplace<nn::BatchNorm>(g, "bn", 4);
      net.emplace<nn::ReLU>();
      net.emplace<nn::MaxPool>(2);
    }
    net.emplace<nn::Flatten>();
    if (!linear_only) net.emplace<nn::Dropout>(0.25f, 5);
    net.emplace<nn::Linear>(g, "fc", linear_only ? 64 : 4 * 2 * 2, 10);
    Value x = g.input("x", {4, 1, 8, 8});
    loss = softmax_cross_entropy(net(x), g.input("y", {4}));
  }

  // From nothing to the loss, parameters and state after one step.
  std::vector<float> run(const Context& ctx, Run& r) const {
    r.ex = std::make_unique<Executor>(ctx, g, std::vector<Value>{loss}, Mode::training);
    r.adam = std::make_unique<optim::Adam>(*r.ex, optim::AdamOptions{});
    return step(r);
  }

  // The same step again on a used executor and optimizer, put back to where they started.
  std::vector<float> rerun(const Context& ctx, Run& r) const {
    if (!r.ex) return run(ctx, r);
    for (const auto& [name, values] : initial_parameters) r.ex->set_parameter(name, values);
    for (const auto& [name, values] : initial_states) r.ex->set_state(name, values);
    r.ex->set_step(0);
    if (!r.adam) r.adam = std::make_unique<optim::Adam>(*r.ex, optim::AdamOptions{});
    for (auto& [name, slot] : r.adam->slots()) {
      (void)name;
      fill(slot, 0.0f);
    }
    r.adam->set_steps(0);
    return step(r);
  }

  std::vector<float> step(Run& r) const {
    r.ex->set_input("x", images);
    r.ex->set_input("y", labels);
    r.ex->forward();
    r.ex->backward(loss);
    r.adam->step();
    std::vector<Tensor> results = {r.ex->value(loss)};
    for (const Value& p : r.ex->parameters()) results.push_back(r.ex->parameter(p.name()));
    for (const Value& s : r.ex->states()) results.push_back(r.ex->state(s.name()));
    return concat_host(results);
  }

  // Notes where a new executor starts (unarmed, before any fault).
  void record_initial(const Context& ctx) {
    Executor ex(ctx, g, {loss}, Mode::training);
    for (const Value& p : ex.parameters())
      initial_parameters.emplace_back(p.name(), ex.parameter(p.name()).to_host());
    for (const Value& s : ex.states())
      initial_states.emplace_back(s.name(), ex.state(s.name()).to_host());
  }
};

// An ONNX model that clnn exported, loaded and run for inference.
struct OnnxScenario {
  fs::path path = fs::temp_directory_path() / ("clnn-faults-" + std::to_string(getpid()) + ".onnx");
  std::vector<float> images = test::random_vector(2 * 64, 12);

  struct Run {
    std::unique_ptr<onnx::Model> model;
    std::unique_ptr<Executor> ex;
  };

  OnnxScenario() {
    Graph g;
    nn::Sequential net;
    net.emplace<nn::Conv2d>(g, "conv", 1, 4, 3, nn::ConvLayerOptions{1, 1});
    net.emplace<nn::BatchNorm>(g, "bn", 4);
    net.emplace<nn::ReLU>();
    net.emplace<nn::MaxPool>(2);
    net.emplace<nn::Flatten>();
    net.emplace<nn::Linear>(g, "fc", 4 * 4 * 4, 5);
    Value probs = softmax(net(g.input("x", {2, 1, 8, 8})));
    onnx::save(g, path.string(), {probs});
  }
  ~OnnxScenario() { fs::remove(path); }

  std::vector<float> run(const Context& ctx, Run& r) const {
    r.model = std::make_unique<onnx::Model>(onnx::load(path.string()));
    r.ex = std::make_unique<Executor>(ctx, r.model->graph,
                                      std::vector<Value>{r.model->outputs[0].second},
                                      Mode::inference);
    return step(r);
  }

  std::vector<float> rerun(const Context& ctx, Run& r) const {
    return r.ex ? step(r) : run(ctx, r);
  }

  std::vector<float> step(Run& r) const {
    r.ex->set_input(r.model->inputs[0].first, images);
    r.ex->forward();
    return r.ex->value(r.model->outputs[0].second).to_host();
  }
};

// Runs the scenario once unarmed in a context from make_context: its results and its calls at
// `site`.
template <typename Scenario, typename MakeContext>
std::pair<std::vector<float>, std::uint64_t> count_calls(const Scenario& s, Site site,
                                                         MakeContext make_context) {
  Context ctx = make_context();
  typename Scenario::Run r;
  Injection counting(site);
  auto results = s.run(ctx, r);
  return {results, counting.calls()};
}

// Runs `attempt`, which must end in the injected failure: a DeviceError carrying `code`.
template <typename Attempt>
void expect_failure(Site site, std::uint64_t n, cl_int code, Attempt attempt) {
  Injection injection(site, n, code);
  try {
    attempt();
    FAIL("the failure was not reported");
  } catch (const DeviceError& e) {
    CHECK(e.code() == code);
  }
  CHECK(injection.fired());
}

// For every call the scenario makes at `site`, in a context from make_context: that call fails
// (the codes take turns); the error is a DeviceError with the code; then the same executor
// (where it was made) and a new one give the results of a run that never failed, bit for bit.
// Returns the failures injected.
template <typename Scenario, typename MakeContext>
std::uint64_t fail_each_call(const Scenario& s, Site site, MakeContext make_context) {
  count_calls(s, site, make_context);  // fills the disk cache, if any, so the counts are stable
  const auto [want, calls] = count_calls(s, site, make_context);
  INFO("site " << site_name(site) << ", " << calls << " calls");
  REQUIRE(calls > 0);
  for (std::uint64_t n = 1; n <= calls; ++n) {
    const cl_int code = kCodes[n % kCodes.size()];
    INFO("call " << n << " fails with " << cl_error_name(code));
    Context ctx = make_context();
    typename Scenario::Run r;
    expect_failure(site, n, code, [&] { s.run(ctx, r); });
    CHECK(s.rerun(ctx, r) == want);
    typename Scenario::Run fresh;
    CHECK(s.run(ctx, fresh) == want);
  }
  return calls;
}

// Every program build of the scenario fails once, in order, on one context with programs in
// memory only: the first attempt fails the first build and each retry, on the same executor,
// builds one more program before failing the next, until a retry completes and must give the
// results of a run that never failed. (A fresh context per build would rebuild every program
// each time, some seconds per scenario on PoCL.) Returns the failures injected.
template <typename Scenario>
std::uint64_t fail_each_build(const Scenario& s) {
  auto make_context = [] { return fresh_context(false); };
  const auto [want, builds] = count_calls(s, Site::build, make_context);
  INFO(builds << " builds");
  REQUIRE(builds > 0);
  Context ctx = make_context();
  typename Scenario::Run r;
  std::uint64_t failed = 0;
  for (;; ++failed) {
    REQUIRE(failed <= builds);
    const cl_int code = kCodes[failed % kCodes.size()];
    Injection injection(Site::build, failed == 0 ? 1 : 2, code);
    try {
      auto results = s.rerun(ctx, r);
      CHECK_FALSE(injection.fired());
      CHECK(results == want);
      break;
    } catch (const DeviceError& e) {
      CHECK(e.code() == code);
      CHECK(injection.fired());
    }
  }
  CHECK(failed == builds);
  typename Scenario::Run fresh;
  CHECK(s.run(ctx, fresh) == want);
  return failed;
}

// Every failure the seam can inject in the scenario, site by site.
template <typename Scenario>
void fail_everywhere(const Scenario& s) {
  auto make_context = [] { return fresh_context(true); };
  fail_each_call(s, Site::allocate, make_context);
  fail_each_build(s);
  fail_each_call(s, Site::enqueue, make_context);
}

}  // namespace

TEST_CASE("each failed allocation/build/enqueue of a training step is a clean error", "[faults]") {
  TrainScenario s;
  s.record_initial(test::context());
  fail_everywhere(s);
}

TEST_CASE("a failed CLBlast GEMM in a training step is a clean error", "[faults]") {
  // CLBlast builds its programs per context, which takes seconds on PoCL: one context serves
  // every attempt, warmed first so that each attempt makes the same calls.
  TrainScenario s(true);
  s.record_initial(test::context());
  Context ctx = fresh_context(true, detail::GemmBackend::clblast);
  fail_each_call(s, Site::enqueue, [&] { return ctx; });
}

TEST_CASE("each failed allocation/build/enqueue running an ONNX model is a clean error",
          "[faults][onnx]") {
  OnnxScenario s;
  fail_everywhere(s);
}

TEST_CASE("a failed forward() is not a step; backward() and the optimizer need a whole one",
          "[faults]") {
  TrainScenario s;
  Context ctx = fresh_context(true);
  TrainScenario::Run r;
  s.run(ctx, r);
  REQUIRE(r.ex->step() == 1);
  {
    Injection injection(Site::enqueue, 2, CL_OUT_OF_RESOURCES);
    CHECK_THROWS_AS(r.ex->forward(), DeviceError);
  }
  CHECK(r.ex->step() == 1);
  CHECK_THROWS_WITH(r.ex->backward(s.loss), Catch::Contains("call forward() first"));
  CHECK_THROWS_WITH(r.adam->step(), Catch::Contains("call backward() first"));
  CHECK(r.adam->steps() == 1);

  // An input whose upload failed is not set.
  {
    Injection injection(Site::enqueue, 1, CL_OUT_OF_RESOURCES);
    CHECK_THROWS_AS(r.ex->set_input("x", s.images), DeviceError);
  }
  CHECK_THROWS_WITH(r.ex->forward(), Catch::Contains("input 'x' was not set"));
}

TEST_CASE("a failed build from a cached binary falls back to a build from source", "[faults]") {
  // The shared test context keeps programs on disk (CLNN_CACHE_DIR): the first context fills the
  // disk cache, the second loads from it.
  TrainScenario s;
  std::vector<float> want;
  {
    Context ctx = Context::create(test::context().device());
    TrainScenario::Run r;
    want = s.run(ctx, r);
  }
  Context ctx = Context::create(test::context().device());
  REQUIRE(detail::Access::impl(ctx).programs->disk_enabled());  // CLNN_CACHE_DIR=off tests nothing
  TrainScenario::Run r;
  Injection injection(Site::build, 1, CL_BUILD_PROGRAM_FAILURE);
  CHECK(s.run(ctx, r) == want);
  CHECK(injection.fired());
}

TEST_CASE("a model too large for the device is an AllocationError naming the tensor",
          "[faults]") {
  const DeviceInfo& device = test::context().device();
  Graph g;
  Value x = g.input("x", {1, 1 << 20});
  Value w = g.parameter("huge_weight", {1 << 20, 1 << 20}, init::zeros());
  Value y = matmul(x, w);
  const std::string bytes = std::to_string((std::uint64_t(1) << 40) * sizeof(float));
  REQUIRE((std::uint64_t(1) << 42) > device.max_mem_alloc_size);
  CHECK_THROWS_AS(Executor(test::context(), g, {y}, Mode::inference), AllocationError);
  CHECK_THROWS_WITH(Executor(test::context(), g, {y}, Mode::inference),
                    Catch::Contains("'huge_weight'") && Catch::Contains(bytes + " bytes"));

  // Tensors each small enough for one buffer but together more than the device has.
  const std::int64_t rows = std::int64_t(device.max_mem_alloc_size / sizeof(float) / 1024);
  Graph big;
  Value in = big.input("in", {1, rows});
  Value sum = in;
  for (int i = 0; i * device.max_mem_alloc_size <= device.global_mem_size; ++i)
    sum = add(sum, big.parameter("p" + std::to_string(i), {1024, rows}, init::zeros()));
  CHECK_THROWS_AS(Executor(test::context(), big, {sum}, Mode::inference), AllocationError);
  CHECK_THROWS_WITH(Executor(test::context(), big, {sum}, Mode::inference),
                    Catch::Contains("global_mem_size") &&
                        Catch::Contains("the largest tensor is '"));
}
