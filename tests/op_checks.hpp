// OpChecks that more than one test file runs (test_pool, test_ops and the Oclgrind run): shape
// operators, permutations, reductions, pooling, top_k, batch norm and mean-squared error against
// their references.
#pragma once

#include "op_harness.hpp"
#include "reference/conv.hpp"
#include "reference/norm.hpp"
#include "reference/window.hpp"

namespace clnn::test {

// An operator that passes its one input through unchanged (reshape, flatten, a permutation
// the caller undoes...): the output equals the input and so does the gradient.
inline OpCheck identity_check(Shape in, std::function<Value(const Value&)> build) {
  OpCheck c;
  c.shapes = {in};
  c.build = [build](const std::vector<Value>& v) { return build(v[0]); };
  c.forward = [](const std::vector<Vec>& x) { return x[0]; };
  c.backward = [](const std::vector<Vec>&, const Vec& g) { return std::vector<Vec>{g}; };
  return c;
}

// transpose(x, perm) against the reference permutation; the gradient is permuted back.
inline OpCheck permute_check(const Shape& shape, const std::vector<int>& perm) {
  std::vector<int> inverse(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) inverse[std::size_t(perm[i])] = int(i);
  Shape out_shape;
  for (int p : perm) out_shape.push_back(shape[std::size_t(p)]);
  OpCheck c;
  c.shapes = {shape};
  c.build = [perm](const std::vector<Value>& v) { return transpose(v[0], perm); };
  c.forward = [shape, perm](const std::vector<Vec>& x) {
    return reference::permute(x[0], shape, perm);
  };
  c.backward = [out_shape, inverse](const std::vector<Vec>&, const Vec& g) {
    return std::vector<Vec>{reference::permute(g, out_shape, inverse)};
  };
  return c;
}

// sum (or mean) of x over `axes` (all when empty), keeping the reduced axes as 1s or not.
inline OpCheck reduce_check(Shape shape, std::vector<int> axes, bool keep, bool use_mean) {
  std::vector<bool> reduced(shape.size(), axes.empty());
  for (int a : axes) reduced[std::size_t(a < 0 ? a + int(shape.size()) : a)] = true;
  double count = 1;
  for (std::size_t d = 0; d < reduced.size(); ++d)
    if (reduced[d]) count *= double(shape[d]);
  OpCheck c;
  c.shapes = {shape};
  c.build = [=](const std::vector<Value>& v) {
    return use_mean ? mean(v[0], axes, keep) : sum(v[0], axes, keep);
  };
  c.forward = [=](const std::vector<Vec>& x) {
    Shape out;
    Vec y = reference::sum_axes(x[0], shape, reduced, out);
    if (use_mean)
      for (auto& e : y) e /= count;
    return y;
  };
  c.backward = [=](const std::vector<Vec>& x, const Vec& g) {
    // Each input element receives the gradient of the output it was summed into.
    Vec gx(x[0].size());
    for (std::size_t i = 0; i < gx.size(); ++i) {
      Vec onehot(x[0].size(), 0.0);
      onehot[i] = 1.0;
      Shape out;
      gx[i] = reference::dot(reference::sum_axes(onehot, shape, reduced, out), g);
      if (use_mean) gx[i] /= count;
    }
    return std::vector<Vec>{gx};
  };
  return c;
}

// max_pool or avg_pool of x [N, C, spatial...] with options o.
inline OpCheck pool_check(bool is_max, Shape x, PoolOptions o) {
  reference::Geometry g(x, o.kernel, o.strides.empty() ? o.kernel : o.strides, o.pads_begin,
                        o.pads_end, o.dilations, o.ceil_mode);
  const bool include = o.count_include_pad;
  OpCheck c;
  c.shapes = {x};
  c.build = [=](const std::vector<Value>& v) {
    return is_max ? max_pool(v[0], o) : avg_pool(v[0], o);
  };
  c.forward = [=](const std::vector<Vec>& in) {
    return is_max ? reference::max_pool(g, in[0]) : reference::avg_pool(g, in[0], include);
  };
  c.backward = [=](const std::vector<Vec>& in, const Vec& gy) {
    return std::vector<Vec>{is_max ? reference::max_pool_backward(g, in[0], gy)
                                   : reference::avg_pool_backward(g, in[0], gy, include)};
  };
  return c;
}

// Few distinct values (whole numbers in [-3, 3)): ties are certain, and order must break them.
inline std::vector<float> tied_values(std::size_t, std::size_t n, std::uint32_t seed) {
  auto v = random_vector(n, seed);
  for (auto& e : v) e = std::floor(e * 3.0f);
  return v;
}

// max_pool_indices of x, with ties: each window's first maximum must win.
inline OpCheck max_pool_indices_check(Shape x, PoolOptions o, bool column_major) {
  reference::Geometry g(x, o.kernel, o.strides.empty() ? o.kernel : o.strides, o.pads_begin,
                        o.pads_end, o.dilations, o.ceil_mode);
  OpCheck c;
  c.shapes = {x};
  c.differentiable = {false};
  c.make = tied_values;
  c.build = [=](const std::vector<Value>& v) { return max_pool_indices(v[0], o, column_major); };
  c.forward = [=](const std::vector<Vec>& in) {
    return reference::max_pool_indices(g, in[0], column_major);
  };
  c.backward = [](const std::vector<Vec>&, const Vec&) { return std::vector<Vec>{{}}; };
  return c;
}

// top_k's positions along `axis` of x, with ties (to the lower position).
inline OpCheck top_k_positions_check(Shape x, std::int64_t k, int axis, bool largest) {
  const std::size_t a = std::size_t(axis < 0 ? axis + int(x.size()) : axis);
  OpCheck c;
  c.shapes = {x};
  c.differentiable = {false};
  c.make = tied_values;
  c.build = [=](const std::vector<Value>& v) { return top_k(v[0], k, axis, largest).positions; };
  c.forward = [=](const std::vector<Vec>& in) {
    return reference::top_k_positions(in[0], x, a, k, largest);
  };
  c.backward = [](const std::vector<Vec>&, const Vec&) { return std::vector<Vec>{{}}; };
  return c;
}

// mse_loss of a prediction and a target of one shape.
inline OpCheck mse_check(const Shape& shape) {
  OpCheck c;
  c.shapes = {shape, shape};
  c.build = [](const std::vector<Value>& v) { return mse_loss(v[0], v[1]); };
  c.forward = [](const std::vector<Vec>& x) { return Vec{reference::mse(x[0], x[1])}; };
  c.backward = [](const std::vector<Vec>& x, const Vec& g) {
    Vec gp(x[0].size()), gt(x[0].size());
    for (std::size_t i = 0; i < gp.size(); ++i) {
      gp[i] = g[0] * 2 * (x[0][i] - x[1][i]) / double(gp.size());
      gt[i] = -gp[i];
    }
    return std::vector<Vec>{gp, gt};
  };
  return c;
}

// batch_norm in training over x [N, C, spatial...] against reference/norm.hpp: x, gamma and
// beta differentiable, the running statistics graph state (the variance 1), values in [-2, 2].
inline OpCheck batch_norm_check(const Shape& x) {
  const long n = long(x[0]), c_ = long(x[1]);
  const long s = long(reference::numel(x)) / (n * c_);
  OpCheck c;
  c.shapes = {x, {x[1]}, {x[1]}, {x[1]}, {x[1]}};
  c.differentiable = {true, true, true, false, false};
  c.state = {false, false, false, true, true};
  c.inference_matches = false;
  c.make = [](std::size_t i, std::size_t count, std::uint32_t seed) {
    return i == 4 ? std::vector<float>(count, 1.0f) : random_vector(count, seed, -2.0f, 2.0f);
  };
  c.build = [](const std::vector<Value>& v) { return batch_norm(v[0], v[1], v[2], v[3], v[4]); };
  c.forward = [=](const std::vector<Vec>& in) {
    return reference::batch_norm_training(in, n, c_, s);
  };
  c.backward = [=](const std::vector<Vec>& in, const Vec& gy) {
    return reference::batch_norm_training_backward(in, gy, n, c_, s);
  };
  return c;
}

}  // namespace clnn::test
