// Naive double-precision references for the elementwise kernels.
#pragma once

#include <vector>

namespace clnn::reference {

inline std::vector<double> axpy(double a, const std::vector<float>& x,
                                const std::vector<float>& y) {
  std::vector<double> out(y.size());
  for (std::size_t i = 0; i < y.size(); ++i) out[i] = a * double(x[i]) + double(y[i]);
  return out;
}

}  // namespace clnn::reference
