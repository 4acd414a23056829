// ONNX Einsum as clnn operators: repeated labels within an operand take the diagonal (a strided
// slice), labels no one else needs are summed away, and each pair of operands becomes one
// batched matmul (or a broadcast product where nothing is contracted) between transposes and
// reshapes; the result is transposed to the output's order. Ellipses broadcast, aligned right.
#include <algorithm>
#include <numeric>

#include "checked_int.hpp"
#include "clnn/ops.hpp"
#include "io/onnx_lowerings.hpp"
#include "ops/window.hpp"

namespace clnn::onnx::detail {

namespace {

using clnn::detail::CheckedInt;

// A label: a letter (0 to 51), or dimension j of the ellipsis counted from its right end
// (kEllipsis + j), so that ellipses of different ranks line up as numpy broadcasts them.
using Label = int;
using Labels = std::vector<Label>;
constexpr Label kEllipsis = 64;
constexpr std::size_t kMaxOperands = 8;

struct Term {
  Labels labels;
  bool ellipsis = false;
  std::size_t before = 0;  // letters before the ellipsis
};

Term parse_term(const Node& n, const std::string& text) {
  Term t;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '.') {
      if (t.ellipsis || text.compare(i, 3, "...") != 0) n.invalid("a malformed ellipsis");
      t.ellipsis = true;
      t.before = t.labels.size();
      i += 2;
    } else if (c >= 'a' && c <= 'z') {
      t.labels.push_back(c - 'a');
    } else if (c >= 'A' && c <= 'Z') {
      t.labels.push_back(26 + (c - 'A'));
    } else {
      n.invalid(std::string("the character '") + c + "' in the equation");
    }
  }
  return t;
}

// An operand's labels, one per dimension, its ellipsis spelled out for its rank.
Labels expand_term(const Node& n, const Term& t, std::size_t rank) {
  if (t.labels.size() > rank || (!t.ellipsis && t.labels.size() != rank))
    n.invalid("a term names " + std::to_string(t.labels.size()) + " dimensions of an operand of " +
              "rank " + std::to_string(rank));
  Labels out(t.labels.begin(), t.labels.begin() + std::ptrdiff_t(t.before));
  const std::size_t spread = t.ellipsis ? rank - t.labels.size() : 0;
  for (std::size_t j = spread; j > 0; --j) out.push_back(kEllipsis + Label(j - 1));
  out.insert(out.end(), t.labels.begin() + std::ptrdiff_t(t.before), t.labels.end());
  return out;
}

// A value with a label per dimension.
struct Operand {
  Value v;
  Labels labels;
};

std::size_t position(const Labels& labels, Label l) {
  return std::size_t(std::find(labels.begin(), labels.end(), l) - labels.begin());
}

bool contains(const Labels& labels, Label l) {
  return std::find(labels.begin(), labels.end(), l) != labels.end();
}

// The operand's dimensions reordered to `order` (a permutation of its labels).
Operand permuted(const Operand& a, const Labels& order) {
  std::vector<int> perm;
  for (Label l : order) perm.push_back(int(position(a.labels, l)));
  std::vector<int> identity(perm.size());
  std::iota(identity.begin(), identity.end(), 0);
  return {perm == identity ? a.v : transpose(a.v, perm), order};
}

// The diagonal of a label that appears twice: the two dimensions moved last, merged, and every
// (extent + 1)-th element taken.
Operand diagonal(const Node& n, Operand a) {
  for (std::size_t i = 0; i < a.labels.size(); ++i)
    for (std::size_t j = i + 1; j < a.labels.size(); ++j) {
      if (a.labels[i] != a.labels[j]) continue;
      const std::int64_t e = a.v.shape()[i];
      if (a.v.shape()[j] != e) n.invalid("a repeated label over extents that differ");
      Labels order;
      for (std::size_t d = 0; d < a.labels.size(); ++d)
        if (d != i && d != j) order.push_back(a.labels[d]);
      const Label l = a.labels[i];
      order.push_back(l);
      // Mark the second occurrence so permuted() can find both.
      a.labels[j] = -1;
      order.push_back(-1);
      Operand t = permuted(a, order);
      Shape merged(t.v.shape().begin(), t.v.shape().end() - 2);
      merged.push_back((CheckedInt(e) * e).value());
      std::vector<clnn::detail::SliceAxis> ranges;
      for (std::int64_t extent : merged) ranges.push_back({0, 1, extent});
      ranges.back() = {0, e + 1, e};
      order.pop_back();
      return diagonal(n, {clnn::detail::sliced(reshape(t.v, merged), ranges), order});
    }
  return a;
}

// Sums away the labels of `a` that `keep` does not name.
Operand sum_unneeded(Operand a, const Labels& keep) {
  std::vector<int> axes;
  Labels left;
  for (std::size_t d = 0; d < a.labels.size(); ++d)
    if (contains(keep, a.labels[d]))
      left.push_back(a.labels[d]);
    else
      axes.push_back(int(d));
  if (axes.empty()) return a;
  return {sum(a.v, axes), left};
}

std::int64_t extent_of(const Operand& a, Label l) {
  return contains(a.labels, l) ? a.v.shape()[position(a.labels, l)] : 1;
}

std::int64_t product(const std::vector<std::int64_t>& extents) {
  CheckedInt p = 1;
  for (std::int64_t e : extents) p = p * e;
  return p.value();
}

