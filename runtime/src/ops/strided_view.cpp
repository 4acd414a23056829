// Strided views composed through reshapes, transposes and slices (ops/strided_view.hpp).
#include "ops/strided_view.hpp"

#include <algorithm>

#include "ops/common.hpp"

namespace clnn::detail {

namespace {

// The stride of a dimension whose atoms walk it as one run (1 for extent 1, which has none).
template <typename Atoms>
std::optional<std::int64_t> run_stride(const Atoms& dim) {
  for (std::size_t i = 0; i + 1 < dim.size(); ++i)
    if (dim[i].stride != dim[i + 1].stride * dim[i + 1].extent) return std::nullopt;
  return dim.empty() ? 1 : dim.back().stride;
}

}  // namespace

StridedView::StridedView(const Shape& shape) {
  const std::vector<std::int64_t> strides = row_major_strides(shape);
  for (std::size_t d = 0; d < shape.size(); ++d) {
    dims_.emplace_back();
    if (shape[d] != 1) dims_.back().push_back({shape[d], strides[d]});  // extent 1: no atoms
  }
}

bool StridedView::reshape(const Shape& to) {
  std::vector<Atom> atoms;
  for (const auto& dim : dims_) atoms.insert(atoms.end(), dim.begin(), dim.end());
  std::vector<std::vector<Atom>> out;
  std::size_t next = 0;
  for (std::int64_t extent : to) {
    if (extent <= 0) return false;
    std::vector<Atom> group;
    for (std::int64_t need = extent; need > 1;) {
      if (next == atoms.size()) return false;
      Atom& a = atoms[next];
      if (a.extent <= need) {  // the whole atom
        if (need % a.extent != 0) return false;
        group.push_back(a);
        need /= a.extent;
        ++next;
      } else {  // its outer part; the rest stays for the next dimension
        if (a.extent % need != 0) return false;
        a.extent /= need;
        group.push_back({need, a.stride * a.extent});
        need = 1;
      }
    }
    out.push_back(std::move(group));
  }
  if (next != atoms.size()) return false;
  dims_ = std::move(out);
  return true;
}

bool StridedView::permute(const std::vector<int>& perm) {
  if (perm.size() != dims_.size()) return false;
  std::vector<bool> seen(perm.size(), false);
  std::vector<std::vector<Atom>> out;
  for (int p : perm) {
    if (p < 0 || std::size_t(p) >= perm.size() || seen[std::size_t(p)]) return false;
    seen[std::size_t(p)] = true;
    out.push_back(dims_[std::size_t(p)]);
  }
  dims_ = std::move(out);
  return true;
}

bool StridedView::slice(const std::vector<SliceAxis>& axes) {
  if (axes.size() != dims_.size()) return false;
  const Shape extents = shape();
  for (std::size_t d = 0; d < axes.size(); ++d) {
    const SliceAxis& a = axes[d];
    if (a.start == 0 && a.step == 1 && a.count == extents[d]) continue;
    const std::int64_t last = a.start + (a.count - 1) * a.step;
    const std::optional<std::int64_t> stride = run_stride(dims_[d]);
    if (!stride || a.count < 1 || a.start < 0 || a.start >= extents[d] || last < 0 ||
        last >= extents[d])
      return false;
    // A sliced dimension becomes one atom.
    offset_ += a.start * *stride;
    dims_[d].clear();
    if (a.count > 1) dims_[d].push_back({a.count, *stride * a.step});
  }
  return true;
}

bool StridedView::rows_of_width(std::int64_t width) {
  if (dims_.size() != 2 || width <= 0) return false;
  const std::int64_t n = shape()[1];
  if (run_stride(dims_[1]) != std::optional<std::int64_t>(1) || offset_ % n != 0) return false;
  for (const Atom& a : dims_[0])
    if (a.stride % n != 0) return false;
  offset_ = offset_ / n * width;
  for (Atom& a : dims_[0]) a.stride = a.stride / n * width;
  dims_[1].clear();
  if (width > 1) dims_[1].push_back({width, 1});
  return true;
}

Shape StridedView::shape() const {
  Shape out;
  for (const auto& dim : dims_) {
    std::int64_t extent = 1;
    for (const Atom& a : dim) extent *= a.extent;
    out.push_back(extent);
  }
  return out;
}

std::optional<TensorView> StridedView::tensor_view() const {
  TensorView view{shape(), offset_, {}};
  for (const auto& dim : dims_) {
    const std::optional<std::int64_t> stride = run_stride(dim);
    if (!stride) return std::nullopt;
    view.strides.push_back(*stride);
  }
  return view;
}

}  // namespace clnn::detail
