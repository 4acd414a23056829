// ONNX tensors: every size checked against the data actually present before it is trusted.
#include "io/onnx_tensor.hpp"

#include <charconv>
#include <cstring>
#include <filesystem>

#include "clnn/error.hpp"
#include "clnn/onnx.hpp"
#include "files.hpp"

namespace clnn::detail {

namespace {

namespace fs = std::filesystem;

// The largest model or tensor file read: protobuf's own limit.
constexpr std::uint64_t kMaxFileBytes = std::uint64_t{1} << 31;

// An external-data offset or length: a decimal count of bytes.
std::uint64_t byte_count(const std::string& where, const std::string& key,
                         const std::string& text) {
  std::uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [stop, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || stop != end)
    throw IoError(where, "external data " + key + " '" + text + "' is not a byte count");
  return value;
}

// The bytes of an external-data tensor, from a file inside `folder`.
std::string external_bytes(const ::onnx::TensorProto& t, const std::string& where,
                           const std::string& folder) {
  std::string location;
  std::uint64_t offset = 0, length = 0;
  bool has_length = false;
  for (const auto& entry : t.external_data()) {
    if (entry.key() == "location") location = entry.value();
    if (entry.key() == "offset") offset = byte_count(where, "offset", entry.value());
    if (entry.key() == "length")
      length = byte_count(where, "length", entry.value()), has_length = true;
  }
  if (location.empty()) throw IoError(where, "external data without a location");
  const fs::path base = fs::weakly_canonical(folder);
  const fs::path file = fs::weakly_canonical(base / location);
  auto [b, f] = std::mismatch(base.begin(), base.end(), file.begin(), file.end());
  if (fs::path(location).is_absolute() || b != base.end())
    throw IoError(where, "external data '" + location + "' lies outside the model's folder");
  std::string bytes = read_file(file, kMaxFileBytes);
  if (offset > bytes.size() || (has_length && length > bytes.size() - offset))
    throw IoError(file.string(), "external data range past the end of the file");
  return bytes.substr(offset, has_length ? length : std::string::npos);
}

}  // namespace

std::optional<Element> element_of(std::int64_t onnx_type) {
  switch (onnx_type) {
    case ::onnx::TensorProto::FLOAT:
      return Element::float32;
    case ::onnx::TensorProto::INT64:
      return Element::int64;
    case ::onnx::TensorProto::INT32:
      return Element::int32;
    case ::onnx::TensorProto::BOOL:
      return Element::boolean;
    default:
      return std::nullopt;
  }
}

std::string onnx_element_name(std::int64_t onnx_type) {
  const std::optional<Element> element = element_of(onnx_type);
  if (!element) return "of element type " + std::to_string(onnx_type);
  switch (*element) {
    case Element::float32:
      return "float32";
    case Element::int64:
      return "int64";
    case Element::int32:
      return "int32";
    case Element::boolean:
      return "bool";
  }
  return {};
}

HostTensor decode_tensor(const ::onnx::TensorProto& t, const std::string& where,
                         const std::string& folder) {
  HostTensor out;
  std::uint64_t count = 1;
  for (auto d : t.dims()) {
    if (d <= 0)
      throw clnn::onnx::UnsupportedError(where + ": empty or negative extent " + std::to_string(d));
    if (std::uint64_t(d) > kMaxFileBytes / count) throw IoError(where, "impossible tensor size");
    count *= std::uint64_t(d);
    out.shape.push_back(d);
  }
  const bool external = t.data_location() == ::onnx::TensorProto::EXTERNAL;
  const std::string raw = external ? external_bytes(t, where, folder) : t.raw_data();
  auto from_raw = [&](auto& values, std::size_t element) {
    using T = typename std::decay_t<decltype(values)>::value_type;
    if (raw.size() != count * element)
      throw IoError(where, "holds " + std::to_string(raw.size()) + " bytes of data for " +
                               std::to_string(count) + " elements");
    values.resize(count);
    if (element == sizeof(T)) {
      std::memcpy(values.data(), raw.data(), raw.size());
    } else if (element == 4) {  // INT32 raw data widened to int64
      for (std::uint64_t i = 0; i < count; ++i) {
        std::int32_t v;
        std::memcpy(&v, raw.data() + i * element, element);
        values[i] = v;
      }
    } else {  // BOOL: one byte each
      for (std::uint64_t i = 0; i < count; ++i) values[i] = raw[i] != 0;
    }
  };
  auto check_count = [&](std::size_t have) {
    if (have != count)
      throw IoError(where, "holds " + std::to_string(have) + " values for " +
                               std::to_string(count) + " elements");
  };
  const std::optional<Element> element = element_of(t.data_type());
  if (!element)
    throw clnn::onnx::UnsupportedError(where + ": element type " + std::to_string(t.data_type()) +
                                       " (only float32, int64, int32 and bool are supported)");
  out.type = *element;
  const bool inline_data = raw.empty() && !external;
  switch (*element) {
    case Element::float32:
      if (!inline_data) {
        from_raw(out.floats, 4);
      } else {
        check_count(std::size_t(t.float_data_size()));
        out.floats.assign(t.float_data().begin(), t.float_data().end());
      }
      break;
    case Element::int64:
      if (!inline_data) {
        from_raw(out.ints, 8);
      } else {
        check_count(std::size_t(t.int64_data_size()));
        out.ints.assign(t.int64_data().begin(), t.int64_data().end());
      }
      break;
    case Element::int32:
      if (!inline_data) {
        from_raw(out.ints, 4);
      } else {
        check_count(std::size_t(t.int32_data_size()));
        out.ints.assign(t.int32_data().begin(), t.int32_data().end());
      }
      break;
    case Element::boolean:  // stored in int32_data when not raw
      if (!inline_data) {
        from_raw(out.ints, 1);
      } else {
        check_count(std::size_t(t.int32_data_size()));
        for (auto v : t.int32_data()) out.ints.push_back(v != 0);
      }
      break;
  }
  return out;
}

template <typename Message>
Message read_message(const std::string& path) {
  const std::string bytes = read_file(path, kMaxFileBytes);
  Message message;
  if (!message.ParseFromString(bytes)) throw IoError(path, "not a valid protobuf message");
  return message;
}

template ::onnx::ModelProto read_message<::onnx::ModelProto>(const std::string&);
template ::onnx::TensorProto read_message<::onnx::TensorProto>(const std::string&);

}  // namespace clnn::detail
