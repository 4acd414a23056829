// Tuning: the cache file, nearest-shape reuse, and tuned matmul configurations that are used and
// still give the right result.
#include <catch2/catch.hpp>

#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "context_impl.hpp"
#include "ops/gemm.hpp"
#include "reference/ops.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
using namespace clnn;

namespace {

struct TempCacheDir {
  fs::path dir = fs::temp_directory_path() / ("clnn-tune-" + std::to_string(getpid()));
  std::string old;
  bool had = false;
  TempCacheDir() {
    fs::remove_all(dir);
    if (const char* v = std::getenv("CLNN_CACHE_DIR")) old = v, had = true;
    setenv("CLNN_CACHE_DIR", dir.c_str(), 1);
  }
  ~TempCacheDir() {
    had ? setenv("CLNN_CACHE_DIR", old.c_str(), 1) : unsetenv("CLNN_CACHE_DIR");
    fs::remove_all(dir);
  }
};

DeviceInfo device_named(const std::string& name) {
  DeviceInfo d;
  d.name = name;
  d.driver_version = "1.0";
  return d;
}

}  // namespace

TEST_CASE("the tuning cache keeps entries per device and finds the nearest shape", "[tune]") {
  TempCacheDir temp;
  const fs::path file = temp.dir / "tuning-v1.json";
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

TEST_CASE("a tuned matmul configuration is stored, used and correct", "[tune][matmul]") {
  TempCacheDir temp;
  const std::int64_t m = 48, n = 40, k = 56;
  {
    Context ctx = Context::create();
    TuneResult r = tune_matmul(ctx, m, n, k, false, true, TuneEffort::fast);
    CHECK(r.kernel == "gemm");
    CHECK(r.candidates > 1);
    CHECK(r.planned_ms > 0);
    CHECK(r.best_ms <= r.planned_ms);
    CHECK_FALSE(r.best.empty());
    CHECK(r.own_wall_ms > 0);
    CHECK(r.clblast_wall_ms > 0);
    CHECK((r.backend == "own" || r.backend == "clblast"));
    CHECK(r.backend == (r.clblast_wall_ms < r.own_wall_ms ? "clblast" : "own"));
  }
  REQUIRE(fs::exists(temp.dir / "tuning-v1.json"));

  Context ctx = Context::create();  // a later run: the stored winner is used at once
  auto& impl = detail::Access::impl(ctx);
  detail::GemmCall call;
  call.m = std::size_t(m), call.n = std::size_t(n), call.k = std::size_t(k), call.trans_b = true;
  auto stored = impl.tuning->nearest("gemm", detail::gemm_tuning_shape(call));
  REQUIRE(stored);
  const MatmulPlan used = detail::gemm_plan(impl, call);
  // The backend that won at this shape is the one matmul now picks.
  CHECK(detail::to_string(detail::choose_gemm_backend(impl, call)) ==
        stored->at("backend").get<std::string>());
  CHECK(used.tile_m == stored->at("tile_m").get<std::size_t>());
  CHECK(used.work_n == stored->at("work_n").get<std::size_t>());
  CHECK(to_string(used.kernel) == stored->at("kernel").get<std::string>());

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
