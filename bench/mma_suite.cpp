// The mma suite (issue 20): what NVIDIA's tensor cores give an OpenCL kernel through inline
// mma.sync, rung by rung. Each rung is a probe kernel, not one of clnn's: the products alone
// (independent chains in registers: the ceiling), then their fragments read from local memory
// with 32-bit loads as clnn's tensor-core GEMMs read them (warp pieces of 64 x 32 and 64 x 64,
// and 64 x 64 with the next step's fragments loaded during the products), then a barrier and
// each work-item's staging stores every 16, 32 or 64 products a warp, as a GEMM's k-steps have
// them. TFLOP/s from the wall time of one long launch. Only where the device runs TF32 natively
// (compute capability 8.0 and up); elsewhere the suite says so and measures nothing.
#include <fmt/format.h>

#include <chrono>
#include <string>
#include <vector>

#include "bench.hpp"
#include "clnn/clnn.hpp"

namespace clnn::bench {

namespace {

// Every rung's kernel; the build options pick the precision (F16: m16n8k16 in fp16, else
// m16n8k8 in TF32), CHAINS (mma_alone), TILES (mma_local) and SUBSTEPS (mma_staged). The values
// multiplied are whatever the seed makes: only the time counts.
const char* kSource = R"CL(
#ifdef F16
#define MMA_ASM "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
#else
#define MMA_ASM "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 "
#endif
#ifndef CHAINS
#define CHAINS 8
#endif
#ifndef SUBSTEPS
#define SUBSTEPS 1
#endif
#ifndef TILES
#define TILES 4
#endif
inline void mma(float* d, const uint* a, const uint* b) {
  asm volatile(MMA_ASM "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};"
               : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(d[0]),
                 "f"(d[1]), "f"(d[2]), "f"(d[3]));
}
#define SUM_OUT(d, M, N)                                                              \
  float s = 0.0f;                                                                     \
  for (int m = 0; m < M; ++m)                                                         \
    for (int n = 0; n < N; ++n) s += d[m][n][0] + d[m][n][1] + d[m][n][2] + d[m][n][3]; \
  out[get_global_id(0)] = s;
// Fragments of a warp's piece of 64 rows by 8 * N columns at step i (a constant, 0 to 3, so
// that every address is a base plus a constant: the rungs are sensitive to each load's address
// arithmetic), from the `words` words of the tile at `from` (A's in the first half, B's in the
// second): rows of A in four 16-row tiles (4 words a lane), columns of B in N 8-column tiles (2
// words), 32-bit loads whose lanes fall in 32 banks.
#define LOAD_FROM(A, B, N, i, from, words)                                                       \
  {                                                                                              \
    const int at = (((i) & 3) * 8 + warp) * 256 + lane;                                          \
    _Pragma("unroll") for (int m = 0; m < 4; ++m) _Pragma("unroll") for (int e = 0; e < 4; ++e)   \
      A[m][e] = tile[(from) + ((at + m * 37 + e * 64) & ((words) / 2 - 1))];                     \
    _Pragma("unroll") for (int n = 0; n < N; ++n) _Pragma("unroll") for (int e = 0; e < 2; ++e)   \
      B[n][e] = tile[(from) + (words) / 2 + ((at + n * 41 + e * 64) & ((words) / 2 - 1))];       \
  }
#define LOAD(A, B, N, i) LOAD_FROM(A, B, N, i, 0, 8192)
#define PRODUCTS(A, B, N)                                                                 \
  _Pragma("unroll") for (int m = 0; m < 4; ++m) _Pragma("unroll") for (int n = 0; n < N; ++n) \
    mma(d[m][n], A[m], B[n]);
#define FILL_TILE                                                                  \
  __local uint4 tile4[2048]; /* uint4s: NVIDIA aligns a uint array to 4 bytes only */ \
  __local uint* tile = (__local uint*)tile4;                                       \
  const int lid = get_local_id(0), lane = lid & 31, warp = lid >> 5;               \
  for (int i = lid; i < 8192; i += get_local_size(0)) tile[i] = seed ^ i;          \
  barrier(CLK_LOCAL_MEM_FENCE);

__kernel void mma_alone(__global float* out, int steps, uint seed) {
  const uint a[4] = {seed, seed ^ 1u, seed ^ 2u, seed ^ 3u}, b[2] = {seed ^ 4u, seed ^ 5u};
  float d[1][CHAINS][4] = {0};
  for (int i = 0; i < steps; ++i) {
#pragma unroll
    for (int j = 0; j < CHAINS; ++j) mma(d[0][j], a, b);
  }
  SUM_OUT(d, 1, CHAINS)
}

// A warp's piece of 64 x 8 * TILES (4: 64 x 32, 8: 64 x 64), its fragments read each step. The
// addresses repeat every four steps and nothing writes the tile, so a compiler could keep the
// fragments in registers; NVIDIA's does not (this rung runs 15% under mma_alone, where hoisted
// loads would leave the products alone).
__kernel void mma_local(__global float* out, int steps, uint seed) {
  FILL_TILE
  float d[4][TILES][4] = {0};
  for (int i = 0; i < steps; i += 4) {
#pragma unroll
    for (int step = 0; step < 4; ++step) {
      uint a[4][4], b[TILES][2];
      LOAD(a, b, TILES, step)
      PRODUCTS(a, b, TILES)
    }
  }
  SUM_OUT(d, 4, TILES)
}

__kernel void mma_local64_ahead(__global float* out, int steps, uint seed) {
  FILL_TILE
  float d[4][8][4] = {0};
  uint a0[4][4], b0[8][2], a1[4][4], b1[8][2];
  LOAD(a0, b0, 8, 0)
  for (int i = 0; i < steps; i += 4) {
    LOAD(a1, b1, 8, 1)
    PRODUCTS(a0, b0, 8)
    LOAD(a0, b0, 8, 2)
    PRODUCTS(a1, b1, 8)
    LOAD(a1, b1, 8, 3)
    PRODUCTS(a0, b0, 8)
    LOAD(a0, b0, 8, 0)
    PRODUCTS(a1, b1, 8)
  }
  SUM_OUT(d, 4, 8)
}

// mma_local's steps in 64 x 32 pieces, SUBSTEPS of them between barriers, reading one half of
// the tile while every work-item of the 256 stores four float4s into the other (a GEMM's staged
// k-step), which the next step reads.
__kernel __attribute__((reqd_work_group_size(256, 1, 1)))
void mma_staged(__global float* out, int steps, uint seed) {
  FILL_TILE
  float d[4][4][4] = {0};
  for (int i = 0; i < steps; ++i) {
    const int read = (i & 1) ^ 1;
#pragma unroll
    for (int sub = 0; sub < SUBSTEPS; ++sub) {
      uint a[4][4], b[4][2];
      LOAD_FROM(a, b, 4, sub, read * 4096, 4096)
      PRODUCTS(a, b, 4)
    }
    __local float4* written = (__local float4*)(tile4 + (i & 1) * 1024);
    for (int l = 0; l < 4; ++l) written[l * 256 + lid] = (float4)(i + l, lid, 0.0f, 1.0f);
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  SUM_OUT(d, 4, 4)
}
)CL";

struct Rung {
  const char* kernel;
  bool f16;             // m16n8k16 in fp16, else m16n8k8 in TF32
  std::string defines;  // the kernel's other build options
  std::string what;
  int group;              // work-items a group
  int groups_per_unit;    // groups a compute unit
  int products_per_step;  // mma a warp per step of the kernel's loop

