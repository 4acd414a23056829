// reshape and flatten (views of the same buffer) and transpose (a permuting copy).
#include <algorithm>
#include <memory>
#include <numeric>

#include "checked_int.hpp"
#include "cl/kernel_call.hpp"
#include "clnn/ops.hpp"
#include "context_impl.hpp"
#include "ops/common.hpp"
#include "ops/op.hpp"
#include "ops/permute.hpp"
#include "ops/shape_util.hpp"

namespace clnn::detail {

namespace {

class ReshapeOp : public Op {
 public:
  ReshapeOp(Shape target, std::string name) : target_(std::move(target)), name_(std::move(name)) {}
  std::string type() const override { return name_; }

  Shape infer_shape(const std::vector<Shape>& in) const override {
    const std::int64_t total = element_count(in[0], name_);
    Shape out = target_;
    CheckedInt known = 1;
    int inferred = -1;
    for (std::size_t d = 0; d < out.size(); ++d) {
      if (out[d] == -1 && inferred < 0) {
        inferred = static_cast<int>(d);
      } else if (out[d] <= 0) {
        throw ShapeError(shape_mismatch(name_, "bad target extent", in[0], target_));
      } else {
        known = known * out[d];
      }
    }
    if (inferred >= 0) {
      if (total % known.value() != 0)
        throw ShapeError(shape_mismatch(name_, "cannot infer the -1 extent", in[0], target_));
      out[static_cast<std::size_t>(inferred)] = total / known.value();
    }
    if (element_count(out, name_) != total)
      throw ShapeError(shape_mismatch(name_, "element counts differ", in[0], target_));
    return out;
  }

  void forward(const ForwardArgs&) const override {}  // the output is a view of the input
  void backward(const BackwardArgs& args) const override {
    if (Tensor* gx = args.grad_inputs[0])
      axpby(args.ctx, 1.0f, args.grad_output, args.betas[0], *gx, std::size_t(gx->size()));
  }
  Needs backward_needs() const override { return {false, false}; }
  bool aliases_input() const override { return true; }
  bool view_of_input(StridedView& view) const override { return view.reshape(target_shape(view)); }
  bool input_view_of_output(StridedView& view, const Shape& input) const override {
    return view.reshape(input);
  }
  bool to_onnx(OnnxNode& node) const override {
    node.op_type = "Reshape";
    node.int_inputs = {target_};
    return true;
  }

 private:
  // The output's shape for an input the view's.
  Shape target_shape(const StridedView& view) const { return infer_shape({view.shape()}); }

  Shape target_;
  std::string name_;
};

constexpr std::size_t kMaxPermuteRank = 8;

class TransposeOp : public Op {
 public:
  explicit TransposeOp(std::vector<int> perm) : perm_(std::move(perm)) {}
  std::string type() const override { return "transpose"; }

  Shape infer_shape(const std::vector<Shape>& in) const override {
    const Shape& x = in[0];
    std::vector<int> sorted = perm_;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int> identity(x.size());
    std::iota(identity.begin(), identity.end(), 0);
    if (sorted != identity)
      throw ShapeError("transpose: the permutation does not fit a tensor of shape " + to_string(x));
    if (x.size() > kMaxPermuteRank)
      throw ShapeError("transpose: rank " + std::to_string(x.size()) + " is above 8");
    Shape out;
    for (int p : perm_) out.push_back(x[std::size_t(p)]);
    return out;
  }

  void forward(const ForwardArgs& args) const override {
    auto strides = row_major_strides(args.inputs[0]->shape());
    std::vector<std::int64_t> permuted;
    for (int p : perm_) permuted.push_back(strides[std::size_t(p)]);
    permute(args.ctx, *args.inputs[0], args.output, args.output.shape(), permuted, 0.0f);
  }

  void backward(const BackwardArgs& args) const override {
    Tensor* gx = args.grad_inputs[0];
    if (!gx) return;
    // Input dimension perm[i] is output dimension i: read gy through the inverse permutation.
    auto gy_strides = row_major_strides(args.grad_output.shape());
    std::vector<std::int64_t> strides(perm_.size());
    for (std::size_t i = 0; i < perm_.size(); ++i) strides[std::size_t(perm_[i])] = gy_strides[i];
    permute(args.ctx, args.grad_output, *gx, gx->shape(), strides, args.betas[0]);
  }

  Needs backward_needs() const override { return {false, false}; }
  bool view_of_input(StridedView& view) const override { return view.permute(perm_); }
  bool input_view_of_output(StridedView& view, const Shape&) const override {
    std::vector<int> inverse(perm_.size());
    for (std::size_t i = 0; i < perm_.size(); ++i) inverse[std::size_t(perm_[i])] = int(i);
    return view.permute(inverse);
  }
  bool to_onnx(OnnxNode& node) const override {
    node.op_type = "Transpose";
    node.int_lists["perm"] = std::vector<std::int64_t>(perm_.begin(), perm_.end());
    return true;
  }

