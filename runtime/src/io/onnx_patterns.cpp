#include "io/onnx_patterns.hpp"

namespace clnn::onnx::detail {

std::optional<float> known_scalar(ValueSource& source, const std::string& name) {
  const HostTensor* t = source.constant(name);
  if (!t || !t->is_float() || t->floats.size() != 1) return std::nullopt;
  return t->floats[0];
}

const ::onnx::NodeProto* produced_by(ValueSource& source, const std::string& name,
                                     const std::string& op) {
  const ::onnx::NodeProto* p = source.producer(name);
  const bool default_domain = p && (p->domain().empty() || p->domain() == "ai.onnx");
  return default_domain && p->op_type() == op ? p : nullptr;
}

std::string unscaled(ValueSource& source, const std::string& name, float& factor) {
  const ::onnx::NodeProto* mul = produced_by(source, name, "Mul");
  if (!mul || mul->input_size() != 2) return name;
  for (int i = 0; i < 2; ++i)
    if (auto s = known_scalar(source, mul->input(i))) {
      factor *= *s;
      return mul->input(1 - i);
    }
  return name;
}

}  // namespace clnn::onnx::detail
