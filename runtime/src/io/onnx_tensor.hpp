// Internal: ONNX TensorProto decoding, shared by the importer and clnn-onnx-check.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "clnn/shape.hpp"

namespace clnn::detail {

// The element types a tensor known while importing may have: floats on the device, the others
// on the host only (shapes, axes, indices, masks), where constant folding computes with them.
enum class Element { float32, int64, int32, boolean };

// The Element of an ONNX element type (a TensorProto::DataType); nullopt for the others.
std::optional<Element> element_of(std::int64_t onnx_type);
// An ONNX element type as messages name it: "float32", "int64", "int32", "bool", or "of element
// type N" for the others.
std::string onnx_element_name(std::int64_t onnx_type);

struct HostTensor {
  Shape shape;
  Element type = Element::int64;
  std::vector<float> floats;       // float32
  std::vector<std::int64_t> ints;  // int64, int32 and boolean (0 or 1)
  bool is_float() const { return type == Element::float32; }
  std::size_t size() const { return is_float() ? floats.size() : ints.size(); }
};

// Decodes a FLOAT, INT64, INT32 or BOOL tensor (inline or raw data; external data relative to
// `folder`, which it may not leave). `where` names it in errors; other element types raise
// onnx::UnsupportedError.
HostTensor decode_tensor(const ::onnx::TensorProto& t, const std::string& where,
                         const std::string& folder);

// Reads a whole protobuf message (a ModelProto or TensorProto) from a file; IoError when the
// file cannot be read or parsed.
template <typename Message>
Message read_message(const std::string& path);

}  // namespace clnn::detail