 private:
  std::vector<int> perm_;
};

class ConcatOp : public Op {
 public:
  explicit ConcatOp(int axis) : axis_(axis) {}
  std::string type() const override { return "concat"; }

  Shape infer_shape(const std::vector<Shape>& in) const override {
    const std::size_t axis = normalize_axis(axis_, in[0].size(), type());
    Shape out = in[0];
    CheckedInt extent = 0;
    for (const Shape& s : in) {
      Shape a = s, b = in[0];
      if (a.size() != b.size())
        throw ShapeError(shape_mismatch(type(), "operands differ in rank", in[0], s));
      a[axis] = b[axis] = 0;
      if (a != b)
        throw ShapeError(shape_mismatch(type(), "operands differ off the concat axis", in[0], s));
      extent = extent + s[axis];
    }
    out[axis] = extent.value();
    return out;
  }

  // The operands two at a time, one launch a pair.
  void forward(const ForwardArgs& args) const override {
    struct Block {
      const Tensor* part;
      MiddleAxis v;
      std::size_t at;
    };
    std::vector<Block> blocks;
    std::size_t total = 0;
    for_each_block(args.output.shape(), args.inputs,
                   [&](const Tensor& part, MiddleAxis v, std::size_t extent, std::size_t at) {
                     blocks.push_back({&part, v, at});
                     total = extent;
                   });
    for (std::size_t i = 0; i < blocks.size(); i += 2) {
      const Block& a = blocks[i];
      if (i + 1 == blocks.size()) {
        copy_block(args.ctx, *a.part, a.v.r, 0, args.output, total, a.at, a.v, 0.0f);
        break;
      }
      const Block& b = blocks[i + 1];
      cl_kernel k = args.ctx.kernel("elementwise", "copy_two_blocks");
      set_args(k, mem(*a.part), cl_ulong(a.v.r), mem(*b.part), cl_ulong(b.v.r), mem(args.output),
               cl_ulong(total), cl_ulong(a.at), cl_ulong(a.v.outer), cl_ulong(a.v.inner));
      args.ctx.enqueue_elementwise(k, a.v.outer * (a.v.r + b.v.r) * a.v.inner);
    }
  }

  void backward(const BackwardArgs& args) const override {
    std::size_t i = 0;
    for_each_block(args.output.shape(), args.inputs,
                   [&](const Tensor&, MiddleAxis v, std::size_t total, std::size_t at) {
                     if (Tensor* g = args.grad_inputs[i])
                       copy_block(args.ctx, args.grad_output, total, at, *g, v.r, 0, v,
                                  args.betas[i]);
                     ++i;
                   });
  }

  Needs backward_needs() const override { return {false, false}; }
  bool joins_channels(std::size_t rank) const override {
    return normalize_axis(axis_, rank, type()) == 1;
  }
  bool to_onnx(OnnxNode& node) const override {
    node.op_type = "Concat";
    node.ints["axis"] = axis_;
    return true;
  }

 private:
  // Calls f(input, its [outer, r, inner] view, the output's extent on the axis, its offset there).
  template <typename F>
  void for_each_block(const Shape& out, const std::vector<const Tensor*>& inputs, F f) const {
    const std::size_t axis = normalize_axis(axis_, out.size(), type());
    const std::size_t total = std::size_t(out[axis]);
    std::size_t at = 0;
    for (const Tensor* t : inputs) {
      MiddleAxis v = middle_axis(t->shape(), axis, axis + 1);
      f(*t, v, total, at);
      at += v.r;
    }
  }

  int axis_;
};

}  // namespace

}  // namespace clnn::detail

namespace clnn {

Value concat(const std::vector<Value>& values, int axis) {
  return GraphAccess::add(std::make_shared<detail::ConcatOp>(axis), values);
}

Value reshape(const Value& v, const Shape& shape) {
  return GraphAccess::add(std::make_shared<detail::ReshapeOp>(shape, "reshape"), {v});
}

Value flatten(const Value& v, int axis) {
  const Shape& s = v.shape();
  // axis may equal the rank (everything goes to the first dimension).
  const long rank = long(s.size());
  const long a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a > rank)
    throw ShapeError("flatten: axis " + std::to_string(axis) + " is out of range for shape " +
                     to_string(s));
  std::int64_t outer = 1, inner = 1;
  for (long d = 0; d < rank; ++d) (d < a ? outer : inner) *= s[std::size_t(d)];
  return GraphAccess::add(std::make_shared<detail::ReshapeOp>(Shape{outer, inner}, "flatten"), {v});
}

Value transpose(const Value& v) {
  const std::size_t rank = v.shape().size();
  if (rank < 2)
    throw ShapeError("transpose: shape " + to_string(v.shape()) + " has no two axes to swap");
  std::vector<int> perm(rank);
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[rank - 1], perm[rank - 2]);
  return transpose(v, perm);
}

Value transpose(const Value& v, const std::vector<int>& perm) {
  return GraphAccess::add(std::make_shared<detail::TransposeOp>(perm), {v});
}

}  // namespace clnn
