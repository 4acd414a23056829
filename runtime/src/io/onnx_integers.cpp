// Where integers computed at run time may flow (io/onnx_integers.hpp).
#include "io/onnx_integers.hpp"

#include <onnx/onnx_pb.h>

#include <set>

namespace clnn::onnx::detail {

namespace {

// Operators that move or repeat their data (input 0) and keep its type.
const std::set<std::string> kMovers{"Reshape", "Unsqueeze", "Squeeze", "Flatten", "Identity",
                                    "Expand",  "Transpose", "Slice",   "Tile",    "Split"};
// Operators whose integer results equal their float ones (exact below 2^24).
const std::set<std::string> kExact{"Concat", "Add", "Sub", "Mul", "Neg",
                                   "Abs",    "Min", "Max", "Sum", "Where"};
// Comparisons (their results are booleans: floats holding 0 and 1), and the operators that read
// only a shape.
const std::set<std::string> kReaders{"Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual",
                                     "Shape", "Size", "CastLike",    "Cast"};

bool integer_type(std::int64_t type) {
  return type == ::onnx::TensorProto::INT64 || type == ::onnx::TensorProto::INT32;
}

}  // namespace

bool takes_run_time_integers(const Node& n, int input) {
  const std::string& op = n.proto().op_type();
  if (op == "Gather" || op == "GatherElements") return input == 1;  // indices
  if (kMovers.count(op)) return input == 0;
  return kExact.count(op) || kReaders.count(op);
}

bool gives_integers(const Node& n, int output, bool read_integers) {
  const std::string& op = n.proto().op_type();
  if (op == "Cast") return integer_type(n.integer("to", 0, 0, std::int64_t{1} << 20));
  if (op == "ArgMax" || op == "ArgMin") return true;
  if (op == "TopK" || op == "MaxPool") return output == 1;  // positions
  return read_integers && (kMovers.count(op) || kExact.count(op));
}

}  // namespace clnn::onnx::detail
