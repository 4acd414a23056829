// Internal: ONNX TensorProto decoding, shared by the importer and clnn-onnx-check.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <vector>

#include "clnn/shape.hpp"

namespace clnn::detail {

struct HostTensor {
  Shape shape;
  std::vector<float> floats;       // FLOAT tensors
  std::vector<std::int64_t> ints;  // INT64 and INT32 tensors
  bool is_float = false;
};

// Decodes a FLOAT, INT64 or INT32 tensor (inline or raw data; external data relative to
// `folder`, which it may not leave). `where` names it in errors; other element types raise
// onnx::UnsupportedError.
HostTensor decode_tensor(const ::onnx::TensorProto& t, const std::string& where,
                         const std::string& folder);

// Reads a whole protobuf message (a ModelProto or TensorProto) from a file; IoError when the
// file cannot be read or parsed.
template <typename Message>
Message read_message(const std::string& path);

}  // namespace clnn::detail
