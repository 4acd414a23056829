// Internal: activations folded into the op that produces their operand. An executor fuses a relu
// or clip whose operand has no other reader into that operand's producer where the producer takes
// one (Op::takes_epilogue; in training, Op::backward_with_epilogue too): the value is then
// written once, where it was written, read and written again, and in training the producer's
// backward masks the gradient where the activation's backward would have.
#pragma once

#include <cmath>
#include <string>

#include "clnn/tensor.hpp"

namespace clnn::detail {

struct ContextImpl;

// min(max(v, lo), hi): relu is lo 0, hi infinity; clip its bounds. Evaluated as the activation
// kernels evaluate relu and clip (fmin of fmax), so a fused value equals the unfused one bit for
// bit. Or, with gelu, GELU(v) (lo, hi and passes_lo unused), by the activation kernel's formula.
struct Epilogue {
  bool on = false;
  float lo = 0.0f, hi = 0.0f;
  // Where the derivative is 1, as the activation kernels have it: [lo, hi] for clip
  // (passes_lo), (lo, hi] for relu (0 itself passes nothing).
  bool passes_lo = false;
  // GELU's derivative needs its operand, which the fold never stores: it folds in inference only.
  bool gelu = false;

  // Whether the epilogue is a clamp, whose derivative (1 or 0) a producer's backward can apply.
  bool clamps() const { return on && !gelu; }
  // Whether the output alone says where the derivative is 1: relu's, output > 0 exactly where
  // its operand was (clip's output cannot tell a value at a bound from one clipped to it).
  bool masks_from_output() const { return clamps() && lo == 0.0f && hi == INFINITY && !passes_lo; }
};

// Build options that define EPILOGUE_LO and EPILOGUE_HI for a kernel's FINISH macro
// (matmul_vec4.cl, winograd.cl, norm.cl), and EPILOGUE_PASSES_LO where passes_lo; EPILOGUE_GELU
// for GELU; empty when the epilogue is off.
std::string epilogue_options(const Epilogue& epilogue);

// y = epilogue(y) in place: for a producer whose route did not apply the epilogue.
void apply_epilogue(ContextImpl& ctx, const Tensor& y, const Epilogue& epilogue);

// g = g where the epilogue's derivative is 1, else 0, in place, read from the output y it
// produced: a producer's backward for an epilogue that masks_from_output().
void mask_by_epilogue(ContextImpl& ctx, const Tensor& y, const Tensor& g, const Epilogue& epilogue);

}  // namespace clnn::detail