// a and b combined, keeping the labels `keep` names: shared labels kept are batch dimensions,
// shared ones not kept are contracted, the rest are each operand's own.
Operand combine(const Node& n, Operand a, Operand b, const Labels& keep) {
  Labels batch, contracted, own_a, own_b;
  for (Label l : a.labels)
    (contains(b.labels, l) ? (contains(keep, l) ? batch : contracted) : own_a).push_back(l);
  for (Label l : b.labels)
    if (!contains(a.labels, l)) own_b.push_back(l);
  // Shared extents of 1 broadcast against the other operand's.
  auto widen = [&](Operand& x, const Operand& other) {
    Shape target = x.v.shape();
    for (std::size_t d = 0; d < x.labels.size(); ++d)
      if (contains(other.labels, x.labels[d])) {
        const std::int64_t theirs = extent_of(other, x.labels[d]);
        if (target[d] == 1)
          target[d] = theirs;
        else if (theirs != 1 && theirs != target[d])
          n.invalid("label extents " + std::to_string(target[d]) + " and " +
                    std::to_string(theirs) + " differ");
      }
    if (target != x.v.shape()) x.v = expand(x.v, target);
  };
  widen(a, b);
  widen(b, a);
  auto extents = [](const Operand& x, const Labels& ls) {
    std::vector<std::int64_t> e;
    for (Label l : ls) e.push_back(extent_of(x, l));
    return e;
  };
  const std::int64_t bt = product(extents(a, batch)), m = product(extents(a, own_a)),
                     k = product(extents(a, contracted)), cols = product(extents(b, own_b));
  Labels order_a = batch, order_b = batch;
  order_a.insert(order_a.end(), own_a.begin(), own_a.end());
  order_a.insert(order_a.end(), contracted.begin(), contracted.end());
  order_b.insert(order_b.end(), contracted.begin(), contracted.end());
  order_b.insert(order_b.end(), own_b.begin(), own_b.end());
  const Value x = permuted(a, order_a).v, y = permuted(b, order_b).v;
  Value z;
  if (contracted.empty())  // an outer product per batch: a broadcast multiply
    z = mul(reshape(x, {bt, m, 1}), reshape(y, {bt, 1, cols}));
  else if (bt == 1)
    z = matmul(reshape(x, {m, k}), reshape(y, {k, cols}));
  else
    z = matmul(reshape(x, {bt, m, k}), reshape(y, {bt, k, cols}));
  Labels labels = batch;
  labels.insert(labels.end(), own_a.begin(), own_a.end());
  labels.insert(labels.end(), own_b.begin(), own_b.end());
  Shape shape = extents(a, batch);
  for (std::int64_t e : extents(a, own_a)) shape.push_back(e);
  for (std::int64_t e : extents(b, own_b)) shape.push_back(e);
  return {reshape(z, shape), labels};
}

}  // namespace

Outputs lower_einsum(const Node& n) {
  std::string equation;
  for (char c : n.text("equation"))
    if (c != ' ') equation += c;
  const int count = n.input_count();
  if (count < 1 || std::size_t(count) > kMaxOperands)
    n.unsupported("Einsum of " + std::to_string(count) + " operands (clnn takes 1 to 8)");
  const std::size_t arrow = equation.find("->");
  const std::string lhs = equation.substr(0, arrow);
  std::vector<std::string> texts{""};
  for (char c : lhs)
    if (c == ',')
      texts.emplace_back();
    else
      texts.back().push_back(c);
  if (texts.size() != std::size_t(count))
    n.invalid("the equation has " + std::to_string(texts.size()) + " terms for " +
              std::to_string(count) + " operands");
  std::vector<Operand> operands;
  std::size_t ellipsis_rank = 0;
  for (int i = 0; i < count; ++i) {
    const Value v = n.input(i);
    const Term t = parse_term(n, texts[std::size_t(i)]);
    operands.push_back({v, expand_term(n, t, v.shape().size())});
    if (t.ellipsis) ellipsis_rank = std::max(ellipsis_rank, v.shape().size() - t.labels.size());
  }
  Labels out;
  if (arrow == std::string::npos) {  // implicit: the ellipsis, then letters used once, sorted
    for (std::size_t j = ellipsis_rank; j > 0; --j) out.push_back(kEllipsis + Label(j - 1));
    Labels letters;
    for (const Operand& o : operands)
      for (Label l : o.labels) letters.push_back(l);
    for (Label l = 0; l < kEllipsis; ++l)
      if (std::count(letters.begin(), letters.end(), l) == 1) out.push_back(l);
  } else {
    const Term t = parse_term(n, equation.substr(arrow + 2));
    out = expand_term(n, t, t.labels.size() + (t.ellipsis ? ellipsis_rank : 0));
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (std::count(out.begin(), out.end(), out[i]) != 1) n.invalid("an output label repeats");
    if (std::none_of(operands.begin(), operands.end(),
                     [&](const Operand& o) { return contains(o.labels, out[i]); }))
      n.invalid("an output label no operand has");
  }
  // Labels still needed by operands from i on, or by the output.
  auto needed_from = [&](std::size_t i) {
    Labels keep = out;
    for (std::size_t j = i; j < operands.size(); ++j)
      keep.insert(keep.end(), operands[j].labels.begin(), operands[j].labels.end());
    return keep;
  };
  for (Operand& o : operands) o = diagonal(n, o);
  Operand acc = sum_unneeded(operands[0], needed_from(1));
  for (std::size_t i = 1; i < operands.size(); ++i) {
    const Labels keep = needed_from(i + 1);
    Labels with_acc = keep;
    with_acc.insert(with_acc.end(), acc.labels.begin(), acc.labels.end());
    acc = combine(n, acc, sum_unneeded(operands[i], with_acc), keep);
  }
  acc = sum_unneeded(acc, out);
  if (acc.labels.empty()) return {reshape(acc.v, {})};
  return {permuted(acc, out).v};
}

}  // namespace clnn::onnx::detail
