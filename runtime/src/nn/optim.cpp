// SGD and Adam: update kernels over up to eight parameters a launch, on the device.
#include "clnn/optim.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include "cl/kernel_call.hpp"
#include "cl/profiler.hpp"
#include "context_impl.hpp"
#include "ops/common.hpp"

namespace clnn::optim {

namespace {

using detail::mem;

std::vector<Tensor> zeros_like_parameters(const Executor& ex) {
  std::vector<Tensor> state;
  for (const Value& p : ex.parameters()) state.push_back(Tensor::zeros(ex.context(), p.shape()));
  return state;
}

void check_positive(float value, const char* what) {
  if (!(value > 0.0f) || !std::isfinite(value))
    throw Error(std::string(what) + " must be positive and finite, not " + std::to_string(value));
}

// Each slot tensor named after its parameter.
std::vector<std::pair<std::string, Tensor>> named_slots(const Executor& ex, const char* slot,
                                                        const std::vector<Tensor>& tensors) {
  std::vector<std::pair<std::string, Tensor>> out;
  auto params = ex.parameters();
  for (std::size_t i = 0; i < tensors.size(); ++i)
    out.emplace_back(params[i].name() + "/" + slot, tensors[i]);
  return out;
}

// The profiler's scope of one pass over every parameter (an update, or loss scaling's check),
// which does `flops` operations and reads or writes `floats` floats per parameter element
// (counted from cl_kernels/optim.cl).
detail::ProfileScope update_scope(const Executor& ex, double flops, double floats,
                                  const char* name = "optimizer") {
  double elements = 0;
  if (detail::profiling_enabled())  // only the profiler needs the count
    for (const Value& p : ex.parameters()) elements += double(element_count(p.shape()));
  return detail::ProfileScope(name, flops * elements, 4.0 * floats * elements);
}

// Parameters a launch of cl_kernels/optim.cl updates (its SLOTS).
constexpr std::size_t kSlots = 8;

// Enqueues kernel k, whose scalar arguments (the first `scalars`) are set, over the executor's
// parameters kSlots at a time: per launch the slots' ends, then each slot's buffers,
// buffers(i) for parameter i (p and its gradient first). An unused slot repeats the last used
// one with no elements.
template <std::size_t N, typename Buffers>
void enqueue_updates(const Executor& ex, cl_kernel k, cl_uint scalars, Buffers buffers) {
  auto& ctx = detail::Access::impl(ex.context());
  const auto params = ex.parameters();
  for (std::size_t first = 0; first < params.size(); first += kSlots) {
    const std::size_t used = std::min(kSlots, params.size() - first);
    cl_ulong8 ends{};
    cl_ulong end = 0;
    cl_uint arg = scalars + 1;
    for (std::size_t j = 0; j < kSlots; ++j) {
      const std::size_t i = first + std::min(j, used - 1);
      if (j < used) end += cl_ulong(element_count(params[i].shape()));
      ends.s[j] = end;
      const std::array<cl_mem, N> slot = buffers(i);
      for (cl_mem m : slot) detail::set_arg(k, arg++, m);
    }
    detail::set_arg(k, scalars, ends);
    if (end > 0) ctx.enqueue_elementwise(k, std::size_t(end));
  }
}

// A uint's bits in a float's place, as the kernels read the counters.
float uint_bits(std::int64_t value) {
  const auto bits = std::uint32_t(value);
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

std::int64_t uint_of(float bits) {
  std::uint32_t value;
  std::memcpy(&value, &bits, sizeof value);
  return std::int64_t(value);
}

// A kernel's gate argument: a loss scaler's state, or null for none.
cl_mem gate_arg(const Tensor* gate) {
  return gate ? mem(*gate) : cl_mem(nullptr);
}

void check_count(std::int64_t count, const char* what) {
  if (count < 0 || count > std::int64_t(std::numeric_limits<std::uint32_t>::max()))
    throw Error(std::string(what) + " must lie in [0, 2^32), not " + std::to_string(count));
}

}  // namespace

Optimizer::Optimizer(const Executor& executor)
    : executor_(executor), taken_(Tensor::zeros(executor.context(), {1})) {}

std::int64_t Optimizer::steps() const {
  return uint_of(taken_.to_host()[0]);
}

void Optimizer::set_steps(std::int64_t steps) {
  check_count(steps, "Optimizer: the steps taken");
  taken_.write({uint_bits(steps)});
  steps_bound_ = steps;
}

void Optimizer::set_grad_scale(float scale) {
  check_positive(scale, "Optimizer: the gradient scale");
  grad_scale_ = scale;
}

// The step is counted once all its updates are enqueued: one that throws (a kernel that fails to
// build or enqueue) leaves the count, and Adam's bias correction, as they were.
void Optimizer::update(const Tensor* gate) {
  enqueue_update(gate);
  auto& ctx = detail::Access::impl(executor_.context());
  cl_kernel k = ctx.kernel("optim", "count_step");
  detail::set_args(k, mem(taken_), gate_arg(gate));
  ctx.enqueue_elementwise(k, 1);
  ++steps_bound_;
}

SGD::SGD(Executor& executor, SGDOptions options) : Optimizer(executor), options_(options) {
  check_positive(options_.lr, "SGD: lr");
  if (options_.momentum < 0.0f) throw Error("SGD: momentum must not be negative");
  if (options_.nesterov && options_.momentum == 0.0f)
    throw Error("SGD: Nesterov momentum needs a momentum above 0");
  if (options_.momentum != 0.0f) velocity_ = zeros_like_parameters(executor_);
}

std::vector<std::pair<std::string, Tensor>> SGD::slots() const {
  return named_slots(executor_, "velocity", velocity_);
}

std::vector<std::pair<std::string, Tensor>> Adam::slots() const {
  auto out = named_slots(executor_, "adam_m", m_);
  auto v = named_slots(executor_, "adam_v", v_);
  out.insert(out.end(), v.begin(), v.end());
  return out;
}

void SGD::enqueue_update(const Tensor* gate) {
  // With momentum: read p, g, v and write v, p; without: read p, g and write p.
  const bool momentum = !velocity_.empty();
  auto scope = update_scope(executor_, momentum ? 6.0 : 4.0, momentum ? 5.0 : 3.0);
  auto& ctx = detail::Access::impl(executor_.context());
  cl_kernel k = ctx.kernel("optim", "sgd_step");
  detail::set_args(k, options_.lr, options_.momentum, options_.weight_decay,
                   cl_int(options_.nesterov), grad_scale_, gate_arg(gate));
  const auto params = executor_.parameters();
  enqueue_updates<3>(executor_, k, 6, [&](std::size_t i) {
    const Tensor g = executor_.gradient(params[i]);
    const Tensor& v = momentum ? velocity_[i] : g;  // unused without momentum
    const Tensor p = executor_.parameter(params[i].name());
    detail::Access::note_write(p);
    return std::array<cl_mem, 3>{mem(p), mem(g), mem(v)};
  });
}

Adam::Adam(Executor& executor, AdamOptions options) : Optimizer(executor), options_(options) {
  check_positive(options_.lr, "Adam: lr");
  check_positive(options_.eps, "Adam: eps");
  if (!(options_.beta1 >= 0.0f && options_.beta1 < 1.0f && options_.beta2 >= 0.0f &&
        options_.beta2 < 1.0f))
    throw Error("Adam: beta1 and beta2 must lie in [0, 1)");
  m_ = zeros_like_parameters(executor_);
  v_ = zeros_like_parameters(executor_);
}

void Adam::cover_corrections(std::int64_t t) {
  if (t <= known_ || saturated_) return;
  // Doubling: a long run rebuilds it a few times, each a blocking write of 8 bytes a step.
  const std::int64_t want = std::max<std::int64_t>({t, 2 * known_, 1024});
  std::vector<float> table;
  bool saturated = false;
  for (std::int64_t step = 1; step <= want; ++step) {
    const float c1 = float(1.0 - std::pow(double(options_.beta1), double(step)));
    const float c2 = float(1.0 - std::pow(double(options_.beta2), double(step)));
    if (c1 == 1.0f && c2 == 1.0f) {  // and every later step's
      saturated = true;
      break;
    }
    table.push_back(c1);
    table.push_back(c2);
  }
  const auto known = std::int64_t(table.size() / 2);
  if (table.empty()) table.push_back(1.0f);  // a buffer the kernel never reads
  // Taken only once made: a failed allocation leaves the last table in use.
  corrections_ = Tensor::from_host(executor_.context(), {std::int64_t(table.size())}, table);
  known_ = known;
  saturated_ = saturated;
}

void Adam::enqueue_update(const Tensor* gate) {
  cover_corrections(steps_bound() + 1);
  auto scope = update_scope(executor_, 15.0, 7.0);  // read p, g, m, v; write m, v, p
  auto& ctx = detail::Access::impl(executor_.context());
  cl_kernel k = ctx.kernel("optim", "adam_step");
  detail::set_args(k, options_.lr, options_.beta1, options_.beta2, options_.eps,
                   options_.weight_decay, cl_int(options_.decoupled_weight_decay),
                   mem(corrections_), cl_uint(known_), mem(taken()), grad_scale_, gate_arg(gate));
  const auto params = executor_.parameters();
  enqueue_updates<4>(executor_, k, 11, [&](std::size_t i) {
    const Tensor p = executor_.parameter(params[i].name());
    detail::Access::note_write(p);
    return std::array<cl_mem, 4>{mem(p), mem(executor_.gradient(params[i])), mem(m_[i]),
                                 mem(v_[i])};
  });
}

namespace {

// cl_kernels/optim.cl's layout of a loss scaler's state.
enum ScalerAt : std::size_t {
  kScaleAt,
  kFoundAt,
  kUnscaleAt,
  kInARowAt,
  kSkippedAt,
  kScalerFloats
};

}  // namespace

LossScaler::LossScaler(const Context& ctx, LossScalerOptions options)
    : options_(options), state_(Tensor::zeros(ctx, {std::int64_t(kScalerFloats)})) {
  check_positive(options_.initial_scale, "LossScaler: the initial scale");
  if (!(options_.growth >= 1.0f) || !std::isfinite(options_.growth))
    throw Error("LossScaler: growth must be finite and at least 1");
  if (!(options_.backoff > 0.0f && options_.backoff < 1.0f))
    throw Error("LossScaler: backoff must lie in (0, 1)");
  if (options_.growth_interval < 1 ||
      options_.growth_interval > std::int64_t(std::numeric_limits<std::uint32_t>::max()))
    throw Error("LossScaler: growth_interval must lie in [1, 2^32)");
  LossScalerState initial;
  initial.scale = options_.initial_scale;
  set_state(initial);
}

void LossScaler::step(const Executor& ex, Optimizer& optimizer) {
  if (&ex != &optimizer.executor_)
    throw Error("LossScaler: the optimizer updates another executor's parameters");
  auto& ctx = detail::Access::impl(ex.context());
  if (interrupted_) {  // a step that threw may have left FOUND_AT set: this step starts clear
    const float zero = 0.0f;
    detail::Access::note_write(state_);
    detail::check(clEnqueueFillBuffer(ctx.queue.get(), mem(state_), &zero, sizeof zero,
                                      kFoundAt * sizeof(float), sizeof(float), 0, nullptr, nullptr),
                  "clEnqueueFillBuffer (the loss scaler's flag)");
  }
  interrupted_ = true;
  {
    auto scope = update_scope(ex, 1.0, 1.0, "loss scaling");  // reads each gradient once
    cl_kernel k = ctx.kernel("optim", "find_nonfinite");
    detail::set_arg(k, 0, mem(state_));
    const auto params = ex.parameters();
    enqueue_updates<1>(ex, k, 1, [&](std::size_t i) {
      return std::array<cl_mem, 1>{mem(ex.gradient(params[i]))};
    });
  }
  optimizer.update(&state_);
  cl_kernel k = ctx.kernel("optim", "update_loss_scale");
  detail::set_args(k, mem(state_), options_.growth, options_.backoff,
                   cl_uint(options_.growth_interval));
  detail::Access::note_write(state_);
  ctx.enqueue_elementwise(k, 1);
  interrupted_ = false;
}

float LossScaler::scale() const {
  return state().scale;
}

std::int64_t LossScaler::skipped() const {
  return state().skipped;
}

LossScalerState LossScaler::state() const {
  const auto values = state_.to_host();
  LossScalerState s;
  s.scale = values[kScaleAt];
  s.finite_in_a_row = uint_of(values[kInARowAt]);
  s.skipped = uint_of(values[kSkippedAt]);
  return s;
}

void LossScaler::set_state(const LossScalerState& s) {
  check_positive(s.scale, "LossScaler: the scale");
  check_count(s.finite_in_a_row, "LossScaler: the finite steps in a row");
  check_count(s.skipped, "LossScaler: the steps skipped");
  std::vector<float> values(kScalerFloats, 0.0f);
  values[kScaleAt] = s.scale;
  values[kUnscaleAt] = 1.0f / s.scale;
  values[kInARowAt] = uint_bits(s.finite_in_a_row);
  values[kSkippedAt] = uint_bits(s.skipped);
  state_.write(values);
}

AdamOptions adamw(float lr, float weight_decay) {
  AdamOptions o;
  o.lr = lr;
  o.weight_decay = weight_decay;
  o.decoupled_weight_decay = true;
  return o;
}

}  // namespace clnn::optim
