// Shape helpers.
#include "clnn/shape.hpp"

#include <limits>

#include "clnn/error.hpp"

namespace clnn {

std::string to_string(const Shape& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

std::int64_t element_count(const Shape& shape, const std::string& what) {
  std::int64_t count = 1;
  for (std::int64_t extent : shape) {
    if (extent <= 0)
      throw ShapeError(what + ": shape " + to_string(shape) +
                       " has an extent that is not positive");
    if (count > std::numeric_limits<std::int64_t>::max() / extent)
      throw ShapeError(what + ": shape " + to_string(shape) + " has too many elements");
    count *= extent;
  }
  return count;
}

}  // namespace clnn
