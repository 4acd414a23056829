// Operators: free functions that add a node to the graph of their operands and return its value.
// Every operator has a forward and a backward OpenCL kernel path. A shape that does not fit
// throws ShapeError naming the operator, the node and the shapes.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "clnn/graph.hpp"

namespace clnn {

// Matrix product of 2-D [M,K]x[K,N] operands, or batched 3-D [B,M,K]x[B,K,N] ones; a 2-D operand
// is shared by every batch of a 3-D one. transpose_a/transpose_b use an operand's last two
// dimensions swapped.
Value matmul(const Value& a, const Value& b, bool transpose_a = false, bool transpose_b = false);
// The same product plus bias [N] added to every row: a Linear layer, y = x W^T + b with
// transpose_b. One pass where the product's kernel adds it; equal to add(matmul(a, b), bias).
Value matmul(const Value& a, const Value& b, const Value& bias, bool transpose_a = false,
             bool transpose_b = false);

// Elementwise arithmetic with numpy broadcasting: shapes align from the right and each pair of
// extents is equal or one of them 1 (a bias row [N] added to [B, N], say). Equal shapes and a
// trailing-part second operand take the fastest kernels.
Value add(const Value& a, const Value& b);
Value sub(const Value& a, const Value& b);
Value mul(const Value& a, const Value& b);
Value div(const Value& a, const Value& b);
Value pow(const Value& a, const Value& b);  // a^b; the gradient for b needs a > 0
// Elementwise maximum and minimum (ties give the gradient to a).
Value maximum(const Value& a, const Value& b);
Value minimum(const Value& a, const Value& b);
// Comparisons: 1 where true, else 0 (no gradient); where(c, a, b) takes a where c is nonzero,
// else b (the gradient goes to the operand taken).
Value equal(const Value& a, const Value& b);
Value less(const Value& a, const Value& b);
Value less_equal(const Value& a, const Value& b);
Value greater(const Value& a, const Value& b);
Value greater_equal(const Value& a, const Value& b);
Value where(const Value& condition, const Value& a, const Value& b);
// x < 0 ? slope * x : x, slope broadcast to x.
Value prelu(const Value& x, const Value& slope);
Value scale(const Value& v, float s);
Value add(const Value& v, float c);  // v + c

// Activations.
Value relu(const Value& v);
Value leaky_relu(const Value& v, float slope = 0.01f);
Value sigmoid(const Value& v);
Value tanh(const Value& v);
Value elu(const Value& v, float alpha = 1.0f);
Value gelu(const Value& v);  // the exact form, x * Phi(x)
Value sqrt(const Value& v);
Value exp(const Value& v);
Value selu(const Value& v, float alpha = 1.67326319f, float gamma = 1.05070102f);
Value hard_sigmoid(const Value& v, float alpha = 0.2f, float beta = 0.5f);  // clamp(ax + b, 0, 1)
Value clip(const Value& v, float min, float max);
Value hard_swish(const Value& v);  // x * hard_sigmoid(x) with alpha 1/6, beta 1/2
Value mish(const Value& v);        // x * tanh(softplus(x))
Value softplus(const Value& v);    // log(1 + e^x)
Value softsign(const Value& v);    // x / (1 + |x|)
Value celu(const Value& v, float alpha = 1.0f);
Value thresholded_relu(const Value& v, float alpha = 1.0f);  // x > alpha ? x : 0
// x < -lambd ? x + bias : x > lambd ? x - bias : 0
Value shrink(const Value& v, float bias = 0.0f, float lambd = 0.5f);

// Elementwise math. floor, ceil, round (halves to even) and sign have a zero gradient.
Value abs(const Value& v);
Value log(const Value& v);
Value reciprocal(const Value& v);
Value floor(const Value& v);
Value ceil(const Value& v);
Value round(const Value& v);
Value sign(const Value& v);
Value erf(const Value& v);
Value sin(const Value& v);
Value cos(const Value& v);
Value tan(const Value& v);
Value asin(const Value& v);
Value acos(const Value& v);
Value atan(const Value& v);
Value sinh(const Value& v);
Value cosh(const Value& v);
Value asinh(const Value& v);
Value acosh(const Value& v);
Value atanh(const Value& v);

// Along one axis (negative counts from the end); stable for large inputs.
Value softmax(const Value& v, int axis = -1);
Value log_softmax(const Value& v, int axis = -1);

// Reductions over `axes` (negative counts from the end; empty: every axis). Reduced axes are
// dropped from the shape unless keep_dims, where they stay with extent 1.
Value sum(const Value& v, const std::vector<int>& axes = {}, bool keep_dims = false);
Value mean(const Value& v, const std::vector<int>& axes = {}, bool keep_dims = false);
// The gradient of max and min goes to every element equal to the result; prod's is y / x, which
// needs nonzero elements.
Value reduce_max(const Value& v, const std::vector<int>& axes = {}, bool keep_dims = false);
Value reduce_min(const Value& v, const std::vector<int>& axes = {}, bool keep_dims = false);
Value reduce_prod(const Value& v, const std::vector<int>& axes = {}, bool keep_dims = false);
// The position of the first (or last) largest or smallest element along `axis`, as a float
// holding a whole number; no gradient.
Value argmax(const Value& v, int axis, bool keep_dims = false, bool last = false);
Value argmin(const Value& v, int axis, bool keep_dims = false, bool last = false);
// Positions along `axis`: a tensor of v's rank, extent 1 but on the axis, holding 0, 1, ....
Value positions(const Value& v, int axis);
// The k largest (or smallest) elements along `axis`, in order, and their positions along it (floats
// holding whole numbers). Ties go to the lower position; NaN ranks above every number. values
// has a gradient (to the elements picked), positions none. Each element reads its whole row once
// (a row of n costs n^2 comparisons): meant for rows up to tens of thousands.
struct TopK {
  Value values, positions;
};
TopK top_k(const Value& v, std::int64_t k, int axis = -1, bool largest = true);

// Same elements, new shape; one extent may be -1 and is inferred.
Value reshape(const Value& v, const Shape& shape);
// [d0, ..., dn] -> [d0 * ... * d(axis-1), d(axis) * ... * dn].
Value flatten(const Value& v, int axis = 1);
// The last two dimensions swapped.
Value transpose(const Value& v);
// Dimensions permuted: output dimension i is input dimension perm[i].
Value transpose(const Value& v, const std::vector<int>& perm);

// Mean of squared differences, a scalar.
Value mse_loss(const Value& prediction, const Value& target);
// Mean over the batch of -log softmax(logits)[label]; logits [B, C], labels [B] holding class
// indices as floats. A label outside [0, C) makes the loss NaN.
Value softmax_cross_entropy(const Value& logits, const Value& labels);

// ---- convolution, pooling, normalization ------------------------------------------------------

// Per spatial dimension (1, 2 or 3 of them); an empty vector means strides and dilations of 1 and
// pads of 0.
struct ConvOptions {
  std::vector<std::int64_t> strides;
  std::vector<std::int64_t> pads_begin;
  std::vector<std::int64_t> pads_end;
  std::vector<std::int64_t> dilations;
  std::int64_t groups = 1;  // groups == channels: depthwise
};

// x [N, C, spatial...] (NCW, NCHW or NCDHW) convolved with w [K, C/groups, k...], plus bias [K].
Value conv(const Value& x, const Value& w, const std::optional<Value>& bias = std::nullopt,
           const ConvOptions& options = {});

// Transposed convolution (the gradient of conv with respect to its input, as a layer):
// x [N, C, in...], w [C, M/groups, k...], bias [M] -> [N, M, out...] with
// out = stride (in - 1) + output_padding + dilation (k - 1) + 1 - pads_begin - pads_end.
struct ConvTransposeOptions : ConvOptions {
  std::vector<std::int64_t> output_padding;  // each below its stride or dilation
};
Value conv_transpose(const Value& x, const Value& w,
                     const std::optional<Value>& bias = std::nullopt,
                     const ConvTransposeOptions& options = {});

struct PoolOptions {
  std::vector<std::int64_t> kernel;   // one per spatial dimension
  std::vector<std::int64_t> strides;  // empty: the kernel
  std::vector<std::int64_t> pads_begin;
  std::vector<std::int64_t> pads_end;
  std::vector<std::int64_t> dilations;  // max_pool only; empty: 1s
  bool ceil_mode = false;
  bool count_include_pad = true;  // avg_pool: padding counts in the divisor
};

Value max_pool(const Value& x, const PoolOptions& options);
Value avg_pool(const Value& x, const PoolOptions& options);
// Where each max_pool window's first maximum lies: its offset in x (all of it, [N, C, ...]
// flattened) as a float holding a whole number, -1 for a window over padding only; no gradient.
// x may hold at most 2^24 elements (floats count exactly that far). column_major counts the
// position within its plane in column-major order (ONNX's storage_order 1).
Value max_pool_indices(const Value& x, const PoolOptions& options, bool column_major = false);
// The mean over every spatial position: [N, C, spatial...] -> [N, C, 1...].
Value global_avg_pool(const Value& x);

// Normalizes x [N, C, ...] per channel. Training: batch statistics, and running_mean /
// running_var (Graph::state, [C]) move toward them by momentum (the running variance takes the
// unbiased batch variance); inference: the running statistics.
Value batch_norm(const Value& x, const Value& gamma, const Value& beta, const Value& running_mean,
                 const Value& running_var, float momentum = 0.1f, float eps = 1e-5f);

// Normalizes x over its dimensions from `axis` on (each sample, token, ...), then scales by gamma
// and shifts by beta, both of the normalized dimensions' shape.
Value layer_norm(const Value& x, const Value& gamma,
                 const std::optional<Value>& beta = std::nullopt, int axis = -1, float eps = 1e-5f);
// Normalizes each channel of each sample of x [N, C, spatial...] over its spatial positions, then
// gamma [C] and beta [C].
Value instance_norm(const Value& x, const Value& gamma, const Value& beta, float eps = 1e-5f);
// Normalizes each of `groups` groups of channels of each sample of x [N, C, spatial...] (C / groups
// channels each, with their spatial positions) together, then gamma [C] and beta [C].
Value group_norm(const Value& x, std::int64_t groups, const Value& gamma, const Value& beta,
                 float eps = 1e-5f);

// softmax(q k^T * scale + mask) v for each head: q [batch..., lq, d], k [batch..., lk, d],
// v [batch..., lk, dv] -> [batch..., lq, dv], at most two batch dimensions ([batch, heads]) and
// head sizes up to 256. The mask is added to the scores and broadcasts to [batch..., lq, lk],
// or repeats along the first batch dimension where its extent there divides the batch's (entry
// b reads the mask's b % extent: windows of several images sharing one mask per window);
// -infinity hides a key, and the mask gets no gradient. causal hides the keys after each query (key
// j from query i where j > i). scale defaults to 1 / sqrt(d). A query that sees no key gets zeros.
// One fused kernel per pass: memory grows with the lengths, not with their product.
Value scaled_dot_product_attention(const Value& q, const Value& k, const Value& v,
                                   const std::optional<Value>& mask = std::nullopt,
                                   bool causal = false, std::optional<float> scale = std::nullopt);

// Training: each element is zeroed with probability p and the rest scaled by 1 / (1 - p), from a
// generator seeded by `seed` and the step; inference: the identity.
Value dropout(const Value& x, float p, std::uint64_t seed);

// Joins values along an axis; the other extents must agree.
Value concat(const std::vector<Value>& values, int axis);
// ONNX GatherElements: y has the shape of `indices` (x's rank, no larger than x off the axis), and
// y[c] = x[c with c[axis] replaced by indices[c]]. Indices are floats holding whole numbers,
// negative ones counting from the end; one outside the axis gives NaN. Not differentiable in the
// indices.
Value gather_elements(const Value& x, const Value& indices, int axis);
// Rows of a table [rows, size] picked by indices [...] -> [..., size]: indices are floats holding
// whole numbers (negative ones count from the end; one outside the table gives NaN). Its
// gradient sums into the table rows, the same every run (no atomics); not differentiable in the
// indices.
Value embedding(const Value& table, const Value& indices);
// Parts of `axis` of the given sizes, which must add up to its extent.
std::vector<Value> split(const Value& v, int axis, const std::vector<std::int64_t>& sizes);

// Elements start, start + step, ... before end along each of `axes` (Python's rules: negative
// indices count from the end, out-of-range ones are clamped, a negative step walks backwards);
// other axes stay whole. steps empty: 1s. The result may not be empty.
Value slice(const Value& v, const std::vector<int>& axes, const std::vector<std::int64_t>& starts,
            const std::vector<std::int64_t>& ends, const std::vector<std::int64_t>& steps = {});

// Padding: begin[d] and end[d] elements before and after axis d (negative ones crop). constant
// fills with `value`; reflect mirrors the input without repeating the edge; edge repeats it.
enum class PadMode { constant, reflect, edge };
Value pad(const Value& v, const std::vector<std::int64_t>& begin,
          const std::vector<std::int64_t>& end, PadMode mode = PadMode::constant,
          float value = 0.0f);

// x resized to the shape `out` (ONNX Resize): each output coordinate maps to a source
// coordinate per axis, (o + 0.5) / scale - 0.5 (half_pixel; pytorch_half_pixel the same but 0
// where the output extent is 1), o / scale (asymmetric) or o (in - 1) / (out - 1)
// (align_corners), with scale the axis' entry of `scales` or else out / in. nearest rounds it
// (ties as `rounding` says) and clamps it to the axis; linear interpolates between the indices
// around it, clamped (the edge repeats).
enum class ResizeMode { nearest, linear };
enum class ResizeCoordinates { half_pixel, asymmetric, align_corners, pytorch_half_pixel };
enum class ResizeRounding { round_prefer_floor, round_prefer_ceil, floor, ceil };
struct ResizeOptions {
  ResizeMode mode = ResizeMode::nearest;
  ResizeCoordinates coordinates = ResizeCoordinates::half_pixel;
  ResizeRounding rounding = ResizeRounding::round_prefer_floor;
  std::vector<float> scales;  // one per axis, or empty
};
Value resize(const Value& x, const Shape& out, const ResizeOptions& options = {});

// v broadcast to `shape` (numpy rules, as ONNX Expand: the result may be larger than shape where
// v's extents are), and v repeated repeats[d] times along each axis d.
Value expand(const Value& v, const Shape& shape);
Value tile(const Value& v, const std::vector<std::int64_t>& repeats);

}  // namespace clnn
