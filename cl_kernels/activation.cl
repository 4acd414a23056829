// Activations, forward and backward. The host builds this file once per activation with
// -DACTIVATION=<code> (an ACT_ code of kernel_codes.h; the activation's parameters are
// the kernel arguments p and q): with the operation fixed at compile time the loops vectorize.

#include "muladd.h"

#ifndef ACTIVATION
#define ACTIVATION 0
#endif

#include "epilogue.h"  // GELU
#include "kernel_codes.h"

#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f

float activation(const float x, const float p, const float q) {
  switch (ACTIVATION) {
    case ACT_RELU: return fmax(x, 0.0f);
    case ACT_LEAKY_RELU: return x > 0.0f ? x : p * x;
    // Written so that exp never overflows: large |x| saturates cleanly.
    case ACT_SIGMOID: return x >= 0.0f ? 1.0f / (1.0f + exp(-x)) : exp(x) / (1.0f + exp(x));
    case ACT_TANH: return tanh(x);
    case ACT_ELU: return x > 0.0f ? x : p * (exp(x) - 1.0f);
    case ACT_GELU: return GELU(x);
    case ACT_SQRT: return sqrt(x);
    case ACT_EXP: return exp(x);
    case ACT_SELU: return x > 0.0f ? q * x : q * p * (exp(x) - 1.0f);
    case ACT_HARD_SIGMOID: return clamp(p * x + q, 0.0f, 1.0f);
    case ACT_CLIP: return fmin(fmax(x, p), q);
    case ACT_ABS: return fabs(x);
    case ACT_LOG: return log(x);
    case ACT_RECIPROCAL: return 1.0f / x;
    case ACT_FLOOR: return floor(x);
    case ACT_CEIL: return ceil(x);
    case ACT_ROUND: return rint(x);
    case ACT_SIGN: return x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : x;
    case ACT_ERF: return erf(x);
    // log(1 + e^x) without overflow: x + log(1 + e^-x) for positive x.
    case ACT_SOFTPLUS: return x > 0.0f ? x + log1p(exp(-x)) : log1p(exp(x));
    case ACT_SOFTSIGN: return x / (1.0f + fabs(x));
    case ACT_HARD_SWISH: return x * clamp(x / 6.0f + 0.5f, 0.0f, 1.0f);
    case ACT_MISH: return x * tanh(x > 0.0f ? x + log1p(exp(-x)) : log1p(exp(x)));
    case ACT_SIN: return sin(x);
    case ACT_COS: return cos(x);
    case ACT_TAN: return tan(x);
    case ACT_ASIN: return asin(x);
    case ACT_ACOS: return acos(x);
    case ACT_ATAN: return atan(x);
    case ACT_SINH: return sinh(x);
    case ACT_COSH: return cosh(x);
    case ACT_ASINH: return asinh(x);
    case ACT_ACOSH: return acosh(x);
    case ACT_ATANH: return atanh(x);
    case ACT_CELU: return fmax(x, 0.0f) + fmin(0.0f, p * (exp(x / p) - 1.0f));
    case ACT_THRESHOLDED_RELU: return x > p ? x : 0.0f;
    case ACT_SHRINK: return x < -q ? x + p : x > q ? x - p : 0.0f;
    case ACT_SHIFT: return x + p;
  }
  return NAN;
}

