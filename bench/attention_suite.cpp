// The attention suite: scaled_dot_product_attention in fp32 at [batch, heads, length, head size]
// (default 32 x 8 x 512 x 64, plain and causal), forward alone and forward + backward, against
// PyTorch's scaled_dot_product_attention (bench/compare/torch_attention.py, run in the same call).
// The backward step starts from a given output gradient R: the graph's loss is sum(out * R),
// whose own backward is one elementwise pass.
#include <fmt/format.h>

#include "bench.hpp"
#include "clnn/clnn.hpp"

namespace clnn::bench {

std::vector<Record> attention_suite(const Context& ctx, const Options& options) {
  const std::vector<std::int64_t> lengths =
      options.sizes.empty() ? std::vector<std::int64_t>{512} : options.sizes;
  const std::int64_t batch = 32, heads = 8, head_size = 64;
  std::vector<Record> records;
  for (const std::int64_t length : lengths)
    for (const bool causal : {false, true}) {
      const Shape shape{batch, heads, length, head_size};
      Graph g;
      const Value q = g.parameter("q", shape, init::uniform(-0.5f, 0.5f, 1));
      const Value k = g.parameter("k", shape, init::uniform(-0.5f, 0.5f, 2));
      const Value v = g.parameter("v", shape, init::uniform(-0.5f, 0.5f, 3));
      const Value out = scaled_dot_product_attention(q, k, v, std::nullopt, causal);
      const Value loss = sum(mul(out, g.input("R", shape)));
      Executor ex(ctx, g, {loss}, Mode::training);
      ex.set_input("R", pseudo_random(std::size_t(element_count(shape)), 7));
      const double forward = median_seconds(ctx, [&] { ex.forward(); });
      const double step = median_seconds(ctx, [&] {
        ex.forward();
        ex.backward(loss);
      });
      // The products' work: forward q k^T and p v; backward five products of the same size.
      const double pairs =
          double(batch * heads) * double(length) * double(length) * (causal ? 0.5 : 1.0);
      const double flops = 4.0 * pairs * double(head_size);
      Record r;
      r["batch"] = batch;
      r["heads"] = heads;
      r["length"] = length;
      r["head_size"] = head_size;
      r["causal"] = causal;
      r["forward_ms"] = forward * 1e3;
      r["step_ms"] = step * 1e3;
      r["forward_tflops"] = flops / forward * 1e-12;
      r["step_tflops"] = 3.5 * flops / step * 1e-12;
      fmt::print("{}x{}x{}x{}{}: forward {:.3f} ms ({:.1f} TFLOP/s), forward+backward {:.3f} ms\n",
                 batch, heads, length, head_size, causal ? " causal" : "", forward * 1e3,
                 double(r["forward_tflops"]), step * 1e3);
      records.push_back(r);
    }
  return records;
}

}  // namespace clnn::bench
