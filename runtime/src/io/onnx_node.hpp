// Internal: one ONNX node as the importer's converters read it. Every input, attribute and
// constant goes through a checked accessor (presence, type, length, range) before it is used,
// and every error names the node: the converters themselves never index a raw protobuf field.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "clnn/graph.hpp"
#include "io/onnx_tensor.hpp"
#include "ops/spatial.hpp"

namespace clnn::onnx::detail {

using clnn::detail::kMaxWindowValue;

// The newest opset clnn imports. Each operator's converter follows the changes of its versions up
// to this one (most from 18 on added element types clnn does not have).
constexpr std::int64_t kMaxOpset = 23;
using Ints = std::vector<std::int64_t>;
using HostTensor = clnn::detail::HostTensor;

// What a node reads its inputs from: the importer's values and host constants so far.
class ValueSource {
 public:
  virtual ~ValueSource() = default;
  // A float value by name; `user` names the reader in errors.
  virtual Value value(const std::string& name, const std::string& user, bool as_state) = 0;
  // A tensor known while importing (an initializer or a Constant's output), or nullptr.
  virtual const HostTensor* constant(const std::string& name) = 0;
  virtual void define_constant(const std::string& name, HostTensor tensor) = 0;
  // Graph state holding `values` (a float tensor), named `name`: indices and masks that a
  // converter computed on the host for the device.
  virtual Value constant_value(const std::string& name, HostTensor values) = 0;
  // The shape of a value or a known tensor by name, or nullopt where nothing defines it yet.
  virtual std::optional<Shape> shape_of(const std::string& name) = 0;
  // A tensor's values; external data is read from the model's folder. `where` names it.
  virtual HostTensor decode(const ::onnx::TensorProto& tensor, const std::string& where) = 0;
  // The node that produced a value, or nullptr (an input, an initializer, a Constant folded).
  virtual const ::onnx::NodeProto* producer(const std::string& name) = 0;
  // How many node inputs and graph outputs of the whole graph read a value.
  virtual int readers(const std::string& name) = 0;
  // Whether converters may fuse patterns of nodes (LoadOptions::fuse_attention).
  virtual bool fuse_attention() const = 0;
  virtual std::int64_t opset() const = 0;
  virtual const std::string& path() const = 0;  // the model file, for IoError
};

class Node {
 public:
  Node(ValueSource& source, const ::onnx::NodeProto& proto);
  // Refuses (UnsupportedError) any attribute not in `known`.
  void allow_only(const std::vector<std::string>& known) const;

  const ::onnx::NodeProto& proto() const { return proto_; }
  std::int64_t opset() const { return source_.opset(); }
  // "node 'name' (OpType)".
  std::string where() const;
  [[noreturn]] void unsupported(const std::string& what) const;  // onnx::UnsupportedError
  [[noreturn]] void malformed(const std::string& what) const;    // IoError naming the file
  [[noreturn]] void invalid(const std::string& what) const;      // ShapeError

  // Inputs. input() throws when input i is absent; the ranked form also checks the rank.
  int input_count() const { return proto_.input_size(); }
  bool has_input(int i) const;
  Value input(int i, bool as_state = false) const;
  Value input(int i, std::size_t min_rank, std::size_t max_rank) const;
  const HostTensor* known(int i) const;  // input i when known while importing, else nullptr
  std::optional<Shape> known_shape(int i) const;  // input i's shape, value or known tensor
  Ints constant_ints(int i) const;                // an integer tensor known while importing
  float constant_float(int i) const;              // a float scalar known while importing
  // Host values as device data under a name derived from this node's output and `part`.
  Value constant_value(const std::string& part, HostTensor values) const;
  ValueSource& source() const { return source_; }  // for converters that read past a node
  bool has_output(int i) const;
  void define_constant(int output, HostTensor tensor) const;

  // Attributes, each checked for its type and range; absent ones give the fallback.
  bool has(const std::string& name) const { return attributes_.count(name) != 0; }
  std::int64_t integer(const std::string& name, std::int64_t fallback, std::int64_t lo,
                       std::int64_t hi) const;
  bool flag(const std::string& name, bool fallback) const;     // 0 or 1
  float real(const std::string& name, float fallback) const;   // finite
  float bound(const std::string& name, float fallback) const;  // a number or an infinity
  std::string text(const std::string& name, const std::string& fallback,
                   std::initializer_list<const char*> allowed) const;
  std::string text(const std::string& name) const;  // required, any string
  Ints ints(const std::string& name, std::int64_t lo, std::int64_t hi) const;
  // One value per spatial dimension: `fallback` repeated when absent or empty, else exactly
  // `dims` entries in [lo, hi].
  Ints per_dimension(const std::string& name, std::size_t dims, std::int64_t fallback,
                     std::int64_t lo, std::int64_t hi = kMaxWindowValue) const;
  // An axis in [-rank, rank) (or up to rank inclusive with `end_allowed`), as an int in range.
  int axis(const std::string& name, std::int64_t fallback, std::size_t rank,
           bool end_allowed = false) const;
  HostTensor tensor(const std::string& name) const;  // required

 private:
  // The attribute, or nullptr when absent; malformed() when it holds another type.
  const ::onnx::AttributeProto* find(const std::string& name,
                                     ::onnx::AttributeProto::AttributeType type) const;
  void check_range(const std::string& name, std::int64_t v, std::int64_t lo, std::int64_t hi) const;

  ValueSource& source_;
  const ::onnx::NodeProto& proto_;
  std::map<std::string, const ::onnx::AttributeProto*> attributes_;
};

using Outputs = std::vector<Value>;

// How one operator type becomes clnn operators: the attributes it reads (any other is refused)
// and the lowering. A lowering returns one value per output, except outputs it defined as
// host constants (Constant).
struct Converter {
  std::vector<std::string> attributes;
  Outputs (*lower)(const Node&);
};

// The converter of a default-domain operator type, or nullptr where clnn has none.
const Converter* find_converter(const std::string& op_type);

}  // namespace clnn::onnx::detail
