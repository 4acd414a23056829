// GEMM on a CPU device through the host's BLAS: the operands' buffers mapped in place, one
// cblas_sgemm per batch entry, the buffers unmapped.
#include "ops/gemm_host.hpp"

#include <cblas.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "cl/fault.hpp"
#include "cl/launch_recording.hpp"
#include "cl/profiler.hpp"
#include "context_impl.hpp"

namespace clnn::detail {

namespace {

// The distinct buffers of a call mapped whole while it lives (A, B and C may share one: the
// memory plan's arena, scratch), C's for writing. Unmapped on the way out, also after a failure;
// the last unmapping's event goes to `event` when asked for.
class MappedOperands {
 public:
  MappedOperands(cl_command_queue queue, const GemmCall& g) : queue_(queue) {
    map(g.c, CL_MAP_READ | CL_MAP_WRITE);
    map(g.a, CL_MAP_READ);
    map(g.b, CL_MAP_READ);
  }
  ~MappedOperands() {
    for (const Mapping& m : mappings_)
      clEnqueueUnmapMemObject(queue_, m.mem, m.host, 0, nullptr, nullptr);
  }
  MappedOperands(const MappedOperands&) = delete;
  MappedOperands& operator=(const MappedOperands&) = delete;

  float* floats(cl_mem mem) const {
    for (const Mapping& m : mappings_)
      if (m.mem == mem) return static_cast<float*>(m.host);
    throw Error("host BLAS: an operand's buffer is not mapped");  // unreachable by construction
  }

  // Unmaps every buffer, C's last (its event, if asked for, follows the product).
  void unmap(cl_event* event) {
    while (!mappings_.empty()) {
      const Mapping m = mappings_.back();
      mappings_.pop_back();
      cl_int status = fault::injected(fault::Site::enqueue);
      if (status == CL_SUCCESS)
        status = clEnqueueUnmapMemObject(queue_, m.mem, m.host, 0, nullptr,
                                         mappings_.empty() ? event : nullptr);
      check(status, "clEnqueueUnmapMemObject");
    }
  }

 private:
  struct Mapping {
    cl_mem mem;
    void* host;
  };

  void map(cl_mem mem, cl_map_flags flags) {
    for (const Mapping& m : mappings_)
      if (m.mem == mem) return;
    std::size_t bytes = 0;
    check(clGetMemObjectInfo(mem, CL_MEM_SIZE, sizeof(bytes), &bytes, nullptr),
          "clGetMemObjectInfo");
    cl_int status = fault::injected(fault::Site::enqueue);
    void* host = nullptr;
    if (status == CL_SUCCESS)
      host =
          clEnqueueMapBuffer(queue_, mem, CL_TRUE, flags, 0, bytes, 0, nullptr, nullptr, &status);
    check(status, "clEnqueueMapBuffer");
    mappings_.push_back({mem, host});
  }

  cl_command_queue queue_;
  std::vector<Mapping> mappings_;
};

// The BLAS's threads: one per compute unit of the device, the cores its kernels run on, unless
// OPENBLAS_NUM_THREADS says otherwise. OpenBLAS would otherwise take OMP_NUM_THREADS, which
// containers often set to 1: on the GPU machine's 16-core Xeon it ran SGEMM on one core.
void match_threads(const ContextImpl& ctx) {
  if (std::getenv("OPENBLAS_NUM_THREADS")) return;
  const int units = int(std::max<std::uint32_t>(1, ctx.info.compute_units));
  if (openblas_get_num_threads() != units) openblas_set_num_threads(units);
}

}  // namespace

bool host_blas_serves(const ContextImpl& ctx, const GemmCall& call) {
  return ctx.info.type == DeviceType::cpu && !call.b_rows.taps;
}

bool host_blas_pays(const ContextImpl& ctx) {
  static const bool tuned_for_this_cpu = std::string(openblas_get_corename()) != "Prescott";
  return ctx.info.type == DeviceType::cpu && tuned_for_this_cpu;
}

bool host_blas_product_pays(const GemmCall& call) {
  return double(call.m) * double(call.n) * double(call.k) >= kMinHostBlasProduct;
}

void gemm_host_blas(ContextImpl& ctx, const GemmCall& g, cl_event* event) {
  if (!host_blas_serves(ctx, g)) throw Error("matmul: the host BLAS serves only CPU devices");
  check_int_indexable(g);  // cblas takes int sizes
  note_unrepeatable();     // a host call, out of a recording's sight
  match_threads(ctx);
  HostCallTimer timer("host_blas_gemm");
  MappedOperands mapped(ctx.queue.get(), g);
  const float* a = mapped.floats(g.a) + g.offset_a;
  const float* b = mapped.floats(g.b) + g.offset_b;
  float* c = mapped.floats(g.c) + g.offset_c;
  const auto ta = g.trans_a ? CblasTrans : CblasNoTrans;
  const auto tb = g.trans_b ? CblasTrans : CblasNoTrans;
  for (std::size_t i = 0; i < g.batch; ++i)
    cblas_sgemm(CblasRowMajor, ta, tb, int(g.m), int(g.n), int(g.k), g.alpha, a + i * g.stride_a,
                int(g.lda), b + i * g.stride_b, int(g.ldb), g.beta, c + i * g.stride_c, int(g.ldc));
  timer.finished();
  mapped.unmap(event);
}

}  // namespace clnn::detail
