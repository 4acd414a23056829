// Context: creating the OpenCL context and queue for a selected device.
#include "context_impl.hpp"

#include <algorithm>
#include <mutex>
#include <set>
#include <utility>

#include "cl/kernel_call.hpp"
#include "log.hpp"
#include "ops/gemm.hpp"

namespace clnn {

namespace detail {

namespace {

cl_device_id find_device_id(const DeviceInfo& info) {
  auto platforms = platform_ids();
  if (info.platform_index < 0 || static_cast<std::size_t>(info.platform_index) >= platforms.size())
    throw Error("device " + info.label() + " is no longer present (platform index out of range)");
  auto devices = device_ids(platforms[static_cast<std::size_t>(info.platform_index)]);
  if (info.device_index < 0 || static_cast<std::size_t>(info.device_index) >= devices.size())
    throw Error("device " + info.label() + " is no longer present (device index out of range)");
  return devices[static_cast<std::size_t>(info.device_index)];
}

// The precision a context on `info` runs when asked for `wanted`: fp32 where the device does not
// run it natively, said once per device and precision (every context would repeat it).
Precision effective_precision(const DeviceInfo& info, Precision wanted) {
  if (runs_natively(info, wanted)) return wanted;
  static std::mutex mutex;
  static std::set<std::pair<std::string, Precision>> said;
  std::lock_guard<std::mutex> lock(mutex);
  if (said.insert({info.label(), wanted}).second)
    log_note(to_string(wanted) + " is not native on " + info.label() + ": it runs fp32 there");
  return Precision::fp32;
}

}  // namespace

void load_launch_plans(ContextImpl& ctx) {
  ctx.row_loops = ctx.planner.prefers_row_loops();
  ctx.elementwise_plan = ctx.planner.elementwise();
  ctx.reduction_plan = ctx.planner.reduction();
  if (!ctx.tuning) return;
  try {  // a malformed or unfit entry leaves the plan in force
    if (const auto* e = ctx.tuning->nearest(kElementwiseTuningKey, {})) {
      const ElementwisePlan tuned{e->at("local_size").get<std::size_t>(),
                                  e->at("max_groups").get<std::size_t>()};
      if (ctx.planner.fits(tuned)) ctx.elementwise_plan = tuned;
    }
    if (const auto* r = ctx.tuning->nearest(kReductionTuningKey, {})) {
      ReductionPlan tuned = ctx.reduction_plan;
      tuned.local_size = r->at("local_size").get<std::size_t>();
      tuned.max_groups = r->at("max_groups").get<std::size_t>();
      if (ctx.planner.fits(tuned)) ctx.reduction_plan = tuned;
    }
  } catch (const std::exception&) {
  }
}

ContextImpl::ContextImpl(const DeviceInfo& device_info, std::optional<Precision> asked)
    : info(device_info), planner(device_info), device(find_device_id(device_info)) {
  const Settings settings = Settings::from_environment();  // a wrong value fails here
  precision = effective_precision(info, asked.value_or(settings.precision));
  cl_int status = CL_SUCCESS;
  context = OwnedContext(clCreateContext(nullptr, 1, &device, nullptr, nullptr, &status));
  check(status, "clCreateContext");
  queue =
      OwnedQueue(clCreateCommandQueue(context.get(), device, CL_QUEUE_PROFILING_ENABLE, &status));
  check(status, "clCreateCommandQueue");
  programs = std::make_unique<ProgramCache>(context.get(), device, info,
                                            ProgramCache::default_disk_dir(settings.cache_dir));
  gemm_backend = settings.gemm;
  tf32_gemm = settings.tf32_gemm;
  conv_route = settings.conv;
  if (settings.tune != TuneMode::off)
    tuning = std::make_unique<TuningCache>(info, TuningCache::default_file(settings.cache_dir));
  tune_full = settings.tune == TuneMode::full;
  load_launch_plans(*this);
  log_info("using device " + info.label());
}

cl_kernel ContextImpl::kernel(const std::string& source_name, const std::string& kernel_name,
                              const std::string& options) {
  return kernel(programs->get(embedded_kernel_source(source_name), options), kernel_name);
}

cl_kernel ContextImpl::kernel(cl_program program, const std::string& kernel_name) {
  auto key = std::make_tuple(program, kernel_name, std::this_thread::get_id());
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = kernels_.find(key); it != kernels_.end()) return it->second.get();
  cl_int status = CL_SUCCESS;
  OwnedKernel k(clCreateKernel(program, kernel_name.c_str(), &status));
  check(status, ("clCreateKernel(" + kernel_name + ")").c_str());
  return kernels_.emplace(key, std::move(k)).first->second.get();
}

void ContextImpl::enqueue_elementwise(cl_kernel k, std::size_t n) {
  enqueue<1>(queue.get(), k, {elementwise_plan.global_size(n)}, {elementwise_plan.local_size});
}

void ContextImpl::enqueue_lines(cl_kernel k, std::size_t n, std::size_t private_bytes) {
  if (info.type != DeviceType::cpu) return enqueue_elementwise(k, n);
  const std::size_t units = std::max<std::size_t>(1, info.compute_units);
  const std::size_t most = private_bytes == 0
                               ? elementwise_plan.local_size
                               : std::clamp<std::size_t>(kCpuGroupPrivateBytes / private_bytes, 1,
                                                         elementwise_plan.local_size);
  // About kCpuLineWaves groups a unit or more, in whole waves where n allows: PoCL deals a
  // kernel's groups to its threads in equal shares of what is left, and a thread that slept through
  // the last launch joins tens of microseconds late, so that 2 or 3 groups on 2 threads left one
  // core idle for much of a short launch (a depthwise layer of 576 planes of 14 x 14: groups of
  // 246, 246 and 84).
  const std::size_t waves = std::max(kCpuLineWaves, (n + units * most - 1) / (units * most));
  const std::size_t groups = units * waves;
  const ElementwisePlan plan{std::max<std::size_t>(1, (n + groups - 1) / groups),
                             elementwise_plan.max_groups};
  enqueue<1>(queue.get(), k, {plan.global_size(n)}, {plan.local_size});
}

cl_mem ContextImpl::scratch(std::size_t floats) {
  const std::size_t bytes =
      checked_bytes(std::int64_t(std::max<std::size_t>(floats, 1)), sizeof(float), "scratch");
  if (LaunchRecording* r = active_recording()) return r->scratch().get(context.get(), info, bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  std::unique_ptr<Buffer>& mine = scratch_[std::this_thread::get_id()];
  if (!mine || mine->bytes() < bytes)
    mine = std::make_unique<Buffer>(context.get(), info, bytes, "scratch");
  return mine->mem();
}

bool ContextImpl::is_scratch(cl_mem mem) {
  if (LaunchRecording* r = active_recording()) return r->scratch().holds(mem);
  std::lock_guard<std::mutex> lock(mutex_);
  const auto mine = scratch_.find(std::this_thread::get_id());
  return mine != scratch_.end() && mine->second && mine->second->mem() == mem;
}

cl_mem ContextImpl::int_table(const std::vector<cl_int>& contents) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::unique_ptr<Buffer>& table = int_tables_[contents];
  if (!table) {
    auto made = std::make_unique<Buffer>(context.get(), info,
                                         std::max<std::size_t>(1, contents.size()) * sizeof(cl_int),
                                         "lookup table");
    if (!contents.empty()) {
      check(fault::injected(fault::Site::enqueue), "clEnqueueWriteBuffer");  // tests' seam
      check(clEnqueueWriteBuffer(queue.get(), made->mem(), CL_TRUE, 0,
                                 contents.size() * sizeof(cl_int), contents.data(), 0, nullptr,
                                 nullptr),
            "clEnqueueWriteBuffer");
    }
    table = std::move(made);
  }
  return table->mem();
}

}  // namespace detail