  std::string options() const { return (f16 ? "-DF16 " : "") + defines; }
};

// Seconds of one launch of `rung` (the fastest of three after a warm-up).
double launch_seconds(const Context& ctx, const Rung& rung, cl_mem out, int steps) {
  RawKernel kernel(ctx, kSource, rung.kernel, rung.options());
  kernel.set_arg(0, out);
  kernel.set_arg(1, steps);
  kernel.set_arg(2, cl_uint(12345));  // the seed
  const std::size_t local = std::size_t(rung.group);
  const std::size_t global = local * ctx.device().compute_units * std::size_t(rung.groups_per_unit);
  cl_command_queue queue = native_queue(ctx);
  double best = 0;
  for (int run = 0; run < 4; ++run) {  // the first warms up
    const auto start = std::chrono::steady_clock::now();
    check_cl(clEnqueueNDRangeKernel(queue, kernel.get(), 1, nullptr, &global, &local, 0, nullptr,
                                    nullptr),
             "clEnqueueNDRangeKernel");
    check_cl(clFinish(queue), "clFinish");
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (run == 1 || s < best) best = s;
  }
  return best;
}

}  // namespace

std::vector<Record> mma_suite(const Context& ctx, const Options&) {
  const DeviceInfo& device = ctx.device();
  if (!runs_natively(device, Precision::tf32)) {
    fmt::print(
        "mma: {} has no tensor cores clnn drives (NVIDIA, compute capability 8.0 and "
        "up): nothing measured\n",
        device.name);
    return {};
  }
  std::vector<Rung> rungs;
  for (const bool f16 : {false, true}) {
    rungs.push_back({"mma_alone", f16, "", "products alone (8 chains a warp)", 128, 4, 8});
    rungs.push_back({"mma_local", f16, "-DTILES=4", "fragments from local memory, 64 x 32 pieces",
                     256, 2, 16});
    rungs.push_back({"mma_local", f16, "-DTILES=8", "fragments from local memory, 64 x 64 pieces",
                     256, 1, 32});
    rungs.push_back({"mma_local64_ahead", f16, "",
                     "64 x 64, next fragments loaded during the products", 256, 1, 32});
  }
  for (const int substeps : {1, 2, 4})
    rungs.push_back(
        {"mma_staged", false, "-DSUBSTEPS=" + std::to_string(substeps),
         "64 x 32 and a barrier every " + std::to_string(16 * substeps) + " products a warp", 256,
         2, 16 * substeps});

  const int steps = 20000;
  Tensor out = Tensor::zeros(ctx, {std::int64_t(device.compute_units) * 4 * 256});
  fmt::print("{:>6}  {:<56}  {:>9}\n", "format", "rung", "TFLOP/s");
  std::vector<Record> records;
  for (const Rung& rung : rungs) {
    const double seconds = launch_seconds(ctx, rung, native_buffer(out), steps);
    const double warps = double(device.compute_units) * rung.groups_per_unit * rung.group / 32;
    const double flops_per_product = 2.0 * 16 * 8 * (rung.f16 ? 16 : 8);
    const double tflops =
        warps * steps * rung.products_per_step * flops_per_product / seconds * 1e-12;
    const char* format = rung.f16 ? "fp16" : "tf32";
    fmt::print("{:>6}  {:<56}  {:>9.1f}\n", format, rung.what, tflops);
    Record r;
    r["format"] = format;
    r["rung"] = rung.what;
    r["kernel"] = rung.kernel;
    r["tflops"] = tflops;
    records.push_back(r);
  }
  return records;
}

}  // namespace clnn::bench
