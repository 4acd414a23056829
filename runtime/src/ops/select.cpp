// top_k: a kernel finds the positions of the k largest (or smallest) elements along an axis
// (cl_kernels/select.cl); the values are gathered at them, which gives them their gradient.
#include <memory>

#include "cl/kernel_call.hpp"
#include "clnn/ops.hpp"
#include "context_impl.hpp"
#include "ops/common.hpp"
#include "ops/op.hpp"
#include "ops/shape_util.hpp"

namespace clnn::detail {

namespace {

// Floats hold positions exactly below 2^24.
constexpr std::int64_t kMaxExactPosition = std::int64_t{1} << 24;

class TopKPositionsOp : public Op {
 public:
  TopKPositionsOp(std::int64_t k, int axis, bool largest) : k_(k), axis_(axis), largest_(largest) {}
  std::string type() const override { return "top_k"; }

  Shape infer_shape(const std::vector<Shape>& in) const override {
    Shape out = in[0];
    const std::size_t axis = normalize_axis(axis_, out.size(), type());
    if (k_ < 1 || k_ > out[axis])
      throw ShapeError(type() + ": k = " + std::to_string(k_) + " is outside 1 to the extent " +
                       std::to_string(out[axis]) + " of axis " + std::to_string(axis_) + " of " +
                       to_string(in[0]));
    if (out[axis] > kMaxExactPosition)
      throw ShapeError(type() + ": axis " + std::to_string(axis_) + " of " + to_string(in[0]) +
                       " is longer than floats index exactly (2^24)");
    out[axis] = k_;
    return out;
  }

  void forward(const ForwardArgs& args) const override {
    const Tensor& x = *args.inputs[0];
    const Shape& s = x.shape();
    const std::size_t axis = normalize_axis(axis_, s.size(), type());
    std::int64_t inner = 1;
    for (std::size_t d = axis + 1; d < s.size(); ++d) inner *= s[d];
    cl_kernel k = args.ctx.kernel("select", "top_k_positions");
    set_args(k, mem(x), mem(args.output), count(x), cl_long(s[axis]), cl_long(inner), cl_long(k_),
             cl_int(largest_ ? 1 : 0));
    args.ctx.enqueue_elementwise(k, std::size_t(x.size()));
  }

  // ONNX's TopK gives the values and then the positions (int64).
  bool to_onnx(OnnxNode& node) const override {
    node.op_type = "TopK";
    node.ints["axis"] = axis_;
    node.ints["largest"] = largest_ ? 1 : 0;
    node.ints["sorted"] = 1;
    node.int_inputs = {{k_}};
    node.output = 1;
    node.index_output = true;
    return true;
  }

  void backward(const BackwardArgs&) const override {}
  bool differentiable(std::size_t) const override { return false; }

  // Each element compares itself with its row (up to k of it when it ranks high).
  Cost cost(const CostArgs& args) const override {
    Cost c = Op::cost(args);
    const Shape& s = args.inputs[0];
    c.flops = double(element_count(s)) * double(s[normalize_axis(axis_, s.size(), type())]);
    return c;
  }

 private:
  std::int64_t k_;
  int axis_;
  bool largest_;
};

}  // namespace

}  // namespace clnn::detail

namespace clnn {

TopK top_k(const Value& v, std::int64_t k, int axis, bool largest) {
  const Value positions =
      GraphAccess::add(std::make_shared<detail::TopKPositionsOp>(k, axis, largest), {v});
  return {gather_elements(v, positions, axis), positions};
}

}  // namespace clnn
