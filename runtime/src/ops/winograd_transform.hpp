// Internal: the matrices of Winograd's minimal filtering F(m, r), built for any output tile m and
// filter size r by the Toom-Cook construction, for cl_kernels/winograd.cl. With alpha = m + r - 1
// and points p_0 .. p_{alpha-2} (0, 1, -1, 2, -2, ...) and infinity, a tile's correlation
// y = A^T [(G g) . (B^T d)] (2-D: A^T [(G g G^T) . (B^T d B)] A) of a filter g (r) over an input
// tile d (alpha) gives m outputs with alpha multiplications instead of m * r.
#pragma once

#include <string>
#include <vector>

namespace clnn::detail {

struct WinogradTransform {
  int m = 0, r = 0, alpha = 0;
  std::vector<double> at;  // A^T, m x alpha, row-major
  std::vector<double> g;   // G, alpha x r
  std::vector<double> bt;  // B^T, alpha x alpha

  // -DWIN_M, -DWIN_R and the three matrices as array initializers (WIN_AT, WIN_G, WIN_BT).
  std::string build_options() const;
};

// F(m, r) for 1 <= m and 2 <= r with alpha = m + r - 1 at most 8 (beyond, the points' powers
// lose fp32 precision); throws clnn::Error otherwise.
WinogradTransform winograd_transform(int m, int r);

}  // namespace clnn::detail
