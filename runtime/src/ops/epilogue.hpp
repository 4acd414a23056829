// Internal: activations folded into the op that produces their operand. An inference executor
// fuses a relu or clip whose operand has no other reader into that operand's producer where the
// producer takes one (Op::takes_epilogue): the value is then written once, where it was written,
// read and written again.
#pragma once

#include <string>

#include "clnn/tensor.hpp"

namespace clnn::detail {

struct ContextImpl;

// min(max(v, lo), hi): relu is lo 0, hi infinity; clip its bounds. Evaluated as the activation
// kernels evaluate relu and clip (fmin of fmax), so a fused value equals the unfused one bit for
// bit.
struct Epilogue {
  bool on = false;
  float lo = 0.0f, hi = 0.0f;
};

// Build options that define EPILOGUE_LO and EPILOGUE_HI for a kernel's FINISH macro
// (matmul_vec4.cl, winograd.cl); empty when the epilogue is off.
std::string epilogue_options(const Epilogue& epilogue);

// y = min(max(y, lo), hi) in place: for a producer whose route did not apply the epilogue.
void apply_epilogue(ContextImpl& ctx, const Tensor& y, const Epilogue& epilogue);

}  // namespace clnn::detail
