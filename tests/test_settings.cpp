// The CLNN_* settings: every variable's values parsed in one place, and a value a variable does
// not take refused at context creation with the variable and its values named.
#include <catch2/catch.hpp>

#include "settings.hpp"
#include "support.hpp"

using clnn::test::ScopedEnv;
namespace detail = clnn::detail;

namespace {

// Every variable unset, so that the ones a case sets are the only ones it reads.
struct CleanEnvironment {
  ScopedEnv vars[9]{
      {"CLNN_DEVICE", nullptr},  {"CLNN_CACHE_DIR", nullptr}, {"CLNN_GEMM", nullptr},
      {"CLNN_CONV", nullptr},    {"CLNN_TUNE", nullptr},      {"CLNN_LOG", nullptr},
      {"CLNN_PROFILE", nullptr}, {"CLNN_PRECISION", nullptr}, {"CLNN_TF32_GEMM", nullptr}};
};

}  // namespace

TEST_CASE("settings: unset variables take their defaults", "[settings]") {
  CleanEnvironment clean;
  const auto s = detail::Settings::from_environment();
  CHECK(s.device.empty());
  CHECK(s.cache_dir.empty());
  CHECK(s.gemm == detail::GemmBackend::automatic);
  CHECK(s.conv == detail::ConvRoute::automatic);
  CHECK(s.tune == detail::TuneMode::fast);
  CHECK(s.log == detail::LogLevel::quiet);
  CHECK(s.profile == detail::ProfileMode::off);
  CHECK(s.precision == clnn::Precision::fp32);
  CHECK(s.tf32_gemm == detail::Tf32Gemm::automatic);
  ScopedEnv empty("CLNN_CONV", "");  // empty is unset
  CHECK(detail::Settings::from_environment().conv == detail::ConvRoute::automatic);
}

TEST_CASE("settings: each variable's values", "[settings]") {
  CleanEnvironment clean;
  auto read = [] { return detail::Settings::from_environment(); };
  {
    ScopedEnv e("CLNN_GEMM", "clblast");
    CHECK(read().gemm == detail::GemmBackend::clblast);
  }
  {
    ScopedEnv e("CLNN_CONV", "depthwise");
    CHECK(read().conv == detail::ConvRoute::depthwise);
  }
  {
    ScopedEnv e("CLNN_TUNE", "off");
    CHECK(read().tune == detail::TuneMode::off);
  }
  {
    ScopedEnv e("CLNN_LOG", "debug");
    CHECK(read().log == detail::LogLevel::debug);
  }
  {
    ScopedEnv e("CLNN_PROFILE", "nodes");
    CHECK(read().profile == detail::ProfileMode::nodes);
    CHECK(detail::profile_setting() == detail::ProfileMode::nodes);
  }
  {
    ScopedEnv e("CLNN_PRECISION", "bf16");
    CHECK(read().precision == clnn::Precision::bf16);
  }
  {
    ScopedEnv e("CLNN_TF32_GEMM", "pipelined");
    CHECK(read().tf32_gemm == detail::Tf32Gemm::pipelined);
    ScopedEnv staged("CLNN_TF32_GEMM", "staged");
    CHECK(read().tf32_gemm == detail::Tf32Gemm::staged);
  }
  {
    ScopedEnv dir("CLNN_CACHE_DIR", "/tmp/somewhere"), device("CLNN_DEVICE", "cpu");
    CHECK(read().cache_dir == "/tmp/somewhere");
    CHECK(read().device == "cpu");
  }
}

TEST_CASE("settings: a value a variable does not take names the variable and its values",
          "[settings][errors]") {
  const clnn::DeviceInfo device = clnn::test::context().device();  // made before any is wrong
  CleanEnvironment clean;
  struct Wrong {
    const char* variable;
    const char* value;
    const char* one_of_its_values;
  };
  for (const Wrong& w : {Wrong{"CLNN_CONV", "winogard", "winograd"},
                         {"CLNN_GEMM", "cublas", "clblast"},
                         {"CLNN_TUNE", "yes", "full"},
                         {"CLNN_LOG", "verbose", "debug"},
                         {"CLNN_PROFILE", "on", "nodes"},
                         {"CLNN_PRECISION", "fp8", "tf32"},
                         {"CLNN_TF32_GEMM", "cp.async", "pipelined"}}) {
    INFO(w.variable << "=" << w.value);
    ScopedEnv e(w.variable, w.value);
    CHECK_THROWS_AS(detail::Settings::from_environment(), clnn::Error);
    CHECK_THROWS_WITH(detail::Settings::from_environment(),
                      Catch::Contains(w.variable) && Catch::Contains(w.value) &&
                          Catch::Contains(w.one_of_its_values));
    // A context is not made with it (the device under test, as every context is made).
    CHECK_THROWS_WITH(clnn::Context::create(device), Catch::Contains(w.variable));
  }
  // The process-wide readers keep their defaults where the value is wrong.
  ScopedEnv log("CLNN_LOG", "verbose"), profile("CLNN_PROFILE", "on");
  CHECK(detail::log_setting() == detail::LogLevel::quiet);
  CHECK(detail::profile_setting() == detail::ProfileMode::off);
}
