// matmul: 2-D and batched 3-D products with optional transposes and an optional bias added to
// every row (a Linear layer's), forward and backward, the products through gemm().
#include <memory>
#include <string>
#include <utility>

#include "clnn/error.hpp"
#include "clnn/ops.hpp"
#include "kernel_codes.h"
#include "ops/common.hpp"
#include "ops/gemm.hpp"
#include "ops/op.hpp"
#include "ops/reduction.hpp"

namespace clnn::detail {

namespace {

// A stored operand: [rows, cols] per batch, batched (3-D) or shared by every batch (2-D).
struct Matrix {
  cl_mem mem;
  std::size_t rows, cols;
  bool batched;
};

Matrix matrix(const Tensor& t) {
  const Shape& s = t.shape();
  if (s.size() == 3) return {mem(t), std::size_t(s[1]), std::size_t(s[2]), true};
  return {mem(t), std::size_t(s[0]), std::size_t(s[1]), false};
}

std::size_t batch_stride(const Matrix& x) {
  return x.batched ? x.rows * x.cols : 0;
}

// The operand of that shape, without storage: what describe() plans with.
Matrix matrix(const Shape& s) {
  if (s.size() == 3) return {nullptr, std::size_t(s[1]), std::size_t(s[2]), true};
  return {nullptr, std::size_t(s[0]), std::size_t(s[1]), false};
}

// The GEMM call of z = op(x) op(y) + beta z over `batch` batches, and how many times it runs
// (once; or, where a shared z sums the batches' products, once a batch at offsets).
std::pair<GemmCall, std::size_t> product_call(const Matrix& x, bool tx, const Matrix& y, bool ty,
                                              const Matrix& z, float beta, std::size_t batch) {
  GemmCall g;
  g.trans_a = tx;
  g.trans_b = ty;
  g.m = tx ? x.cols : x.rows;
  g.k = tx ? x.rows : x.cols;
  g.n = ty ? y.rows : y.cols;
  g.beta = beta;
  g.a = x.mem, g.lda = x.cols, g.stride_a = batch_stride(x);
  g.b = y.mem, g.ldb = y.cols, g.stride_b = batch_stride(y);
  g.c = z.mem, g.ldc = z.cols, g.stride_c = batch_stride(z);
  if (batch == 1) return {g, 1};
  // Consecutive batches of a stored matrix stack into one [batch * rows, cols] matrix, which
  // turns two common cases into a single plain GEMM.
  if (z.batched && x.batched && !y.batched && !tx) {  // shared right operand: stack rows of x, z
    g.m *= batch;
    return {g, 1};
  }
  if (!z.batched && x.batched && y.batched && tx && !ty) {  // sum over batches: stack along k
    g.k *= batch;
    return {g, 1};
  }
  if (z.batched) {
    g.batch = batch;
    return {g, 1};
  }
  return {g, batch};
}

// z = op(x) op(y) + beta z over `batch` batches. A shared z receives the sum over the batches.
void product(ContextImpl& ctx, const Matrix& x, bool tx, const Matrix& y, bool ty, const Matrix& z,
             float beta, std::size_t batch) {
  const auto [g, launches] = product_call(x, tx, y, ty, z, beta, batch);
  if (launches == 1) return gemm(ctx, g);
  // A shared z sums the batches' products: one launch per batch, in queue order.
  for (std::size_t b = 0; b < launches; ++b) {
    GemmCall one = g;
    one.offset_a = b * g.stride_a;
    one.offset_b = b * g.stride_b;
    one.beta = b == 0 ? beta : 1.0f;
    gemm(ctx, one);
  }
}

class MatmulOp : public Op {
 public:
  // Whether the op adds a bias (its third input), and to a product of 2-D operands.
  enum class Bias { none, of_2d, batched };
  MatmulOp(bool ta, bool tb, Bias bias = Bias::none) : ta_(ta), tb_(tb), bias_(bias) {}
  std::string type() const override { return "matmul"; }
  bool maps_rows(std::size_t input, const std::vector<Shape>& in) const override {
    return input == 0 && !ta_ && in[0].size() == 2 && in[1].size() == 2;
  }

