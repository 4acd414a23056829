// The exceptions clnn throws: every error is a clnn::Error, and the subclasses carry the details.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace clnn {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An OpenCL call failed. code() is the OpenCL error code; for a failed program build,
// build_log() holds the compiler's log (it is part of what() too).
class DeviceError : public Error {
 public:
  DeviceError(const std::string& what, int code, std::string build_log = {});
  int code() const { return code_; }
  const char* code_name() const;
  const std::string& build_log() const { return build_log_; }

 private:
  int code_;
  std::string build_log_;
};

// A shape that does not fit an operation, or a size that is zero, negative or overflows.
class ShapeError : public Error {
 public:
  using Error::Error;
};

// A request for more device memory than the device allows in one buffer.
class AllocationError : public Error {
 public:
  using Error::Error;
};

// A file that cannot be read or written, or whose contents are wrong; names the file.
class IoError : public Error {
 public:
  IoError(const std::string& file, const std::string& what);
  const std::string& file() const { return file_; }

 private:
  std::string file_;
};

// The name of an OpenCL error code ("CL_OUT_OF_RESOURCES"), or "CL error <n>" for unknown codes.
std::string cl_error_name(int code);

}  // namespace clnn
