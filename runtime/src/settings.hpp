// Internal: clnn's settings from the environment, the CLNN_* variables, parsed in one place and
// strictly: a value a variable does not take is a clnn::Error naming the variable and the values
// it takes (CLNN_CONV=winogard must not run the automatic routes unannounced). Every Context
// reads them all at creation (Settings::from_environment), so a mistyped value fails there; the
// process-wide ones (CLNN_LOG, CLNN_PROFILE) are read once more where they take effect, by the
// same parsers. README's table lists every variable.
#pragma once

#include <string>

#include "clnn/device.hpp"
#include "log.hpp"

namespace clnn::detail {

// What runs a GEMM: chosen per call (automatic), clnn's tiled kernels (own), CLBlast, for skinny
// products clnn's matrix-vector kernels (gemv; ops/gemv.hpp), or on a CPU device the host's BLAS
// on the buffers in place (blas; ops/gemm_host.hpp).
enum class GemmBackend { automatic, own, clblast, gemv, blas };
// How convolutions run: each pass the fastest way it can (automatic), always through column
// matrices, or wherever they can as implicit GEMMs (ops/conv_implicit.hpp), by Winograd's
// transforms (ops/conv_winograd.hpp), the gradients directly (ops/conv_direct.hpp), the weight
// gradient over shifted copies of the padded input (ops/conv_shifted.hpp) or, one group per
// channel, gathered per channel (ops/conv_depthwise.hpp), directly over a padded copy
// (ops/conv_padded.hpp) or, 1x1 ones, as products of each sample's plane
// (ops/conv_pointwise.hpp), the rest as automatic.
enum class ConvRoute {
  automatic,
  columns,
  implicit,
  winograd,
  direct,
  shifted,
  depthwise,
  padded,
  pointwise
};
// The tuning cache: read, with the tuners trying a fast subset of candidates (fast) or every one
// (full), or not used (off).
enum class TuneMode { fast, full, off };

// Which kernel runs GEMMs in TF32 on tensor cores: gemm_vec4's register-staged form, or the
// pipelined gemm_mma; automatic: gemm_mma for products of many blocks (ops/gemm.cpp).
enum class Tf32Gemm { automatic, staged, pipelined };

// The profiler at start: off, on with a row per op pass (ops), or per node pass (nodes).
enum class ProfileMode { off, ops, nodes };

struct Settings {
  std::string device;                         // CLNN_DEVICE: a device spec; empty: the best
  std::string cache_dir;                      // CLNN_CACHE_DIR: a folder, "off"; empty: default
  GemmBackend gemm = GemmBackend::automatic;  // CLNN_GEMM
  ConvRoute conv = ConvRoute::automatic;      // CLNN_CONV
  TuneMode tune = TuneMode::fast;             // CLNN_TUNE
  LogLevel log = LogLevel::quiet;             // CLNN_LOG
  ProfileMode profile = ProfileMode::off;     // CLNN_PROFILE
  Precision precision = Precision::fp32;      // CLNN_PRECISION: a Context's unless it names one
  Tf32Gemm tf32_gemm = Tf32Gemm::automatic;   // CLNN_TF32_GEMM

  // Every variable, read and checked; throws clnn::Error for a value one does not take.
  static Settings from_environment();
};

// CLNN_LOG and CLNN_PROFILE for the process-wide state they set: as from_environment parses
// them, but the default where a value is wrong (Context creation reports that one).
LogLevel log_setting();
ProfileMode profile_setting();

}  // namespace clnn::detail
