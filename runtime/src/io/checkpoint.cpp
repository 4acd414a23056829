// Checkpoint files: encoding, and decoding that trusts nothing before it is checked.
#include "clnn/checkpoint.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <map>

#include "cl/hash.hpp"
#include "clnn/error.hpp"
#include "files.hpp"

namespace clnn {

namespace {

constexpr char kMagic[8] = {'C', 'L', 'N', 'N', 'C', 'K', 'P', 'T'};
constexpr std::uint32_t kVersion = 2;  // 1: without the loss scaler fields
constexpr std::uint32_t kMaxNameLength = 4096;
constexpr std::uint32_t kMaxRank = 8;

enum class Kind : std::uint32_t { parameter = 0, state = 1, slot = 2 };

struct Entry {
  Kind kind;
  std::string name;
  Tensor tensor;
};

// Everything a checkpoint holds, in a fixed order.
std::vector<Entry> entries_of(const Executor& ex, const optim::Optimizer* optimizer) {
  std::vector<Entry> entries;
  for (const Value& p : ex.parameters())
    entries.push_back({Kind::parameter, p.name(), ex.parameter(p.name())});
  for (const Value& s : ex.states()) entries.push_back({Kind::state, s.name(), ex.state(s.name())});
  if (optimizer)
    for (auto& [name, tensor] : optimizer->slots()) entries.push_back({Kind::slot, name, tensor});
  return entries;
}

template <typename T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

// Bounds-checked reading of the file's bytes; every fault names the offset.
class Reader {
 public:
  Reader(const std::string& path, const std::string& bytes, std::size_t end)
      : path_(path), bytes_(bytes), end_(end) {}
  template <typename T>
  T get(const char* what) {
    need(sizeof(T), what);
    T value;
    std::memcpy(&value, bytes_.data() + at_, sizeof(T));
    at_ += sizeof(T);
    return value;
  }
  const char* take(std::size_t size, const char* what) {
    need(size, what);
    const char* p = bytes_.data() + at_;
    at_ += size;
    return p;
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw IoError(path_, what + " (at byte " + std::to_string(at_) + ")");
  }
  std::size_t offset() const { return at_; }