Context::Context(std::shared_ptr<detail::ContextImpl> impl) : impl_(std::move(impl)) {}

Context Context::create() {
  return create(detail::Settings::from_environment().device);
}

Context Context::create(const std::string& spec) {
  return create(select_device(spec));
}

Context Context::create(const DeviceInfo& device) {
  return Context(std::make_shared<detail::ContextImpl>(device, std::nullopt));
}

Context Context::create(Precision precision) {
  return create(detail::Settings::from_environment().device, precision);
}

Context Context::create(const std::string& spec, Precision precision) {
  return create(select_device(spec), precision);
}

Context Context::create(const DeviceInfo& device, Precision precision) {
  return Context(std::make_shared<detail::ContextImpl>(device, precision));
}

Precision Context::precision() const {
  return impl_->precision;
}

const DeviceInfo& Context::device() const {
  return impl_->info;
}

const LaunchPlanner& Context::planner() const {
  return impl_->planner;
}

void Context::finish() const {
  detail::check(clFinish(impl_->queue.get()), "clFinish");
}

cl_context native_context(const Context& ctx) {
  return detail::Access::impl(ctx).context.get();
}
cl_device_id native_device(const Context& ctx) {
  return detail::Access::impl(ctx).device;
}
cl_command_queue native_queue(const Context& ctx) {
  return detail::Access::impl(ctx).queue.get();
}

}  // namespace clnn
