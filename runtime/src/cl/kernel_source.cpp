// Kernel sources: the embedded ones by name, and any text with its content hash (the program
// cache's key).
#include "cl/kernel_source.hpp"

#include "cl/hash.hpp"
#include "clnn/error.hpp"

namespace clnn::detail {

KernelSource KernelSource::from_text(std::string name, std::string_view text) {
  return KernelSource{std::move(name), text, "fnv1a-" + hex64(fnv1a64(text))};
}

const KernelSource& embedded_kernel_source(const std::string& name) {
  for (const auto& source : embedded_kernel_sources())
    if (source.name == name) return source;
  throw Error("no embedded OpenCL source named '" + name +
              "' (is it listed in runtime/CMakeLists.txt?)");
}

}  // namespace clnn::detail