// dy/dx from the input x or the output y, whichever the activation's derivative needs.
float activation_derivative(const float x, const float y, const float p, const float q) {
  switch (ACTIVATION) {
    case ACT_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case ACT_LEAKY_RELU: return x > 0.0f ? 1.0f : p;
    case ACT_SIGMOID: return y * (1.0f - y);
    case ACT_TANH: return 1.0f - y * y;
    case ACT_ELU: return x > 0.0f ? 1.0f : p * exp(x);
    case ACT_GELU:
      return 0.5f * (1.0f + erf(x * INV_SQRT2)) + x * INV_SQRT_2PI * exp(-0.5f * x * x);
    case ACT_SQRT: return 0.5f / y;
    case ACT_EXP: return y;
    case ACT_SELU: return x > 0.0f ? q : q * p * exp(x);
    case ACT_HARD_SIGMOID: return p * x + q > 0.0f && p * x + q < 1.0f ? p : 0.0f;
    case ACT_CLIP: return x >= p && x <= q ? 1.0f : 0.0f;
    case ACT_ABS: return x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : 0.0f;
    case ACT_LOG: return 1.0f / x;
    case ACT_RECIPROCAL: return -1.0f / (x * x);
    case ACT_FLOOR:
    case ACT_CEIL:
    case ACT_ROUND:
    case ACT_SIGN: return 0.0f;
    case ACT_ERF: return M_2_SQRTPI_F * exp(-x * x);
    case ACT_SOFTPLUS: return x >= 0.0f ? 1.0f / (1.0f + exp(-x)) : exp(x) / (1.0f + exp(x));
    case ACT_SOFTSIGN: return 1.0f / ((1.0f + fabs(x)) * (1.0f + fabs(x)));
    case ACT_HARD_SWISH: return x < -3.0f ? 0.0f : x > 3.0f ? 1.0f : x / 3.0f + 0.5f;
    case ACT_MISH: {
      const float t = tanh(x > 0.0f ? x + log1p(exp(-x)) : log1p(exp(x)));
      const float s = x >= 0.0f ? 1.0f / (1.0f + exp(-x)) : exp(x) / (1.0f + exp(x));
      return t + x * s * (1.0f - t * t);
    }
    case ACT_SIN: return cos(x);
    case ACT_COS: return -sin(x);
    case ACT_TAN: return 1.0f / (cos(x) * cos(x));
    case ACT_ASIN: return rsqrt(1.0f - x * x);
    case ACT_ACOS: return -rsqrt(1.0f - x * x);
    case ACT_ATAN: return 1.0f / (1.0f + x * x);
    case ACT_SINH: return cosh(x);
    case ACT_COSH: return sinh(x);
    case ACT_ASINH: return rsqrt(x * x + 1.0f);
    case ACT_ACOSH: return rsqrt(x * x - 1.0f);
    case ACT_ATANH: return 1.0f / (1.0f - x * x);
    case ACT_CELU: return x > 0.0f ? 1.0f : exp(x / p);
    case ACT_THRESHOLDED_RELU: return x > p ? 1.0f : 0.0f;
    case ACT_SHRINK: return x < -q || x > q ? 1.0f : 0.0f;
    case ACT_SHIFT: return 1.0f;
  }
  return NAN;
}

// Both kernels go through float4s, (n + 3) / 4 work-items' worth, then the n % 4 tail, as the
// plain kernels of elementwise.cl do (buffers start 16-byte aligned).
#define FLOAT4_STEPS(i, n) for (ulong i = get_global_id(0); i < (n) / 4; i += get_global_size(0))
#define TAIL_STEPS(i, n) \
  for (ulong i = (n) / 4 * 4 + get_global_id(0); i < (n); i += get_global_size(0))

float4 activation4(const float4 x, const float p, const float q) {
  return (float4)(activation(x.x, p, q), activation(x.y, p, q), activation(x.z, p, q),
                  activation(x.w, p, q));
}

float4 activation_derivative4(const float4 x, const float4 y, const float p, const float q) {
  return (float4)(activation_derivative(x.x, y.x, p, q), activation_derivative(x.y, y.y, p, q),
                  activation_derivative(x.z, y.z, p, q), activation_derivative(x.w, y.w, p, q));
}

__kernel void activation_forward(__global const float* x, __global float* y, const ulong n,
                                 const float p, const float q) {
  __global const float4* x4 = (__global const float4*)x;
  FLOAT4_STEPS(i, n) ((__global float4*)y)[i] = activation4(x4[i], p, q);
  TAIL_STEPS(i, n) y[i] = activation(x[i], p, q);
}

// gx = beta * gx + gy * f'(x). x or y may be a placeholder where op does not read it (the
// placeholder is a buffer of at least n floats too, so the float4 loads stay inside it).
__kernel void activation_backward(__global const float* x, __global const float* y,
                                  __global const float* gy, __global float* gx, const ulong n,
                                  const float p, const float q, const float beta) {
  __global const float4* x4 = (__global const float4*)x;
  __global const float4* y4 = (__global const float4*)y;
  __global float4* gx4 = (__global float4*)gx;
  FLOAT4_STEPS(i, n) {
    const float4 g = ((__global const float4*)gy)[i] * activation_derivative4(x4[i], y4[i], p, q);
    gx4[i] = beta == 0.0f ? g : MULADD((float4)(beta), gx4[i], g);
  }
  TAIL_STEPS(i, n) {
    const float g = gy[i] * activation_derivative(x[i], y[i], p, q);
    gx[i] = beta == 0.0f ? g : g + beta * gx[i];
  }
}