  Shape infer_shape(const std::vector<Shape>& in) const override {
    const Shape &a = in[0], &b = in[1];
    if (a.size() < 2 || a.size() > 3 || b.size() < 2 || b.size() > 3)
      throw ShapeError(shape_mismatch("matmul", "operands must be 2-D or 3-D", a, b));
    const auto ra = a.size(), rb = b.size();
    std::int64_t m = ta_ ? a[ra - 1] : a[ra - 2], ka = ta_ ? a[ra - 2] : a[ra - 1];
    std::int64_t kb = tb_ ? b[rb - 1] : b[rb - 2], n = tb_ ? b[rb - 2] : b[rb - 1];
    if (ka != kb) throw ShapeError(shape_mismatch("matmul", "inner dimensions differ", a, b));
    if (ra == 3 && rb == 3 && a[0] != b[0])
      throw ShapeError(shape_mismatch("matmul", "batch sizes differ", a, b));
    if (in.size() == 3 && in[2] != Shape{n})
      throw ShapeError("matmul: a bias of shape " + clnn::to_string(in[2]) + " for " +
                       std::to_string(n) + " columns");
    if (ra == 3) return {a[0], m, n};
    if (rb == 3) return {b[0], m, n};
    return {m, n};
  }

  // The bias joins the product's sums in its kernel where the product runs on one that adds it
  // (ops/gemm.hpp's col_bias), else in a pass of its own: vit_b_16's bias adds had taken 6% of a
  // batch-32 step on the H100. An activation folded in (relu, GELU) is applied after it, in the
  // kernel where it takes one (gemm_cpu, the slices' sum), else in a pass of its own.
  // Accumulating (a residual add folded in), the product adds to what the output holds.
  void forward(const ForwardArgs& args) const override {
    // Rows moved by an executor (maps_rows): A given as the buffer its rows lie in, in that order.
    const bool as_rows = args.views && !args.views->inputs.empty() && args.views->inputs[0];
    Matrix a = as_rows ? matrix(args.views->inputs[0]->shape) : matrix(*args.inputs[0]);
    a.mem = mem(*args.inputs[0]);
    const Matrix b = matrix(*args.inputs[1]), c = matrix(args.output);
    const float beta = args.accumulate ? 1.0f : 0.0f;
    // One launch: the output is batched wherever an operand is.
    GemmCall call = product_call(a, ta_, b, tb_, c, beta, batch(args.output)).first;
    const Tensor* bias = args.inputs.size() > 2 ? args.inputs[2] : nullptr;
    if (bias) call.col_bias = mem(*bias);
    call.finish = args.epilogue;
    const GemmFinished done = gemm_finishing_columns(args.ctx, call);
    if (!done.bias)  // the bias's pass applies the activation too
      binary_repeated(args.ctx, args.output, *bias, args.output, BIN_ADD, args.epilogue);
    else if (!done.finish)
      apply_epilogue(args.ctx, args.output, args.epilogue);
  }
  bool takes_accumulation() const override { return true; }
  bool takes_epilogue(const Epilogue&) const override { return true; }
  // A relu folded in: the executor masks the output's gradient where the output is 0, in place,
  // before backward (as a convolution's).
  EpilogueBackward backward_with_epilogue(const Epilogue& e) const override {
    return e.masks_from_output() ? EpilogueBackward::from_output : EpilogueBackward::refused;
  }

  void backward(const BackwardArgs& args) const override {
    const Matrix a = matrix(*args.inputs[0]), b = matrix(*args.inputs[1]);
    const Matrix dc = matrix(args.grad_output);
    const std::size_t n = batch(args.output);
    if (Tensor* ga = args.grad_inputs[0]) {
      const Operands p = gradient_of_a(b, dc);
      product(args.ctx, p.x, p.tx, p.y, p.ty, matrix(*ga), args.betas[0], n);
    }
    if (Tensor* gb = args.grad_inputs[1]) {
      const Operands p = gradient_of_b(a, dc);
      product(args.ctx, p.x, p.tx, p.y, p.ty, matrix(*gb), args.betas[1], n);
    }
    Tensor* gbias = args.grad_inputs.size() > 2 ? args.grad_inputs[2] : nullptr;
    if (gbias && gbias->size() > 0) {
      // The bias's gradient sums the output's gradient over its rows, of every batch.
      const std::size_t columns = dc.cols;
      reduce_middle(args.ctx, args.grad_output, nullptr, *gbias,
                    {1, std::size_t(args.grad_output.size()) / columns, columns}, 1.0f,
                    args.betas[2]);
    }
  }

