// Parameter initializers, with a portable generator so seeds give the same values everywhere.
#include "clnn/init.hpp"

#include <cmath>
#include <random>

#include "clnn/error.hpp"

namespace clnn::init {

namespace {

// std::mt19937_64 is specified exactly; the distributions of <random> are not, so uniform and
// normal samples are made here.
class Sampler {
 public:
  explicit Sampler(std::uint64_t seed) : rng_(seed) {}
  double uniform() { return double(rng_() >> 11) * 0x1.0p-53; }  // [0, 1)
  double normal() {                                              // Box-Muller
    double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }

 private:
  std::mt19937_64 rng_;
};

std::size_t count(const Shape& shape) {
  return std::size_t(element_count(shape, "parameter"));
}

Initializer uniform_with_bound(std::uint64_t seed, double (*bound)(const Fans&, float),
                               float gain) {
  return [=](const Shape& shape) {
    const double a = bound(fans(shape), gain);
    Sampler s(seed);
    std::vector<float> values(count(shape));
    for (auto& v : values) v = float((2.0 * s.uniform() - 1.0) * a);
    return values;
  };
}

Initializer normal_with_std(std::uint64_t seed, double (*stddev)(const Fans&, float), float gain) {
  return [=](const Shape& shape) {
    const double sd = stddev(fans(shape), gain);
    Sampler s(seed);
    std::vector<float> values(count(shape));
    for (auto& v : values) v = float(s.normal() * sd);
    return values;
  };
}

}  // namespace

Fans fans(const Shape& shape) {
  if (shape.empty()) return {1, 1};
  if (shape.size() == 1) return {double(shape[0]), double(shape[0])};
  if (shape.size() == 2) return {double(shape[0]), double(shape[1])};
  double receptive = 1;
  for (std::size_t d = 2; d < shape.size(); ++d) receptive *= double(shape[d]);
  return {double(shape[1]) * receptive, double(shape[0]) * receptive};
}

Initializer zeros() {
  return constant(0.0f);
}

Initializer constant(float value) {
  return [value](const Shape& shape) { return std::vector<float>(count(shape), value); };
}

Initializer uniform(float low, float high, std::uint64_t seed) {
  if (!(low < high)) throw Error("init::uniform: low must be below high");
  return [=](const Shape& shape) {
    Sampler s(seed);
    std::vector<float> values(count(shape));
    for (auto& v : values) v = float(low + (double(high) - low) * s.uniform());
    return values;
  };
}

Initializer xavier_uniform(std::uint64_t seed, float gain) {
  return uniform_with_bound(
      seed, [](const Fans& f, float g) { return g * std::sqrt(6.0 / (f.in + f.out)); }, gain);
}

Initializer normal(float stddev, std::uint64_t seed) {
  return normal_with_std(
      seed, [](const Fans&, float sd) { return double(sd); }, stddev);
}

Initializer xavier_normal(std::uint64_t seed, float gain) {
  return normal_with_std(
      seed, [](const Fans& f, float g) { return g * std::sqrt(2.0 / (f.in + f.out)); }, gain);
}

Initializer he_uniform(std::uint64_t seed) {
  return uniform_with_bound(
      seed, [](const Fans& f, float) { return std::sqrt(6.0 / f.in); }, 1.0f);
}

Initializer kaiming_uniform(std::uint64_t seed, float a) {
  return uniform_with_bound(
      seed,
      [](const Fans& f, float slope) { return std::sqrt(6.0 / ((1.0 + slope * slope) * f.in)); },
      a);
}

Initializer he_normal(std::uint64_t seed) {
  return normal_with_std(
      seed, [](const Fans& f, float) { return std::sqrt(2.0 / f.in); }, 1.0f);
}

}  // namespace clnn::init
