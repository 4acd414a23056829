// Checked reads of an ONNX node's inputs and attributes.
#include "io/onnx_node.hpp"

#include <algorithm>
#include <cmath>

#include "clnn/onnx.hpp"

namespace clnn::onnx::detail {

namespace {

using Attribute = ::onnx::AttributeProto;

const char* type_name(Attribute::AttributeType type) {
  switch (type) {
    case Attribute::FLOAT:
      return "a float";
    case Attribute::INT:
      return "an integer";
    case Attribute::STRING:
      return "a string";
    case Attribute::TENSOR:
      return "a tensor";
    case Attribute::FLOATS:
      return "a list of floats";
    case Attribute::INTS:
      return "a list of integers";
    default:
      return "another type";
  }
}

// Models written before attribute types were required leave `type` undefined: then the field
// that is set tells.
bool holds(const Attribute& a, Attribute::AttributeType type) {
  if (a.type() != Attribute::UNDEFINED) return a.type() == type;
  switch (type) {
    case Attribute::FLOAT:
      return a.has_f();
    case Attribute::INT:
      return a.has_i();
    case Attribute::STRING:
      return a.has_s();
    case Attribute::TENSOR:
      return a.has_t();
    case Attribute::INTS:
      return a.ints_size() > 0;
    case Attribute::FLOATS:
      return a.floats_size() > 0;
    default:
      return false;
  }
}

}  // namespace

Node::Node(ValueSource& source, const ::onnx::NodeProto& proto) : source_(source), proto_(proto) {
  for (const auto& a : proto.attribute())
    if (!attributes_.emplace(a.name(), &a).second)
      malformed("attribute '" + a.name() + "' appears twice");
}

void Node::allow_only(const std::vector<std::string>& known) const {
  for (const auto& [name, a] : attributes_)
    if (std::find(known.begin(), known.end(), name) == known.end())
      unsupported("attribute '" + name + "'");
}

std::string Node::where() const {
  const std::string name = !proto_.name().empty()     ? proto_.name()
                           : proto_.output_size() > 0 ? proto_.output(0)
                                                      : std::string("unnamed");
  return "node '" + name + "' (" + proto_.op_type() + ")";
}

void Node::unsupported(const std::string& what) const {
  throw UnsupportedError(where() + ": " + what);
}

void Node::malformed(const std::string& what) const {
  throw IoError(source_.path(), where() + ": " + what);
}

void Node::invalid(const std::string& what) const {
  throw ShapeError(where() + ": " + what);
}

bool Node::has_input(int i) const {
  return i >= 0 && i < proto_.input_size() && !proto_.input(i).empty();
}

Value Node::input(int i, bool as_state) const {
  if (!has_input(i)) malformed("missing input " + std::to_string(i));
  return source_.value(proto_.input(i), where(), as_state);
}

Value Node::input(int i, std::size_t min_rank, std::size_t max_rank) const {
  Value v = input(i);
  const std::size_t rank = v.shape().size();
  if (rank < min_rank || rank > max_rank)
    invalid("input " + std::to_string(i) + " '" + proto_.input(i) + "' has shape " +
            to_string(v.shape()) + "; its rank must be " +
            (min_rank == max_rank ? std::to_string(min_rank)
                                  : std::to_string(min_rank) + " to " + std::to_string(max_rank)));
  return v;
}

const HostTensor* Node::known(int i) const {
  return has_input(i) ? source_.constant(proto_.input(i)) : nullptr;
}

std::optional<Shape> Node::known_shape(int i) const {
  if (!has_input(i)) malformed("missing input " + std::to_string(i));
  return source_.shape_of(proto_.input(i));
}

Ints Node::constant_ints(int i) const {
  if (!has_input(i)) malformed("missing input " + std::to_string(i));
  const HostTensor* t = source_.constant(proto_.input(i));
  if (!t || t->is_float())
    unsupported("input '" + proto_.input(i) + "' must be a constant integer tensor");
  return t->ints;
}

float Node::constant_float(int i) const {
  if (!has_input(i)) malformed("missing input " + std::to_string(i));
  const HostTensor* t = source_.constant(proto_.input(i));
  if (!t || !t->is_float() || t->floats.size() != 1)
    unsupported("input '" + proto_.input(i) + "' must be a constant float scalar");
  if (std::isnan(t->floats[0])) invalid("input '" + proto_.input(i) + "' is not a number");
  return t->floats[0];
}

Value Node::constant_value(const std::string& part, HostTensor values) const {
  return source_.constant_value(proto_.output(0) + "/" + part, std::move(values));
}

bool Node::has_output(int i) const {
  return i >= 0 && i < proto_.output_size() && !proto_.output(i).empty();
}

void Node::define_constant(int output, HostTensor tensor) const {
  if (!has_output(output)) malformed("missing output " + std::to_string(output));
  source_.define_constant(proto_.output(output), std::move(tensor));
}

const Attribute* Node::find(const std::string& name, Attribute::AttributeType type) const {
  auto it = attributes_.find(name);
  if (it == attributes_.end()) return nullptr;
  if (!holds(*it->second, type)) malformed("attribute '" + name + "' must be " + type_name(type));
  return it->second;
}

void Node::check_range(const std::string& name, std::int64_t v, std::int64_t lo,
                       std::int64_t hi) const {
  if (v < lo || v > hi)
    invalid("attribute '" + name + "' holds " + std::to_string(v) + ", outside [" +
            std::to_string(lo) + ", " + std::to_string(hi) + "]");
}

std::int64_t Node::integer(const std::string& name, std::int64_t fallback, std::int64_t lo,
                           std::int64_t hi) const {
  const Attribute* a = find(name, Attribute::INT);
  if (!a) return fallback;
  check_range(name, a->i(), lo, hi);
  return a->i();
}

bool Node::flag(const std::string& name, bool fallback) const {
  return integer(name, fallback ? 1 : 0, 0, 1) != 0;
}

float Node::real(const std::string& name, float fallback) const {
  const Attribute* a = find(name, Attribute::FLOAT);
  if (!a) return fallback;
  if (!std::isfinite(a->f()))
    invalid("attribute '" + name + "' is " + std::to_string(a->f()) + ", not a finite number");
  return a->f();
}

float Node::bound(const std::string& name, float fallback) const {
  const Attribute* a = find(name, Attribute::FLOAT);
  if (!a) return fallback;
  if (std::isnan(a->f())) invalid("attribute '" + name + "' is not a number");
  return a->f();
}

std::string Node::text(const std::string& name, const std::string& fallback,
                       std::initializer_list<const char*> allowed) const {
  const Attribute* a = find(name, Attribute::STRING);
  if (!a) return fallback;
  for (const char* option : allowed)
    if (a->s() == option) return a->s();
  std::string options;
  for (const char* option : allowed) options += (options.empty() ? "" : ", ") + std::string(option);
  unsupported("attribute '" + name + "' = '" + a->s() + "' (clnn takes " + options + ")");
}

std::string Node::text(const std::string& name) const {
  const Attribute* a = find(name, Attribute::STRING);
  if (!a) malformed("attribute '" + name + "' is missing");
  return a->s();
}

Ints Node::ints(const std::string& name, std::int64_t lo, std::int64_t hi) const {
  const Attribute* a = find(name, Attribute::INTS);
  if (!a) return {};
  Ints values(a->ints().begin(), a->ints().end());
  for (std::int64_t v : values) check_range(name, v, lo, hi);
  return values;
}

Ints Node::per_dimension(const std::string& name, std::size_t dims, std::int64_t fallback,
                         std::int64_t lo, std::int64_t hi) const {
  Ints values = ints(name, lo, hi);
  if (values.empty()) return Ints(dims, fallback);  // absent, or an empty list: the default
  if (values.size() != dims)
    invalid("attribute '" + name + "' has " + std::to_string(values.size()) + " entries for " +
            std::to_string(dims) + " spatial dimensions");
  return values;
}

int Node::axis(const std::string& name, std::int64_t fallback, std::size_t rank,
               bool end_allowed) const {
  const auto r = std::int64_t(rank);
  const std::int64_t a = integer(name, fallback, -r, end_allowed ? r : r - 1);
  if (a < -r || a > (end_allowed ? r : r - 1))  // the fallback is checked too
    invalid("axis " + std::to_string(a) + " is out of range for rank " + std::to_string(rank));
  return int(a);
}

HostTensor Node::tensor(const std::string& name) const {
  const Attribute* a = find(name, Attribute::TENSOR);
  if (!a) malformed("attribute '" + name + "' is missing");
  return source_.decode(a->t(), where() + " attribute '" + name + "'");
}

}  // namespace clnn::onnx::detail