  // The backend and plan of each product: "own vec4 ..."; backward "a: ...; b: ...".
  std::string describe(const DescribeArgs& args) const override {
    const Matrix a = matrix(args.inputs[0]), b = matrix(args.inputs[1]), c = matrix(args.output);
    const std::size_t n = args.output.size() == 3 ? std::size_t(args.output[0]) : 1;
    auto plan = [&](const Operands& p, const Matrix& z) {
      return describe_gemm(args.ctx, product_call(p.x, p.tx, p.y, p.ty, z, 0.0f, n).first);
    };
    if (args.pass == Pass::forward) {
      std::string out = plan({a, ta_, b, tb_}, c);
      const bool bias = args.inputs.size() > 2;
      if (!bias && !args.epilogue.on) return out;
      GemmCall call = product_call(a, ta_, b, tb_, c, 0.0f, n).first;
      call.finish = args.epilogue;
      const GemmFinished done = gemm_finishes_columns(args.ctx, call, bias);
      auto place = [](bool in_kernel) { return in_kernel ? " in its stores" : " in a pass after"; };
      if (bias && args.epilogue.on && done.bias == done.finish)
        return out + ", bias and activation" + place(done.bias);
      if (bias) out += std::string(", bias") + place(done.bias);
      if (args.epilogue.on) out += std::string(", activation") + place(done.finish);
      return out;
    }
    std::string out;
    if (args.wanted.size() > 0 && args.wanted[0]) out = "a: " + plan(gradient_of_a(b, c), a);
    if (args.wanted.size() > 1 && args.wanted[1])
      out += (out.empty() ? "b: " : "; b: ") + plan(gradient_of_b(a, c), b);
    return out;
  }

  // 2·M·N·K per product forward; each wanted gradient is a product of the same size.
  Cost cost(const CostArgs& args) const override {
    Cost c = Op::cost(args);
    const Shape& a = args.inputs[0];
    const double k = double(ta_ ? a[a.size() - 2] : a[a.size() - 1]);
    const double product = 2.0 * double(element_count(args.output)) * k;
    c.flops = args.pass == Pass::forward
                  ? product
                  : product * double(int(args.wants(0)) + int(args.wants(1)));
    return c;
  }

  bool to_onnx(OnnxNode& node) const override {
    if (bias_ == Bias::of_2d) {  // Gemm: 2-D products, C broadcast over the rows
      node.op_type = "Gemm";
      if (ta_) node.ints["transA"] = 1;
      if (tb_) node.ints["transB"] = 1;
      return true;
    }
    if (ta_ || tb_ || bias_ != Bias::none) return false;  // would need Transpose or Add nodes
    node.op_type = "MatMul";
    return true;
  }

 private:
  static std::size_t batch(const Tensor& out) {
    return out.shape().size() == 3 ? std::size_t(out.shape()[0]) : 1;
  }
  // The operands of each gradient's product from the other operand and dc, the output's
  // gradient: da = dc op(b)^T (or its transpose), db = op(a)^T dc (or its transpose).
  struct Operands {
    Matrix x;
    bool tx;
    Matrix y;
    bool ty;
  };
  Operands gradient_of_a(const Matrix& b, const Matrix& dc) const {
    return ta_ ? Operands{b, tb_, dc, true} : Operands{dc, false, b, !tb_};
  }
  Operands gradient_of_b(const Matrix& a, const Matrix& dc) const {
    return tb_ ? Operands{dc, true, a, ta_} : Operands{a, !ta_, dc, false};
  }
  bool ta_, tb_;
  Bias bias_;
};

}  // namespace

}  // namespace clnn::detail

namespace clnn {

Value matmul(const Value& a, const Value& b, bool transpose_a, bool transpose_b) {
  return GraphAccess::add(std::make_shared<detail::MatmulOp>(transpose_a, transpose_b), {a, b});
}

Value matmul(const Value& a, const Value& b, const Value& bias, bool transpose_a,
             bool transpose_b) {
  using Op = detail::MatmulOp;
  const bool plain = a.shape().size() == 2 && b.shape().size() == 2;
  return GraphAccess::add(
      std::make_shared<Op>(transpose_a, transpose_b, plain ? Op::Bias::of_2d : Op::Bias::batched),
      {a, b, bias});
}

}  // namespace clnn
