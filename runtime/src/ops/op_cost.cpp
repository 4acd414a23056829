// The Op contract's default cost model (ops/op.hpp).
#include <algorithm>

#include "ops/op.hpp"

namespace clnn::detail {

Cost Op::cost(const CostArgs& args) const {
  Cost c;
  double largest = double(element_count(args.output));
  for (const Shape& s : args.inputs) largest = std::max(largest, double(element_count(s)));
  c.flops = largest;
  if (args.pass == Pass::forward) {
    for (const Shape& s : args.inputs) c.bytes += float_bytes(s);
    c.bytes += float_bytes(args.output);
    return c;
  }
  const Needs needs = backward_needs();
  c.bytes = float_bytes(args.output);  // its gradient
  if (needs.output) c.bytes += float_bytes(args.output);
  for (std::size_t i = 0; i < args.inputs.size(); ++i) {
    if (needs.inputs) c.bytes += float_bytes(args.inputs[i]);
    if (args.wants(i)) c.bytes += float_bytes(args.inputs[i]);
  }
  return c;
}

}  // namespace clnn::detail
