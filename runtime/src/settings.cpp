// The CLNN_* variables: one table of values per variable.
#include "settings.hpp"

#include <cstdlib>
#include <utility>
#include <vector>

#include "clnn/error.hpp"

namespace clnn::detail {

namespace {

template <class Value>
using Choices = std::vector<std::pair<const char*, Value>>;

// The variable's value among its choices; unset or empty: `unset`.
template <class Value>
Value parse(const char* variable, const Choices<Value>& choices, Value unset,
            const char* unset_means) {
  const char* text = std::getenv(variable);
  if (!text || !*text) return unset;
  for (const auto& [name, value] : choices)
    if (std::string(text) == name) return value;
  std::string list;
  for (std::size_t i = 0; i < choices.size(); ++i)
    list += std::string(i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i].first;
  throw Error(std::string(variable) + "='" + text + "' is not a value it takes: " + list +
              " (unset: " + unset_means + ")");
}

std::string text_of(const char* variable) {
  const char* text = std::getenv(variable);
  return text ? text : "";
}

GemmBackend parse_gemm() {
  return parse<GemmBackend>("CLNN_GEMM", {{"own", GemmBackend::own},
                                                {"clblast", GemmBackend::clblast},
                                                {"blas", GemmBackend::blas}},
                            GemmBackend::automatic, "chosen per product");
}

ConvRoute parse_conv() {
  return parse<ConvRoute>("CLNN_CONV",
                          {{"columns", ConvRoute::columns},
                           {"implicit", ConvRoute::implicit},
                           {"winograd", ConvRoute::winograd},
                           {"direct", ConvRoute::direct},
                           {"shifted", ConvRoute::shifted},
                           {"depthwise", ConvRoute::depthwise},
                           {"padded", ConvRoute::padded},
                           {"pointwise", ConvRoute::pointwise}},
                          ConvRoute::automatic, "chosen per pass");
}

TuneMode parse_tune() {
  return parse<TuneMode>("CLNN_TUNE",
                         {{"fast", TuneMode::fast}, {"full", TuneMode::full}, {"off", TuneMode::off}},
                         TuneMode::fast, "fast");
}

LogLevel parse_log() {
  return parse<LogLevel>("CLNN_LOG",
                         {{"quiet", LogLevel::quiet}, {"info", LogLevel::info}, {"debug", LogLevel::debug}},
                         LogLevel::quiet, "quiet");
}

ProfileMode parse_profile() {
  return parse<ProfileMode>(
      "CLNN_PROFILE",
      {{"0", ProfileMode::off}, {"1", ProfileMode::ops}, {"nodes", ProfileMode::nodes}},
      ProfileMode::off, "0");
}

Precision parse_precision() {
  return parse<Precision>("CLNN_PRECISION",
                          {{"fp32", Precision::fp32},
                           {"tf32", Precision::tf32},
                           {"fp16", Precision::fp16},
                           {"bf16", Precision::bf16}},
                          Precision::fp32, "fp32");
}

Tf32Gemm parse_tf32_gemm() {
  return parse<Tf32Gemm>("CLNN_TF32_GEMM",
                         {{"staged", Tf32Gemm::staged}, {"pipelined", Tf32Gemm::pipelined}},
                         Tf32Gemm::automatic, "chosen per product");
}

}  // namespace

Settings Settings::from_environment() {
  Settings s;
  s.device = text_of("CLNN_DEVICE");
  s.cache_dir = text_of("CLNN_CACHE_DIR");
  s.gemm = parse_gemm();
  s.conv = parse_conv();
  s.tune = parse_tune();
  s.log = parse_log();
  s.profile = parse_profile();
  s.precision = parse_precision();
  s.tf32_gemm = parse_tf32_gemm();
  return s;
}

LogLevel log_setting() {
  try {
    return parse_log();
  } catch (const Error&) {
    return LogLevel::quiet;
  }
}

ProfileMode profile_setting() {
  try {
    return parse_profile();
  } catch (const Error&) {
    return ProfileMode::off;
  }
}

}  // namespace clnn::detail