 private:
  void need(std::size_t size, const char* what) const {
    if (end_ - at_ < size) fail(std::string("truncated: ") + what + " runs past the end");
  }
  const std::string& path_;
  const std::string& bytes_;
  std::size_t end_, at_ = 0;
};

struct Decoded {
  Shape shape;
  const char* values;
};

}  // namespace

void save_checkpoint(const std::string& path, const Executor& ex, const optim::Optimizer* optimizer,
                     const TrainingPosition& position, const std::function<void()>& before_rename) {
  auto entries = entries_of(ex, optimizer);
  std::string out(kMagic, sizeof(kMagic));
  put(out, kVersion);
  put(out, std::uint32_t(entries.size()));
  put(out, position.epoch);
  put(out, position.executor_step);
  put(out, position.optimizer_steps);
  const optim::LossScalerState scaler = position.loss_scaler.value_or(optim::LossScalerState{});
  put(out, std::uint32_t(position.loss_scaler.has_value()));
  put(out, scaler.scale);
  put(out, scaler.finite_in_a_row);
  put(out, scaler.skipped);
  for (const Entry& e : entries) {
    put(out, std::uint32_t(e.kind));
    put(out, std::uint32_t(e.name.size()));
    out += e.name;
    put(out, std::uint32_t(e.tensor.shape().size()));
    for (auto extent : e.tensor.shape()) put(out, std::int64_t(extent));
    auto values = e.tensor.to_host();
    out.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
  }
  put(out, detail::fnv1a64(out));
  detail::write_file_atomically(path, out, before_rename);
}

TrainingPosition load_checkpoint(const std::string& path, Executor& ex,
                                 optim::Optimizer* optimizer) {
  const std::string bytes = detail::read_file(path);
  const std::size_t size = bytes.size();
  if (size < sizeof(kMagic) + sizeof(std::uint64_t) ||
      std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0)
    throw IoError(path, "not a clnn checkpoint (bad magic)");
  const std::size_t body = size - sizeof(std::uint64_t);
  std::uint64_t stored;
  std::memcpy(&stored, bytes.data() + body, sizeof(stored));
  Reader r(path, bytes, body);
  r.take(sizeof(kMagic), "the magic");
  const auto version = r.get<std::uint32_t>("the version");
  if (version != 1 && version != kVersion)
    r.fail("unsupported checkpoint version " + std::to_string(version));
  if (detail::fnv1a64(std::string_view(bytes.data(), body)) != stored)
    throw IoError(path, "checksum mismatch: the file is corrupt");

  const auto count = r.get<std::uint32_t>("the entry count");
  TrainingPosition position;
  position.epoch = r.get<std::int64_t>("the epoch");
  position.executor_step = r.get<std::uint64_t>("the step");
  position.optimizer_steps = r.get<std::int64_t>("the optimizer steps");
  if (position.epoch < 0 || position.optimizer_steps < 0) r.fail("negative training position");
  if (version >= 2) {
    const auto has_scaler = r.get<std::uint32_t>("the loss scaler's flag");
    optim::LossScalerState scaler;
    scaler.scale = r.get<float>("the loss scale");
    scaler.finite_in_a_row = r.get<std::int64_t>("the loss scaler's finite steps");
    scaler.skipped = r.get<std::int64_t>("the loss scaler's skipped steps");
    if (has_scaler > 1) r.fail("bad loss scaler flag " + std::to_string(has_scaler));
    if (has_scaler) {
      constexpr std::int64_t kMaxCount = std::numeric_limits<std::uint32_t>::max();
      if (!(scaler.scale > 0.0f) || !std::isfinite(scaler.scale) || scaler.finite_in_a_row < 0 ||
          scaler.finite_in_a_row > kMaxCount || scaler.skipped < 0 || scaler.skipped > kMaxCount)
        r.fail("impossible loss scaler state");
      position.loss_scaler = scaler;
    }
  }

  std::map<std::string, Decoded> found;
  for (std::uint32_t i = 0; i < count; ++i) {
    auto kind = r.get<std::uint32_t>("an entry kind");
    if (kind > 2) r.fail("unknown entry kind " + std::to_string(kind));
    auto name_length = r.get<std::uint32_t>("a name length");
    if (name_length == 0 || name_length > kMaxNameLength) r.fail("bad name length");
    std::string name(r.take(name_length, "a name"), name_length);
    auto rank = r.get<std::uint32_t>("a rank");
    if (rank > kMaxRank) r.fail("entry '" + name + "' has rank " + std::to_string(rank));
    Shape shape;
    std::uint64_t values = 1;
    for (std::uint32_t d = 0; d < rank; ++d) {
      auto extent = r.get<std::int64_t>("an extent");
      if (extent <= 0 || std::uint64_t(extent) > body / sizeof(float) / values)
        r.fail("entry '" + name + "' has an impossible extent " + std::to_string(extent));
      values *= std::uint64_t(extent);
      shape.push_back(extent);
    }
    const char* data = r.take(std::size_t(values) * sizeof(float), "entry values");
    if (!found.emplace(name, Decoded{shape, data}).second)
      r.fail("entry '" + name + "' appears twice");
  }
  if (r.offset() != body) r.fail("bytes after the last entry");

  // Every tensor the executor and optimizer hold must be there, with its shape; nothing else.
  auto entries = entries_of(ex, optimizer);
  if (entries.size() != found.size())
    throw IoError(path, "holds " + std::to_string(found.size()) +
                            " tensors; this model and optimizer have " +
                            std::to_string(entries.size()));
  for (const Entry& e : entries) {
    auto it = found.find(e.name);
    if (it == found.end()) throw IoError(path, "has no tensor '" + e.name + "'");
    if (it->second.shape != e.tensor.shape())
      throw IoError(path, "tensor '" + e.name + "' has shape " + to_string(it->second.shape) +
                              ", the model's is " + to_string(e.tensor.shape()));
  }
  for (Entry& e : entries) {
    const Decoded& d = found.at(e.name);
    std::vector<float> values(std::size_t(e.tensor.size()));
    std::memcpy(values.data(), d.values, values.size() * sizeof(float));
    e.tensor.write(values);
  }
  ex.set_step(position.executor_step);
  if (optimizer) optimizer->set_steps(position.optimizer_steps);
  return position;
}

}  // namespace clnn
